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
  /**
   * True on the pool: each statement is a round trip of its own (a write and a read on the socket,
   * a connection taken and given back), so reads arriving together are worth one statement
   * (`batched`). False in a transaction or on PGlite, where statements run one at a time anyway.
   */
  readonly combines: boolean;
}

/** The same SQL through a Prisma client or transaction (`$queryRawUnsafe` takes parameters, never spliced text). */
export const clientReader = (db: Pick<Db, '$queryRawUnsafe'>): SqlReader => ({
  query: <T>(_name: string, text: string, values: readonly unknown[]) => db.$queryRawUnsafe<T[]>(text, ...values),
  combines: false,
});

/** One reader per pool, so that every repository on it shares its batches. */
const poolReaders = new WeakMap<pg.Pool, SqlReader>();

/** `db`'s reader: its pool's when it is a root client with one (hotQuery's way), else through `db` itself. */
export function hotReader(db: Db): SqlReader {
  const pool = pools.get(db);
  if (!pool) return clientReader(db);
  let reader = poolReaders.get(pool);
  if (!reader) {
    reader = { query: (name, text, values) => onPool(pool, name, text, values), combines: true };
    poolReaders.set(pool, reader);
  }
  return reader;
}

/** Keys per statement of a batch; a bigger batch goes as several statements. */
const MAX_BATCH = 500;

/**
 * Look-ups of one kind made within one turn of the event loop, run as one statement over all
 * their keys (issue 12): the updates of one getUpdates batch reach the member read together, and
 * on the pool each read of its own was a socket write and read, a connection taken and given
 * back, and a statement for PostgreSQL, per update. `run` answers every key of `keys`, in order.
 * The statement goes out on the next setImmediate, once the turn's callbacks have run; a failure
 * fails each look-up of the batch, as it would have failed each one alone.
 */
export function batched<K, R>(run: (keys: K[]) => Promise<R[]>): (key: K) => Promise<R> {
  let waiting: { key: K; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  const flush = () => {
    const all = waiting;
    waiting = [];
    for (let start = 0; start < all.length; start += MAX_BATCH) {
      const batch = all.slice(start, start + MAX_BATCH);
      Promise.resolve(batch.map((w) => w.key))
        .then(run)
        .then(
          (results) => {
            for (const [i, w] of batch.entries()) w.resolve(results[i] as R);
          },
          (error: unknown) => {
            for (const w of batch) w.reject(error);
          },
        );
    }
  };
  return (key) =>
    new Promise<R>((resolve, reject) => {
      if (waiting.length === 0) setImmediate(flush);
      waiting.push({ key, resolve, reject });
    });
}
