import { readFile } from 'node:fs/promises';
import type { DMMF } from '@prisma/client/runtime/client';
import type { Database } from '../../src/db/client.js';

/**
 * The two sides of the schema comparison (test/db/schema-parity.test.ts for PostgreSQL,
 * test/e2e/embedded.test.ts for PGlite), reduced to one normalised shape:
 *
 * - shapeFromDmmf: what prisma/schema.prisma says the database should look like, read from
 *   Prisma's own DMMF (Prisma's schema WASM parses and validates the schema; only the mapping of
 *   Prisma types to the PostgreSQL types `prisma migrate` would render is ours);
 * - introspectDatabase: what a migrated PostgreSQL or PGlite database actually looks like.
 *
 * Both report tables, columns (PostgreSQL type as format_type() prints it, nullability), primary
 * keys, unique keys, plain indexes, foreign keys (with their ON DELETE / ON UPDATE actions) and
 * enums. Defaults, checks and partial indexes are deliberately out of scope. Anything the mapping does not understand is an error, never
 * skipped: a silently ignored type would make the parity check pass for the wrong reason.
 */

export interface ColumnShape {
  /** As PostgreSQL's format_type() prints it (`timestamp(3) without time zone`); enums by bare name. */
  type: string;
  nullable: boolean;
}

export interface TableShape {
  columns: Record<string, ColumnShape>;
  /** Key order as declared: it is the order of the index PostgreSQL builds. Empty when none. */
  primaryKey: string[];
  /** Unique keys other than the primary key, each in key order; the list itself is sorted. */
  uniques: string[][];
  /** Plain (non-unique, non-partial) indexes, each in key order; sorted. */
  indexes: string[][];
  /** Sorted. */
  foreignKeys: ForeignKeyShape[];
}

export interface ForeignKeyShape {
  columns: string[];
  /** The referenced table and its columns, in the same order. */
  table: string;
  references: string[];
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

export type ReferentialAction = 'Cascade' | 'Restrict' | 'NoAction' | 'SetNull' | 'SetDefault';

export interface SchemaShape {
  /** Keyed by database name (after @@map). */
  tables: Record<string, TableShape>;
  /** Enum name -> values in declaration order (which is PostgreSQL's sort order). */
  enums: Record<string, string[]>;
}

export type Datamodel = DMMF.Datamodel;

// ---------------------------------------------------------------------------------------------
// Prisma DMMF -> shape

/** Prisma's default PostgreSQL type for each scalar (what `prisma migrate` renders without @db.*). */
const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'integer', // @default(autoincrement()) makes it SERIAL, which is still integer
  BigInt: 'bigint',
  Boolean: 'boolean',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  Bytes: 'bytea',
};

/**
 * @db.* native types of the PostgreSQL connector, as format_type() reports the column Prisma
 * creates. Without arguments Prisma renders the bare SQL type, so PostgreSQL's own defaults apply
 * (CHAR is character(1), TIMESTAMP has no explicit precision).
 */
const NATIVE_TYPES: Record<string, (args: string[]) => string> = {
  Text: () => 'text',
  VarChar: ([n]) => (n === undefined ? 'character varying' : `character varying(${n})`),
  Char: ([n]) => `character(${n ?? 1})`,
  Uuid: () => 'uuid',
  Xml: () => 'xml',
  Inet: () => 'inet',
  Citext: () => 'citext',
  Boolean: () => 'boolean',
  Integer: () => 'integer',
  SmallInt: () => 'smallint',
  BigInt: () => 'bigint',
  Oid: () => 'oid',
  Real: () => 'real',
  DoublePrecision: () => 'double precision',
  Decimal: ([p, s]) => (p === undefined ? 'numeric' : `numeric(${p},${s ?? 0})`),
  Money: () => 'money',
  Timestamp: ([p]) => (p === undefined ? 'timestamp without time zone' : `timestamp(${p}) without time zone`),
  Timestamptz: ([p]) => (p === undefined ? 'timestamp with time zone' : `timestamp(${p}) with time zone`),
  Time: ([p]) => (p === undefined ? 'time without time zone' : `time(${p}) without time zone`),
  Timetz: ([p]) => (p === undefined ? 'time with time zone' : `time(${p}) with time zone`),
  Date: () => 'date',
  Json: () => 'json',
  JsonB: () => 'jsonb',
  ByteA: () => 'bytea',
  Bit: ([n]) => `bit(${n ?? 1})`,
  VarBit: ([n]) => (n === undefined ? 'bit varying' : `bit varying(${n})`),
};

/**
 * Reads schema.prisma text with Prisma's own parser and validator (offline, WASM): the datamodel
 * part of the DMMF, exactly what getDMMF() returns as `datamodel` (same validation and errors),
 * without the client's 4.8 MB of input types, which cost ten times as much CPU per parse.
 */
export async function readDatamodel(datamodel: string): Promise<Datamodel> {
  const { default: schemaWasm } = await import('@prisma/prisma-schema-wasm');
  let json: string;
  try {
    json = schemaWasm.get_datamodel(JSON.stringify({ prismaSchema: datamodel, noColor: true }));
  } catch (error) {
    // The WASM throws its error as JSON: {"error_code":"P1012","message":"error: ..."}.
    const text = String(error instanceof Error ? error.message : error);
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {}
    throw new Error(`Prisma rejects the schema: ${message}`);
  }
  return JSON.parse(json) as Datamodel;
}

export const readSchemaFile = () => readFile(new URL('../../prisma/schema.prisma', import.meta.url), 'utf8');

/** The normalised shape of the database a schema.prisma text describes. */
export async function parseSchema(source: string): Promise<SchemaShape> {
  return shapeFromDmmf(await readDatamodel(source));
}

/** Introspection queries through the app's own client (PostgreSQL or PGlite alike). */
export function viaPrisma(db: Database): RawQuery {
  return (sql) => db.prisma.$queryRawUnsafe<unknown[]>(sql);
}

/** The normalised shape of the database a DMMF datamodel describes. */
export function shapeFromDmmf(datamodel: Datamodel): SchemaShape {
  const enumNames = new Map(datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const models = new Map(datamodel.models.map((model) => [model.name, model]));
  const tableOf = (modelName: string) => {
    const model = models.get(modelName);
    if (!model) throw new Error(`unknown model ${modelName}`);
    return model.dbName ?? model.name;
  };
  const columnOfField = (modelName: string, fieldName: string) => {
    const field = models.get(modelName)?.fields.find((candidate) => candidate.name === fieldName);
    if (!field || field.kind === 'object') throw new Error(`${modelName} has no scalar field ${fieldName}`);
    return field.dbName ?? field.name;
  };
  const tables = datamodel.models.map((model): [string, TableShape] => {
    const where = (field: string) => `${model.name}.${field}`;
    const columnOf = new Map<string, string>();
    const columns: [string, ColumnShape][] = [];
    const singleUniques: string[][] = [];
    const foreignKeys: ForeignKeyShape[] = [];
    let primaryKey: string[] = [];
    for (const field of model.fields) {
      // Relation fields are the Prisma-side view of a foreign key: their columns are scalars. The
      // side that names `fields:` owns the constraint; Prisma's defaults are those of `migrate`.
      if (field.kind === 'object') {
        const from = field.relationFromFields ?? [];
        if (from.length === 0) continue;
        foreignKeys.push({
          columns: from.map((name) => columnOfField(model.name, name)),
          table: tableOf(field.type),
          references: (field.relationToFields ?? []).map((name) => columnOfField(field.type, name)),
          onDelete: referentialAction(field.relationOnDelete ?? (field.isRequired ? 'Restrict' : 'SetNull'), where(field.name)),
          onUpdate: referentialAction(field.relationOnUpdate ?? 'Cascade', where(field.name)),
        });
        continue;
      }
      if (field.kind !== 'scalar' && field.kind !== 'enum') throw new Error(`unsupported field kind ${field.kind} of ${where(field.name)}`);
      // Scalar lists would be PostgreSQL arrays; the project has none, so they are not modelled.
      if (field.isList) throw new Error(`scalar list ${where(field.name)} is not supported`);
      const column = field.dbName ?? field.name;
      columnOf.set(field.name, column);
      columns.push([column, { type: columnType(field, enumNames, where(field.name)), nullable: !field.isRequired }]);
      if (field.isId) primaryKey = [column];
      if (field.isUnique) singleUniques.push([column]);
    }
    const toColumns = (fields: readonly string[]) =>
      fields.map((field) => {
        const column = columnOf.get(field);
        if (column === undefined) throw new Error(`${model.name} has no scalar field ${field}`);
        return column;
      });
    if (model.primaryKey) primaryKey = toColumns(model.primaryKey.fields);
    const uniques = [...singleUniques, ...model.uniqueFields.map(toColumns)];
    const indexes = datamodel.indexes
      .filter((index) => index.model === model.name && index.type === 'normal')
      .map((index) => toColumns(index.fields.map((field) => field.name)));
    return [
      model.dbName ?? model.name,
      { columns: sortedRecord(columns), primaryKey, uniques: sortKeys(uniques), indexes: sortKeys(indexes), foreignKeys: sortKeys(foreignKeys) },
    ];
  });
  return {
    tables: sortedRecord(tables),
    enums: sortedRecord(datamodel.enums.map((e) => [e.dbName ?? e.name, e.values.map((value) => value.dbName ?? value.name)])),
  };
}

const ACTIONS: readonly ReferentialAction[] = ['Cascade', 'Restrict', 'NoAction', 'SetNull', 'SetDefault'];

function referentialAction(value: string, where: string): ReferentialAction {
  const action = ACTIONS.find((candidate) => candidate === value);
  if (!action) throw new Error(`unsupported referential action ${value} on ${where}`);
  return action;
}

function columnType(field: Datamodel['models'][number]['fields'][number], enumNames: Map<string, string>, where: string): string {
  if (field.kind === 'enum') {
    const name = enumNames.get(field.type);
    if (name === undefined) throw new Error(`unknown enum ${field.type} of ${where}`);
    if (field.nativeType) throw new Error(`native type on enum ${where}`);
    return name;
  }
  if (field.nativeType) {
    const [name, args] = field.nativeType as [string, string[]];
    const native = NATIVE_TYPES[name];
    if (!native) throw new Error(`unsupported native type @db.${name} on ${where}`);
    return native(args);
  }
  const type = SCALAR_TYPES[field.type];
  if (type === undefined) throw new Error(`unknown type ${field.type} of ${where}`);
  return type;
}

// ---------------------------------------------------------------------------------------------
// Database -> shape

/** Runs one SQL statement and returns its rows: Prisma's $queryRawUnsafe, pg, PGlite all fit. */
export type RawQuery = (sql: string) => Promise<unknown[]>;

// Prisma's own bookkeeping, not part of the data model.
const SCOPE = `n.nspname = 'public' AND c.relname <> '_prisma_migrations'`;

const TABLES_SQL = `
  SELECT c.relname AS "table"
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${SCOPE} AND c.relkind IN ('r', 'p')`;

// format_type() with the typmod is exact (varchar(32), timestamp(3)); enums are reported by bare
// name because format_type() quotes mixed-case names ("MemberStatus").
const COLUMNS_SQL = `
  SELECT c.relname AS "table", a.attname AS "column", NOT a.attnotnull AS "nullable",
    CASE
      WHEN t.typtype = 'e' THEN t.typname::text
      WHEN e.typtype = 'e' THEN e.typname || '[]'
      ELSE format_type(a.atttypid, a.atttypmod)
    END AS "type"
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type e ON t.typcategory = 'A' AND e.oid = t.typelem
  WHERE ${SCOPE} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`;

// Every primary key and unique constraint is backed by a unique index, and Prisma creates its
// uniques as bare CREATE UNIQUE INDEX, so pg_index covers all of them at once. Partial indexes
// (indpred) are skipped: Prisma cannot express them, migrations add them on purpose. Only key
// columns count (not INCLUDE ones); an expression key shows up as "(expr)" so it cannot match.
const UNIQUE_INDEXES_SQL = `
  SELECT c.relname AS "table", i.indisprimary AS "primary",
    (SELECT json_agg(CASE WHEN k.attnum = 0 THEN '(' || pg_get_indexdef(i.indexrelid, k.ord::int, true) || ')' ELSE a.attname::text END ORDER BY k.ord)
     FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE k.ord <= i.indnkeyatts) AS "columns"
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${SCOPE} AND (i.indisunique OR i.indisprimary) AND i.indpred IS NULL`;

// Plain indexes: not unique, not partial (migrations add partial ones on purpose; Prisma cannot
// express them). An expression key shows up as "(expr)" so it cannot match a declared one.
const PLAIN_INDEXES_SQL = `
  SELECT c.relname AS "table",
    (SELECT json_agg(CASE WHEN k.attnum = 0 THEN '(' || pg_get_indexdef(i.indexrelid, k.ord::int, true) || ')' ELSE a.attname::text END ORDER BY k.ord)
     FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE k.ord <= i.indnkeyatts) AS "columns"
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${SCOPE} AND NOT i.indisunique AND NOT i.indisprimary AND i.indpred IS NULL`;

const FOREIGN_KEYS_SQL = `
  SELECT c.relname AS "table", f.relname AS "references",
    (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(fk.conkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = fk.conrelid AND a.attnum = k.attnum) AS "columns",
    (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(fk.confkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = fk.confrelid AND a.attnum = k.attnum) AS "referencedColumns",
    fk.confdeltype::text AS "onDelete", fk.confupdtype::text AS "onUpdate"
  FROM pg_constraint fk
  JOIN pg_class c ON c.oid = fk.conrelid
  JOIN pg_class f ON f.oid = fk.confrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${SCOPE} AND fk.contype = 'f'`;

/** pg_constraint's one-letter actions. */
const PG_ACTIONS: Record<string, ReferentialAction> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

const ENUMS_SQL = `
  SELECT t.typname AS "name",
    coalesce((SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '[]'::json) AS "values"
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname = 'public' AND t.typtype = 'e'`;

/**
 * Rows come back as one JSON text value, so that no driver or Prisma adapter gets to convert
 * PostgreSQL types (name, int2vector, arrays) in its own way.
 */
async function rows<T>(query: RawQuery, sql: string): Promise<T[]> {
  const result = await query(`SELECT coalesce(json_agg(r), '[]'::json)::text AS "json" FROM (${sql}) r`);
  const first = result[0] as { json?: unknown } | undefined;
  if (typeof first?.json !== 'string') throw new Error(`introspection returned no JSON: ${JSON.stringify(result)}`);
  return JSON.parse(first.json) as T[];
}

/** The normalised shape of the `public` schema of a migrated database. */
export async function introspectDatabase(query: RawQuery): Promise<SchemaShape> {
  const tableRows = await rows<{ table: string }>(query, TABLES_SQL);
  const columnRows = await rows<{ table: string; column: string; type: string; nullable: boolean }>(query, COLUMNS_SQL);
  const indexRows = await rows<{ table: string; primary: boolean; columns: string[] }>(query, UNIQUE_INDEXES_SQL);
  const plainRows = await rows<{ table: string; columns: string[] }>(query, PLAIN_INDEXES_SQL);
  const fkRows = await rows<{ table: string; references: string; columns: string[]; referencedColumns: string[]; onDelete: string; onUpdate: string }>(
    query,
    FOREIGN_KEYS_SQL,
  );
  const enumRows = await rows<{ name: string; values: string[] }>(query, ENUMS_SQL);

  const tables = new Map<
    string,
    { columns: [string, ColumnShape][]; primaryKey: string[]; uniques: string[][]; indexes: string[][]; foreignKeys: ForeignKeyShape[] }
  >(tableRows.map(({ table }) => [table, { columns: [], primaryKey: [], uniques: [], indexes: [], foreignKeys: [] }]));
  const tableOf = (name: string) => {
    const table = tables.get(name);
    if (!table) throw new Error(`introspection: unknown table ${name}`);
    return table;
  };
  for (const row of columnRows) tableOf(row.table).columns.push([row.column, { type: row.type, nullable: row.nullable }]);
  for (const row of indexRows) {
    const table = tableOf(row.table);
    if (row.primary) table.primaryKey = row.columns;
    else table.uniques.push(row.columns);
  }
  for (const row of plainRows) tableOf(row.table).indexes.push(row.columns);
  for (const row of fkRows) {
    const action = (code: string) => {
      const known = PG_ACTIONS[code];
      if (!known) throw new Error(`introspection: unknown referential action ${code}`);
      return known;
    };
    tableOf(row.table).foreignKeys.push({
      columns: row.columns,
      table: row.references,
      references: row.referencedColumns,
      onDelete: action(row.onDelete),
      onUpdate: action(row.onUpdate),
    });
  }
  return {
    tables: sortedRecord(
      [...tables].map(([name, table]) => [
        name,
        {
          columns: sortedRecord(table.columns),
          primaryKey: table.primaryKey,
          uniques: sortKeys(table.uniques),
          indexes: sortKeys(table.indexes),
          foreignKeys: sortKeys(table.foreignKeys),
        },
      ]),
    ),
    enums: sortedRecord(enumRows.map(({ name, values }) => [name, values])),
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic ordering, so that diffs line up (code-unit order, not locale order).

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedRecord<T>(entries: [string, T][]): Record<string, T> {
  return Object.fromEntries([...entries].sort(([a], [b]) => compare(a, b)));
}

/** Sorts a list of keys (each kept in its own column order) or of foreign keys. */
function sortKeys<T>(keys: T[]): T[] {
  return [...keys].sort((a, b) => compare(JSON.stringify(a), JSON.stringify(b)));
}
