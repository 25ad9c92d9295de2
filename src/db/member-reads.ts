import type { Member, MemberStatus, RegistrationStep } from '../domain/members/member.js';
import type { MemberStanding, Qualification } from '../domain/ports.js';
import { isLocale } from '../domain/program.js';
import { takesFromJson } from './erased-identity-repository.js';
import type { SqlReader } from './hot-sql.js';

/**
 * The bot's hot reads: the member behind every update, and the Balance screen's standing. They
 * run as plain SQL rather than through Prisma's query engine, which costs ~0.3 ms of CPU per
 * query (building, compiling and mapping it): more than the rest of a Balance tap's own work.
 * With PostgreSQL they go straight to the pool under Prisma's adapter as named prepared
 * statements (hot-sql.ts); in a transaction, or on the embedded PGlite, the same SQL goes through
 * the Prisma client it is given. README, Design notes.
 */

// Timestamps are stored as UTC `timestamp(3)` (Prisma's convention): they are read as timestamptz
// and passed as UTC text, so neither driver applies the process's or the session's time zone.
const MEMBER_COLUMNS = [
  'm.id',
  'm."telegramId"::text AS "telegramId"',
  'm.code',
  'm.status::text AS status',
  'm."registrationStep"::text AS "registrationStep"',
  'm."startPayload"',
  'm.locale',
  'm.phone',
  'm."phoneVerified"',
  'm.name',
  `to_char(m.birthday, 'YYYY-MM-DD') AS birthday`,
  'm."consentVersion"',
  `m."consentAt" AT TIME ZONE 'UTC' AS "consentAt"`,
  'm."notificationsEnabled"',
  'm.reachable',
  'm.balance',
  'm.tier',
  'm."cardFileId"',
  `m."registeredAt" AT TIME ZONE 'UTC' AS "registeredAt"`,
  `m."deletedAt" AT TIME ZONE 'UTC' AS "deletedAt"`,
  `m."createdAt" AT TIME ZONE 'UTC' AS "createdAt"`,
  'm."referralToken"',
  'm.returning',
  'm."inheritedTakes"',
  'm."savedMinor"::text AS "savedMinor"',
].join(', ');

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

const MEMBER_BY_TELEGRAM_ID = `SELECT ${MEMBER_COLUMNS} FROM "Member" m WHERE m."telegramId" = $1::bigint`;
const MEMBER_WITH_STANDING = `SELECT ${MEMBER_COLUMNS}, s.* FROM "Member" m
  CROSS JOIN LATERAL (${standingOf('m.id', '$2', '$3')}) AS s
  WHERE m."telegramId" = $1::bigint`;
const STANDING = `SELECT * FROM (${standingOf('$1::int', '$2', '$3')}) AS s`;

interface MemberSqlRow {
  id: number;
  telegramId: string | null;
  code: string;
  status: string;
  registrationStep: string | null;
  startPayload: string | null;
  locale: string;
  phone: string | null;
  phoneVerified: boolean;
  name: string | null;
  birthday: string | null;
  consentVersion: string | null;
  consentAt: Date | null;
  notificationsEnabled: boolean;
  reachable: boolean;
  balance: number;
  tier: string | null;
  cardFileId: string | null;
  registeredAt: Date | null;
  deletedAt: Date | null;
  createdAt: Date;
  referralToken: string | null;
  returning: boolean;
  inheritedTakes: unknown;
  savedMinor: string;
}

/** Either driver's bigint (pg: text; Prisma: bigint) as a number. */
interface StandingSqlRow {
  total: bigint | string | number | null;
  expiryAt: Date | null;
  expiryPoints: number | null;
}

/** As `toMember` maps Prisma's row (test/db/member-reads.test.ts holds the two to one result). */
function memberFromSql(row: MemberSqlRow): Member {
  return {
    id: row.id,
    telegramId: row.telegramId === null ? null : Number(row.telegramId),
    code: row.code,
    status: row.status as MemberStatus,
    registrationStep: row.registrationStep as RegistrationStep | null,
    startPayload: row.startPayload,
    locale: isLocale(row.locale) ? row.locale : 'ru',
    phone: row.phone,
    phoneVerified: row.phoneVerified,
    name: row.name,
    birthday: row.birthday,
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
  const [row] = await reader.query<MemberSqlRow>('member_by_telegram_id', MEMBER_BY_TELEGRAM_ID, [String(telegramId)]);
  return row ? memberFromSql(row) : null;
}

export async function memberWithStanding(
  reader: SqlReader,
  telegramId: number,
  { metric, since }: Qualification,
): Promise<{ member: Member; standing: MemberStanding } | null> {
  const [row] = await reader.query<MemberSqlRow & StandingSqlRow>('member_with_standing', MEMBER_WITH_STANDING, [
    String(telegramId),
    metric,
    sinceParam(since),
  ]);
  return row ? { member: memberFromSql(row), standing: standingFromSql(row) } : null;
}

export async function standingById(reader: SqlReader, memberId: number, { metric, since }: Qualification): Promise<MemberStanding> {
  const [row] = await reader.query<StandingSqlRow>('member_standing', STANDING, [memberId, metric, sinceParam(since)]);
  return standingFromSql(row);
}
