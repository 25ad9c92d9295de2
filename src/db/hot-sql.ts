import pg from 'pg';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';

/**
 * The few hot statements of a till purchase (the member by card code, the purchase snapshot,
 * record_purchase) go straight to the pg Pool under the Prisma adapter (issue 12). Prisma's
 * runtime costs about 0.3 ms of CPU per query, a model query more (its query compiler), which
 * was most of a purchase's CPU; a named prepared statement on the pool also spares PostgreSQL
 * parsing and planning the same text again. Everything else stays on Prisma.
 *
 * Same SQL text, same results either way: on a transaction, or on PGlite (no pool), the
 * statement runs through Prisma's $queryRaw. Results are converted as Prisma converts them
 * (int8 as bigint, `timestamp` as UTC, `date` as UTC midnight), and Date parameters are sent as
 * UTC text, so that no value depends on the process's time zone.
 */

const pools = new WeakMap<object, pg.Pool>();

/** Lets hotQuery run `prisma`'s statements on `pool` (the pool under its adapter). */
export function registerPool(prisma: PrismaClient, pool: pg.Pool): void {
  pools.set(prisma, pool);
}

const INT8 = 20;
const DATE = 1082;
const TIMESTAMP = 1114;
const utcText = (date: Date) => date.toISOString().replace('T', ' ').replace('Z', '');

const parseInt8 = (value: string) => BigInt(value);
const parseTimestamp = (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
const parseDate = (value: string) => new Date(`${value}T00:00:00Z`);

/** Per query, so the pg defaults (and the Prisma adapter's own parsing) stay untouched. */
const parsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8) return parseInt8;
    if (oid === TIMESTAMP) return parseTimestamp;
    if (oid === DATE) return parseDate;
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** One prepared-statement name per distinct text (a handful); bounded against surprises. */
const names = new Map<string, string>();
const MAX_NAMES = 100;

function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMES) {
    name = `hot_${names.size + 1}`;
    names.set(text, name);
  }
  return name;
}

/** Runs `sql` on the pool under `db` when there is one, else through Prisma; rows as Prisma's $queryRaw gives them. */
export async function hotQuery<T>(db: Db, sql: Prisma.Sql): Promise<T[]> {
  const pool = pools.get(db);
  if (!pool) return db.$queryRaw<T[]>(sql);
  return onPool<T>(pool, statementName(sql.text), sql.text, sql.values);
}

async function onPool<T>(pool: pg.Pool, name: string | undefined, text: string, values: readonly unknown[]): Promise<T[]> {
  const params = values.map((value) => (value instanceof Date ? utcText(value) : value));
  const result = await pool.query({ text, values: params, types: parsers, ...(name ? { name } : {}) });
  return result.rows as T[];
}

/** Named SQL text with $n parameters (the bot's hot reads, member-reads.ts). */
export interface SqlReader {
  query<T>(name: string, text: string, values: readonly unknown[]): Promise<T[]>;
}

/** The same SQL through a Prisma client or transaction (`$queryRawUnsafe` takes parameters, never spliced text). */
export const clientReader = (db: Pick<Db, '$queryRawUnsafe'>): SqlReader => ({
  query: <T>(_name: string, text: string, values: readonly unknown[]) => db.$queryRawUnsafe<T[]>(text, ...values),
});

/** `db`'s reader: its pool's when it is a root client with one (hotQuery's way), else through `db` itself. */
export function hotReader(db: Db): SqlReader {
  const pool = pools.get(db);
  return pool ? { query: (name, text, values) => onPool(pool, name, text, values) } : clientReader(db);
}
