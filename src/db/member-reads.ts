import type { Member } from '../domain/members/member.js';
import type { MemberStanding, Qualification } from '../domain/ports.js';
import { isLocale } from '../domain/program.js';
import type { Member as MemberRow } from '../generated/prisma/client.js';
import { takesFromJson } from './erased-identity-repository.js';
import { batched, type SqlReader } from './hot-sql.js';

/**
 * The bot's hot reads: the member behind every update, and the Balance screen's standing. They
 * run as plain SQL rather than through Prisma's query engine, which costs ~0.3 ms of CPU per
 * query (building, compiling and mapping it): more than the rest of a Balance tap's own work.
 * With PostgreSQL they go straight to the pool under Prisma's adapter as named prepared
 * statements (hot-sql.ts); in a transaction, or on the embedded PGlite, the same SQL goes through
 * the Prisma client it is given. README, Design notes.
 */

// `m.*` comes back as Prisma's own row (the pool's parsers in hot-sql.ts read int8 as bigint and
// timestamps and dates as UTC, as Prisma does), so one mapping, `toMember`, serves both drivers.
/**
 * A member's standing as a lateral subquery over `member` (an SQL expression for the member's id):
 * the qualifying total (the `qualifying_total` function) and the nearest expiry with its points,
 * from the partial index of open lots by member and expiry: short index scans, however long the
 * member's history. $n and $n+1 are the qualification's metric and since (UTC text or null).
 */
const standingOf = (member: string, metric: string, since: string) => `
  SELECT qualifying_total(${member}, ${metric}::text, ${since}::timestamp) AS total, n.at AS "expiryAt", n.points AS "expiryPoints"
  FROM (SELECT MIN("expiresAt") AS at FROM "PointLot" WHERE "memberId" = ${member} AND remaining > 0) AS nearest
  LEFT JOIN LATERAL (
    SELECT nearest.at AT TIME ZONE 'UTC' AS at, SUM(l.remaining)::int AS points FROM "PointLot" l
    WHERE l."memberId" = ${member} AND l.remaining > 0 AND l."expiresAt" = nearest.at
  ) AS n ON nearest.at IS NOT NULL`;

const MEMBER_BY_TELEGRAM_ID = `SELECT m.* FROM "Member" m WHERE m."telegramId" = $1::bigint`;
const MEMBER_WITH_STANDING = `SELECT m.*, s.* FROM "Member" m
  CROSS JOIN LATERAL (${standingOf('m.id', '$2', '$3')}) AS s
  WHERE m."telegramId" = $1::bigint`;
// The same reads for a batch of updates on the pool (hot-sql.ts `batched`): the members by an
// array of Telegram ids; with their standings, each key's own window start, the answer matched to
// its key by position ("batchKey"). `= ANY` keeps the member's unique index in the plan however
// many keys come.
const MEMBERS_BY_TELEGRAM_IDS = `SELECT m.* FROM "Member" m WHERE m."telegramId" = ANY($1::bigint[])`;
const MEMBERS_WITH_STANDING = `SELECT k.i::int AS "batchKey", m.*, s.* FROM "Member" m
  JOIN unnest($1::bigint[], $3::timestamp[]) WITH ORDINALITY AS k(tid, since, i) ON k.tid = m."telegramId"
  CROSS JOIN LATERAL (${standingOf('m.id', '$2', 'k.since')}) AS s
  WHERE m."telegramId" = ANY($1::bigint[])`;
const STANDING = `SELECT * FROM (${standingOf('$1::int', '$2', '$3')}) AS s`;

/** Either driver's bigint (pg: text; Prisma: bigint) as a number. */
interface StandingSqlRow {
  total: bigint | string | number | null;
  expiryAt: Date | null;
  expiryPoints: number | null;
}

const toDateOnly = (date: Date | null): string | null => (date ? date.toISOString().slice(0, 10) : null);

/** A member row as Prisma gives it (a model query, $queryRaw, or hot-sql's pool) as the domain's Member. */
export function toMember(row: MemberRow): Member {
  return {
    id: row.id,
    telegramId: row.telegramId === null ? null : Number(row.telegramId),
    code: row.code,
    status: row.status,
    registrationStep: row.registrationStep,
    startPayload: row.startPayload,
    locale: isLocale(row.locale) ? row.locale : 'ru',
    phone: row.phone,
    phoneVerified: row.phoneVerified,
    name: row.name,
    birthday: toDateOnly(row.birthday),
    consentVersion: row.consentVersion,
    consentAt: row.consentAt,
    notificationsEnabled: row.notificationsEnabled,
    reachable: row.reachable,
    balance: row.balance,
    tier: row.tier,
    cardFileId: row.cardFileId,
    registeredAt: row.registeredAt,
    deletedAt: row.deletedAt,
    createdAt: row.createdAt,
    referralToken: row.referralToken,
    returning: row.returning,
    inheritedTakes: takesFromJson(row.inheritedTakes),
    savedMinor: Number(row.savedMinor),
  };
}

function standingFromSql(row: StandingSqlRow | undefined): MemberStanding {
  return {
    qualifyingTotal: Number(row?.total ?? 0),
    nearestExpiry: row?.expiryAt && row.expiryPoints ? { at: row.expiryAt, points: row.expiryPoints } : null,
  };
}

/** UTC text for a `timestamp` parameter (as db/sql.ts passes them), or null. */
const sinceParam = (since: Date | null) => (since ? since.toISOString().replace('T', ' ').replace('Z', '') : null);

export async function memberByTelegramId(reader: SqlReader, telegramId: number): Promise<Member | null> {
  if (reader.combines) {
    const row = await batchesOf(reader).members(String(telegramId));
    return row ? toMember(row) : null;
  }
  const [row] = await reader.query<MemberRow>('member_by_telegram_id', MEMBER_BY_TELEGRAM_ID, [String(telegramId)]);
  return row ? toMember(row) : null;
}

export async function memberWithStanding(
  reader: SqlReader,
  telegramId: number,
  { metric, since }: Qualification,
): Promise<{ member: Member; standing: MemberStanding } | null> {
  const [row] = reader.combines
    ? [await batchesOf(reader).withStanding(metric)({ telegramId: String(telegramId), since: sinceParam(since) })]
    : await reader.query<MemberRow & StandingSqlRow>('member_with_standing', MEMBER_WITH_STANDING, [String(telegramId), metric, sinceParam(since)]);
  return row ? { member: toMember(row), standing: standingFromSql(row) } : null;
}

type StandingKey = { telegramId: string; since: string | null };
interface Batches {
  members: (telegramId: string) => Promise<MemberRow | undefined>;
  /** One batch per metric (a program has one: the statement takes it once). */
  withStanding: (metric: Qualification['metric']) => (key: StandingKey) => Promise<(MemberRow & StandingSqlRow) | undefined>;
}

/** The statements keep the single reads' names: one name, one text, on the pool. */
const batches = new WeakMap<SqlReader, Batches>();

function batchesOf(reader: SqlReader): Batches {
  let found = batches.get(reader);
  if (found) return found;
  const members = batched(async (ids: string[]) => {
    const rows = await reader.query<MemberRow>('member_by_telegram_id', MEMBERS_BY_TELEGRAM_IDS, [ids]);
    const byId = new Map(rows.map((row) => [String(row.telegramId), row]));
    return ids.map((id) => byId.get(id));
  });
  const byMetric = new Map<string, (key: StandingKey) => Promise<(MemberRow & StandingSqlRow) | undefined>>();
  const withStanding = (metric: Qualification['metric']) => {
    let batch = byMetric.get(metric);
    if (!batch) {
      batch = batched(async (keys: StandingKey[]) => {
        const values = [keys.map((k) => k.telegramId), metric, keys.map((k) => k.since)];
        const rows = await reader.query<MemberRow & StandingSqlRow & { batchKey: number }>('member_with_standing', MEMBERS_WITH_STANDING, values);
        const answers: ((MemberRow & StandingSqlRow) | undefined)[] = keys.map(() => undefined);
        for (const row of rows) answers[row.batchKey - 1] = row;
        return answers;
      });
      byMetric.set(metric, batch);
    }
    return batch;
  };
  found = { members, withStanding };
  batches.set(reader, found);
  return found;
}

export async function standingById(reader: SqlReader, memberId: number, { metric, since }: Qualification): Promise<MemberStanding> {
  const [row] = await reader.query<StandingSqlRow>('member_standing', STANDING, [memberId, metric, sinceParam(since)]);
  return standingFromSql(row);
}
