/**
 * The two sides of test/db/schema-parity.test.ts, reduced to one normalised shape:
 *
 * - parsePrismaSchema: what prisma/schema.prisma says the database should look like, for the
 *   subset of the Prisma schema language this project uses (Prisma's schema engine, which would
 *   normally tell us, cannot be downloaded here);
 * - introspectDatabase: what a migrated PostgreSQL or PGlite database actually looks like.
 *
 * Both report tables, columns (PostgreSQL type as format_type() prints it, nullability), primary
 * keys, unique keys and enums. Defaults, foreign keys, plain indexes, checks and partial indexes
 * are deliberately out of scope. Anything the parser does not understand is an error, never
 * skipped: a silently ignored attribute would make the parity check pass for the wrong reason.
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
}

export interface SchemaShape {
  /** Keyed by database name (after @@map). */
  tables: Record<string, TableShape>;
  /** Enum name -> values in declaration order (which is PostgreSQL's sort order). */
  enums: Record<string, string[]>;
}

export class PrismaSchemaError extends Error {
  constructor(line: number, message: string) {
    super(`schema.prisma:${line}: ${message}`);
    this.name = 'PrismaSchemaError';
  }
}

// ---------------------------------------------------------------------------------------------
// Prisma schema -> shape

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
const NATIVE_TYPES: Record<string, (args: number[]) => string> = {
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

interface Line {
  text: string;
  no: number;
}

interface Block {
  kind: 'model' | 'enum' | 'generator' | 'datasource';
  name: string;
  line: number;
  body: Line[];
}

interface Attribute {
  /** Without the leading @ or @@: `id`, `unique`, `db.VarChar`, ... */
  name: string;
  args: string[];
}

/** Cuts a `//` or `///` comment off a line, leaving `//` inside string literals alone. */
function stripComment(text: string, no: number): string {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === '/' && text[i + 1] === '/') {
      return text.slice(0, i);
    }
  }
  if (inString) throw new PrismaSchemaError(no, 'unterminated string literal');
  return text;
}

/** Splits the file into top-level blocks; block bodies are kept as trimmed, comment-free lines. */
function splitBlocks(source: string): Block[] {
  const blocks: Block[] = [];
  let current: Block | null = null;
  for (const [index, raw] of source.split(/\r?\n/).entries()) {
    const no = index + 1;
    const text = stripComment(raw, no).trim();
    if (text === '') continue;
    if (current) {
      if (text === '}') {
        blocks.push(current);
        current = null;
      } else if (text.includes('{') || text.includes('}')) {
        // Prisma's formatter puts every field on its own line; anything else is beyond this parser.
        throw new PrismaSchemaError(no, `unexpected brace in ${current.kind} ${current.name}: ${text}`);
      } else {
        current.body.push({ text, no });
      }
      continue;
    }
    const open = /^(\w+)\s+(\w+)\s*\{$/.exec(text);
    if (!open) throw new PrismaSchemaError(no, `expected a block (model, enum, generator, datasource), got: ${text}`);
    const [, kind = '', name = ''] = open;
    if (kind !== 'model' && kind !== 'enum' && kind !== 'generator' && kind !== 'datasource') {
      throw new PrismaSchemaError(no, `unsupported block kind "${kind}" (only model, enum, generator, datasource)`);
    }
    current = { kind, name, line: no, body: [] };
  }
  if (current) throw new PrismaSchemaError(current.line, `${current.kind} ${current.name} is never closed`);
  return blocks;
}

/**
 * Reads from `start` (an opening bracket or parenthesis) to its matching close, skipping string
 * literals; returns the index just past the close.
 */
function skipBalanced(text: string, start: number, no: number): number {
  const stack: string[] = [];
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      continue;
    }
    if (ch === '(' || ch === '[') stack.push(ch === '(' ? ')' : ']');
    else if (ch === ')' || ch === ']') {
      if (stack.pop() !== ch) throw new PrismaSchemaError(no, `mismatched "${ch}" in: ${text}`);
      if (stack.length === 0) return i + 1;
    }
  }
  throw new PrismaSchemaError(no, `unbalanced brackets in: ${text}`);
}

/** Splits an argument list on its top-level commas (not those inside strings, [] or ()). */
function splitArgs(inner: string, no: number): string[] {
  const args: string[] = [];
  let from = 0;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (ch === '"' || ch === '(' || ch === '[') {
      i = (ch === '"' ? skipString(inner, i, no) : skipBalanced(inner, i, no)) - 1;
    } else if (ch === ',') {
      args.push(inner.slice(from, i).trim());
      from = i + 1;
    }
  }
  const last = inner.slice(from).trim();
  if (last !== '' || args.length > 0) args.push(last);
  return args;
}

function skipString(text: string, start: number, no: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  throw new PrismaSchemaError(no, `unterminated string literal in: ${text}`);
}

/** Parses `@a @b(x, y: z) @db.VarChar(3)` (or the `@@` form) into attributes with raw arguments. */
function parseAttributes(text: string, prefix: '@' | '@@', no: number): Attribute[] {
  const attributes: Attribute[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i] ?? '')) {
      i++;
      continue;
    }
    const head = new RegExp(`^${prefix}(?!@)([A-Za-z_][\\w]*(?:\\.[A-Za-z_]\\w*)?)`).exec(text.slice(i));
    if (!head) throw new PrismaSchemaError(no, `expected a ${prefix} attribute at "${text.slice(i)}"`);
    const name = head[1] ?? '';
    i += head[0].length;
    let args: string[] = [];
    if (text[i] === '(') {
      const end = skipBalanced(text, i, no);
      args = splitArgs(text.slice(i + 1, end - 1), no);
      i = end;
    }
    attributes.push({ name, args });
  }
  return attributes;
}

/** The value of a positional argument (index among positional ones) or of `name:`. */
function argument(attribute: Attribute, position: number, name: string): string | undefined {
  const named = attribute.args.map((arg) => new RegExp(`^${name}\\s*:\\s*([\\s\\S]*)$`).exec(arg)).find((match) => match !== null);
  if (named) return named[1];
  return attribute.args.filter((arg) => !/^\w+\s*:/.test(arg))[position];
}

function parseString(value: string | undefined, no: number): string {
  if (value === undefined || !/^"(?:[^"\\]|\\.)*"$/.test(value)) throw new PrismaSchemaError(no, `expected a string literal, got: ${value}`);
  return JSON.parse(value) as string;
}

/** `[a, b(sort: Desc), c(length: 10)]` -> field names; sort and length do not change which columns. */
function parseFieldList(value: string | undefined, no: number): string[] {
  const list = value === undefined ? null : /^\[([\s\S]*)\]$/.exec(value);
  if (!list) throw new PrismaSchemaError(no, `expected a field list like [a, b], got: ${value}`);
  return splitArgs(list[1] ?? '', no).map((item) => {
    const field = /^(\w+)(?:\(.*\))?$/.exec(item);
    if (!field?.[1]) throw new PrismaSchemaError(no, `cannot read field "${item}" in ${value}`);
    return field[1];
  });
}

function parseInts(attribute: Attribute, no: number): number[] {
  return attribute.args.map((arg) => {
    if (!/^\d+$/.test(arg)) throw new PrismaSchemaError(no, `@${attribute.name} expects integer arguments, got: ${arg}`);
    return Number(arg);
  });
}

function parseEnum(block: Block): { name: string; values: string[] } {
  let name = block.name;
  const values: string[] = [];
  for (const { text, no } of block.body) {
    if (text.startsWith('@@')) {
      for (const attribute of parseAttributes(text, '@@', no)) {
        if (attribute.name !== 'map') throw new PrismaSchemaError(no, `unsupported enum attribute @@${attribute.name}`);
        name = parseString(argument(attribute, 0, 'name'), no);
      }
      continue;
    }
    const value = /^(\w+)\s*(.*)$/.exec(text);
    if (!value) throw new PrismaSchemaError(no, `cannot parse enum value: ${text}`);
    let dbValue = value[1] ?? '';
    for (const attribute of parseAttributes(value[2] ?? '', '@', no)) {
      if (attribute.name !== 'map') throw new PrismaSchemaError(no, `unsupported enum value attribute @${attribute.name}`);
      dbValue = parseString(argument(attribute, 0, 'name'), no);
    }
    values.push(dbValue);
  }
  return { name, values };
}

interface ModelContext {
  models: Set<string>;
  /** Prisma enum name -> database type name. */
  enums: Map<string, string>;
}

function parseModel(block: Block, context: ModelContext): { name: string; table: TableShape } {
  let tableName = block.name;
  const columns = new Map<string, ColumnShape>();
  /** Prisma field name -> column name, for resolving @@id/@@unique/@@index. */
  const fieldColumns = new Map<string, string>();
  const relationFields = new Set<string>();
  // The cast keeps TypeScript from narrowing to null: setPrimaryKey assigns it from a closure.
  let primaryKey = null as { fields: string[]; no: number } | null;
  const uniques: { fields: string[]; no: number }[] = [];
  const indexes: { fields: string[]; no: number }[] = [];

  const setPrimaryKey = (fields: string[], no: number) => {
    if (primaryKey) throw new PrismaSchemaError(no, `model ${block.name} declares its primary key twice`);
    primaryKey = { fields, no };
  };

  for (const { text, no } of block.body) {
    if (text.startsWith('@@')) {
      for (const attribute of parseAttributes(text, '@@', no)) {
        switch (attribute.name) {
          case 'id':
            setPrimaryKey(parseFieldList(argument(attribute, 0, 'fields'), no), no);
            break;
          case 'unique':
            uniques.push({ fields: parseFieldList(argument(attribute, 0, 'fields'), no), no });
            break;
          case 'index':
            // Plain indexes are out of scope, but their fields are still checked to exist.
            indexes.push({ fields: parseFieldList(argument(attribute, 0, 'fields'), no), no });
            break;
          case 'map':
            tableName = parseString(argument(attribute, 0, 'name'), no);
            break;
          default:
            throw new PrismaSchemaError(no, `unsupported model attribute @@${attribute.name} in ${block.name}`);
        }
      }
      continue;
    }

    const field = /^(\w+)\s+(\w+)(\?|\[\])?(.*)$/.exec(text);
    if (!field) throw new PrismaSchemaError(no, `cannot parse field in ${block.name}: ${text}`);
    const [, fieldName = '', typeName = '', modifier, rest = ''] = field;
    if (rest !== '' && !/^\s/.test(rest)) throw new PrismaSchemaError(no, `cannot parse field type in ${block.name}: ${text}`);
    const attributes = parseAttributes(rest, '@', no);
    if (fieldColumns.has(fieldName) || relationFields.has(fieldName)) throw new PrismaSchemaError(no, `field ${block.name}.${fieldName} declared twice`);

    // A field whose type is a model is the Prisma-side view of a foreign key (or its back
    // reference): the column, if any, is the scalar named in @relation(fields: ...).
    if (context.models.has(typeName)) {
      const unexpected = attributes.find((attribute) => attribute.name !== 'relation');
      if (unexpected) throw new PrismaSchemaError(no, `unsupported attribute @${unexpected.name} on relation field ${block.name}.${fieldName}`);
      relationFields.add(fieldName);
      continue;
    }
    if (modifier === '[]') {
      // Scalar lists would be PostgreSQL arrays; the project has none, so they are not modelled.
      throw new PrismaSchemaError(no, `scalar list ${block.name}.${fieldName} ${typeName}[] is not supported by this parser`);
    }

    const enumName = context.enums.get(typeName);
    let type = enumName ?? SCALAR_TYPES[typeName];
    if (type === undefined) throw new PrismaSchemaError(no, `unknown type ${typeName} of ${block.name}.${fieldName}`);
    let columnName = fieldName;
    let nativeType = false;
    for (const attribute of attributes) {
      if (attribute.name.startsWith('db.')) {
        const native = NATIVE_TYPES[attribute.name.slice(3)];
        if (!native || enumName !== undefined) throw new PrismaSchemaError(no, `unsupported native type @${attribute.name} on ${block.name}.${fieldName}`);
        if (nativeType) throw new PrismaSchemaError(no, `two native types on ${block.name}.${fieldName}`);
        nativeType = true;
        type = native(parseInts(attribute, no));
        continue;
      }
      switch (attribute.name) {
        case 'id':
          setPrimaryKey([fieldName], no);
          break;
        case 'unique':
          uniques.push({ fields: [fieldName], no });
          break;
        case 'map':
          columnName = parseString(argument(attribute, 0, 'name'), no);
          break;
        case 'default':
        case 'updatedAt':
          // Defaults are out of scope; @updatedAt is set by the client, not the database.
          break;
        default:
          throw new PrismaSchemaError(no, `unsupported field attribute @${attribute.name} on ${block.name}.${fieldName}`);
      }
    }
    if ([...fieldColumns.values()].includes(columnName)) throw new PrismaSchemaError(no, `column ${tableName}.${columnName} mapped twice`);
    fieldColumns.set(fieldName, columnName);
    columns.set(columnName, { type, nullable: modifier === '?' });
  }

  const toColumns = (fields: string[], no: number): string[] =>
    fields.map((field) => {
      const column = fieldColumns.get(field);
      if (column === undefined) throw new PrismaSchemaError(no, `${block.name} has no scalar field ${field}`);
      return column;
    });
  for (const index of indexes) toColumns(index.fields, index.no);
  return {
    name: tableName,
    table: {
      columns: sortedRecord([...columns]),
      primaryKey: primaryKey ? toColumns(primaryKey.fields, primaryKey.no) : [],
      uniques: sortKeys(uniques.map((unique) => toColumns(unique.fields, unique.no))),
    },
  };
}

/** Parses schema.prisma text into the normalised shape of the database it describes. */
export function parsePrismaSchema(source: string): SchemaShape {
  const blocks = splitBlocks(source);
  const seen = new Set<string>();
  for (const block of blocks) {
    if (block.kind !== 'model' && block.kind !== 'enum') continue;
    if (seen.has(block.name)) throw new PrismaSchemaError(block.line, `${block.name} is declared twice`);
    seen.add(block.name);
  }

  // Enums first: models may use an enum declared further down, and its @@map decides the type name.
  const enums = blocks.filter((block) => block.kind === 'enum').map((block) => ({ prismaName: block.name, ...parseEnum(block) }));
  const context: ModelContext = {
    models: new Set(blocks.filter((block) => block.kind === 'model').map((block) => block.name)),
    enums: new Map(enums.map(({ prismaName, name }) => [prismaName, name])),
  };
  const tables = blocks.filter((block) => block.kind === 'model').map((block) => parseModel(block, context));
  return {
    tables: sortedRecord(tables.map(({ name, table }) => [name, table])),
    enums: sortedRecord(enums.map(({ name, values }) => [name, values])),
  };
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
  const enumRows = await rows<{ name: string; values: string[] }>(query, ENUMS_SQL);

  const tables = new Map<string, { columns: [string, ColumnShape][]; primaryKey: string[]; uniques: string[][] }>(
    tableRows.map(({ table }) => [table, { columns: [], primaryKey: [], uniques: [] }]),
  );
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
  return {
    tables: sortedRecord(
      [...tables].map(([name, table]) => [name, { columns: sortedRecord(table.columns), primaryKey: table.primaryKey, uniques: sortKeys(table.uniques) }]),
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

/** Sorts a list of keys (each kept in its own column order). */
function sortKeys(keys: string[][]): string[][] {
  return [...keys].sort((a, b) => compare(JSON.stringify(a), JSON.stringify(b)));
}
