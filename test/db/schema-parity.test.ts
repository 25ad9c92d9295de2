import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { introspectDatabase, parseSchema, readSchemaFile, type SchemaShape, viaPrisma } from '../support/schema-shape.js';

/**
 * The migrations are written by hand (Prisma's schema engine cannot be downloaded here), so
 * nothing else checks that they build the database schema.prisma describes. This test reads the
 * schema with Prisma's own parser (its schema WASM, as getDMMF does), migrates real PostgreSQL,
 * introspects it and compares tables, columns, types, nullability, primary and unique keys,
 * plain indexes, foreign keys with their actions, and enums. The embedded PGlite gets the same
 * comparison in test/e2e/embedded.test.ts, on the database `npm start` migrated there: a PGlite
 * of its own here would cost a second initdb in WebAssembly (~4 s of CPU) for the same question.
 */

let schemaText: string;
let declared: SchemaShape;
let postgres: TestDatabase | undefined;
let postgresShape: SchemaShape;

beforeAll(async () => {
  schemaText = await readSchemaFile();
  declared = await parseSchema(schemaText);
  // A fresh migrate, not a copy of the run's template: the migrations themselves are under test.
  postgres = await createTestDatabase({ migrate: 'fresh' });
  postgresShape = await introspectDatabase(viaPrisma(postgres));
});

afterAll(async () => {
  await postgres?.drop();
});

describe('schema.prisma and the migrations', () => {
  it('parse into a non-trivial schema (so that an empty comparison cannot pass)', () => {
    expect(Object.keys(declared.tables)).toEqual(expect.arrayContaining(['Member', 'LedgerEntry', 'LotAllocation', 'Purchase', 'ChatSession']));
    expect(declared.tables.LotAllocation?.primaryKey).toEqual(['entryId', 'lotId']);
    expect(declared.tables.Purchase?.uniques).toContainEqual(['storeId', 'receiptNo']);
    expect(declared.tables.Member?.columns.birthday).toEqual({ type: 'date', nullable: true });
    expect(declared.enums.EntryType).toContain('EXPIRE');
    expect(declared.tables.DomainEvent?.indexes).toContainEqual(['status', 'createdAt']);
    expect(declared.tables.BroadcastHoldout?.foreignKeys).toContainEqual({
      columns: ['broadcastId'],
      table: 'Broadcast',
      references: ['id'],
      onDelete: 'Cascade',
      onUpdate: 'Cascade',
    });
    expect(Object.keys(postgresShape.tables).length).toBeGreaterThan(0);
    expect(Object.keys(postgresShape.enums).length).toBeGreaterThan(0);
  });

  it('agree on PostgreSQL', () => {
    expect(postgresShape).toEqual(declared);
  });
});

describe('the comparison catches drift', () => {
  // Each edit must change the parsed schema in a way the migrated database no longer matches.
  const edits: { drift: string; edit: (schema: string) => string }[] = [
    { drift: 'a required column made optional', edit: (s) => s.replace(/^(\s*locale\s+)String(\s)/m, '$1String?$2') },
    { drift: 'an optional column made required', edit: (s) => s.replace(/^(\s*tier\s+)String\?/m, '$1String ') },
    { drift: 'a unique removed', edit: (s) => s.replace(/^(\s*phone\s+String\?\s+)@unique/m, '$1') },
    { drift: 'a composite unique removed', edit: (s) => s.replace(/^\s*@@unique\(\[storeId, receiptNo\]\)\n/m, '') },
    { drift: 'a composite primary key reordered', edit: (s) => s.replace('@@id([entryId, lotId])', '@@id([lotId, entryId])') },
    { drift: 'a native type dropped', edit: (s) => s.replace(/^(\s*birthday\s+DateTime\?\s+)@db\.Date/m, '$1') },
    { drift: 'a column type changed', edit: (s) => s.replace(/^(\s*amountMinor\s+)BigInt/m, '$1Int   ') },
    { drift: 'a column renamed with @map', edit: (s) => s.replace(/^(\s*requestHash\s+String)(\s*)$/m, '$1 @map("request_hash")$2') },
    { drift: 'an enum value added', edit: (s) => s.replace(/^(\s*)CLOSE$/m, '$1CLOSE\n$1VOID') },
    { drift: 'a table renamed with @@map', edit: (s) => s.replace(/^(model AuditLog \{\n)/m, '$1  @@map("audit_log")\n') },
    { drift: 'a model added', edit: (s) => `${s}\nmodel Extra {\n  id Int @id\n}\n` },
    { drift: 'an index removed', edit: (s) => s.replace(/^\s*@@index\(\[status, createdAt\]\)\n/m, '') },
    { drift: 'an index added', edit: (s) => s.replace(/^(\s*)@@index\(\[status, createdAt\]\)$/m, '$1@@index([status, createdAt])\n$1@@index([attempts])') },
    { drift: 'an ON DELETE action changed', edit: (s) => s.replace('references: [id], onDelete: Cascade)', 'references: [id], onDelete: SetNull)') },
    {
      drift: 'a relation (foreign key) removed',
      // Both sides go: Prisma refuses a relation field without its opposite.
      edit: (s) =>
        s
          .replace(/^\s*broadcast Broadcast\? @relation\(fields: \[broadcastId\], references: \[id\]\)\n/m, '')
          .replace(/(^model Broadcast \{[\s\S]*?)^\s*deliveries\s+Delivery\[\]\n/m, '$1'),
    },
  ];

  it.each(edits)('$drift', async ({ edit }) => {
    const edited = edit(schemaText);
    // Guards the test itself: if schema.prisma changed so that the pattern no longer matches, say so.
    expect(edited, 'the edit did not apply to schema.prisma').not.toBe(schemaText);
    const shape = await parseSchema(edited);
    expect(shape).not.toEqual(declared);
    expect(shape).not.toEqual(postgresShape);
  });

  it('sees a unique index, a foreign key and an index dropped and a NOT NULL relaxed in the database', async () => {
    if (!postgres) throw new Error('PostgreSQL was not set up');
    // One connection, so that the drift stays inside a transaction that is rolled back.
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('DROP INDEX "Member_phone_key"');
      await client.query('ALTER TABLE "Member" ALTER COLUMN "locale" DROP NOT NULL');
      await client.query('ALTER TABLE "Member" ALTER COLUMN "tier" TYPE varchar(16)');
      await client.query('ALTER TABLE "Delivery" DROP CONSTRAINT "Delivery_memberId_fkey"');
      await client.query('DROP INDEX "Delivery_memberId_idx"');
      const drifted = await introspectDatabase(async (sql) => (await client.query(sql)).rows);
      expect(drifted).not.toEqual(declared);
      expect(drifted.tables.Member?.uniques).not.toContainEqual(['phone']);
      expect(drifted.tables.Member?.columns.locale).toEqual({ type: 'text', nullable: true });
      expect(drifted.tables.Member?.columns.tier).toEqual({ type: 'character varying(16)', nullable: true });
      expect(drifted.tables.Delivery?.foreignKeys.map((fk) => fk.columns)).not.toContainEqual(['memberId']);
      expect(drifted.tables.Delivery?.indexes).not.toContainEqual(['memberId']);
    } finally {
      await client.query('ROLLBACK');
      await client.end();
    }
    expect(await introspectDatabase(viaPrisma(postgres))).toEqual(declared);
  });

  it('ignores partial unique indexes, which Prisma cannot express', async () => {
    if (!postgres) throw new Error('PostgreSQL was not set up');
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE UNIQUE INDEX "Member_name_active_key" ON "Member"("name") WHERE "deletedAt" IS NULL');
      expect(await introspectDatabase(async (sql) => (await client.query(sql)).rows)).toEqual(declared);
      await client.query('CREATE UNIQUE INDEX "Member_name_key" ON "Member"("name")');
      expect((await introspectDatabase(async (sql) => (await client.query(sql)).rows)).tables.Member?.uniques).toContainEqual(['name']);
    } finally {
      await client.query('ROLLBACK');
      await client.end();
    }
  });
});

describe('shapeFromDmmf', () => {
  it('handles @map, @@map, native types, composite keys, relations and comments', async () => {
    const source = `
      datasource db {
        provider = "postgresql"
      }

      /// A doc comment.
      enum Colour {
        RED   @map("red") // trailing comment
        GREEN
        @@map("colour")
      }

      model Owner {
        id    BigInt  @id @default(autoincrement())
        pets  Pet[]
      }

      model Pet {
        ownerId  BigInt  @map("owner_id")
        name     String  @db.VarChar(32)
        url      String? @default("https://example.com//x") // "//" inside a string is not a comment
        colour   Colour  @default(RED)
        bornOn   DateTime @db.Date
        seenAt   DateTime? @db.Timestamptz(3)
        price    Decimal
        owner    Owner   @relation(fields: [ownerId], references: [id])

        @@id([ownerId, name])
        @@unique(fields: [name, colour], name: "nameColour")
        @@index([colour])
        @@map("pets")
      }
    `;
    expect(await parseSchema(source)).toEqual({
      enums: { colour: ['red', 'GREEN'] },
      tables: {
        Owner: { columns: { id: { type: 'bigint', nullable: false } }, primaryKey: ['id'], uniques: [], indexes: [], foreignKeys: [] },
        pets: {
          columns: {
            owner_id: { type: 'bigint', nullable: false },
            name: { type: 'character varying(32)', nullable: false },
            url: { type: 'text', nullable: true },
            colour: { type: 'colour', nullable: false },
            bornOn: { type: 'date', nullable: false },
            seenAt: { type: 'timestamp(3) with time zone', nullable: true },
            price: { type: 'numeric(65,30)', nullable: false },
          },
          primaryKey: ['owner_id', 'name'],
          uniques: [['name', 'colour']],
          indexes: [['colour']],
          foreignKeys: [{ columns: ['owner_id'], table: 'Owner', references: ['id'], onDelete: 'Restrict', onUpdate: 'Cascade' }],
        },
      },
    });
  });

  const datasource = 'datasource db {\n  provider = "postgresql"\n}\n';
  it.each([
    ['an unknown type (Prisma rejects it)', 'model M {\n  id Uuid @id\n}', /neither a built-in type/],
    ['a key on a missing field (Prisma rejects it)', 'model M {\n  id Int @id\n  @@unique([id, nope])\n}', /nope/],
    ['a scalar list', 'model M {\n  id Int @id\n  tags String[]\n}', /scalar list M.tags/],
  ])('rejects %s', async (_, source, message) => {
    await expect(parseSchema(datasource + source)).rejects.toThrow(message);
  });

  it('leaves an Unsupported() column out, so that the database column it stands for shows as drift', async () => {
    const shape = await parseSchema(`${datasource}model M {\n  id Int @id\n  g Unsupported("geometry")?\n}`);
    expect(shape.tables.M?.columns).toEqual({ id: { type: 'integer', nullable: false } });
  });
});
