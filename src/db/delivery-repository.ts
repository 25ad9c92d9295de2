import type { Clock } from '../domain/clock.js';
import type {
  ChatRecipient,
  Delivery,
  DeliveryOutcome,
  DeliveryRepository,
  DeliverySelector,
  DeliveryStatus,
  DeliveryToSend,
  NewDelivery,
  Notification,
  NotificationClass,
} from '../domain/ports.js';
import { isLocale } from '../domain/program.js';
import { type Delivery as DeliveryRow, type Member as MemberRow, Prisma } from '../generated/prisma/client.js';
import { toMember } from './member-reads.js';
import type { Db } from './repositories.js';
import { ts } from './sql.js';

/** The member's columns in `pendingFor`'s join, prefixed `m_` so they cannot clash with the delivery's. */
const MEMBER_COLUMNS = [
  'id',
  'telegramId',
  'code',
  'status',
  'registrationStep',
  'startPayload',
  'locale',
  'phone',
  'name',
  'birthday',
  'consentVersion',
  'consentAt',
  'notificationsEnabled',
  'reachable',
  'balance',
  'tier',
  'cardFileId',
  'registeredAt',
  'deletedAt',
  'createdAt',
  'updatedAt',
] as const;
const memberSelect = Prisma.raw(MEMBER_COLUMNS.map((column) => `m."${column}" AS "m_${column}"`).join(', '));

function selectorClause(selector: DeliverySelector): Prisma.Sql {
  if ('id' in selector) return Prisma.sql`d.id = ${selector.id}`;
  // The index on (broadcastId, status, id) answers the range.
  if ('broadcastId' in selector) return Prisma.sql`d."broadcastId" = ${selector.broadcastId} AND d.id BETWEEN ${selector.fromId} AND ${selector.toId}`;
  return Prisma.sql`d."batchKey" = ${selector.batchKey}`;
}

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id,
  dedupeKey: row.dedupeKey,
  memberId: row.memberId,
  chat: row.chatId === null ? null : { chatId: Number(row.chatId), locale: isLocale(row.locale) ? row.locale : 'ru' },
  class: row.class as NotificationClass,
  notification: row.payload as unknown as Notification,
  status: row.status,
  attempts: row.attempts,
  createdAt: row.createdAt,
  batchKey: row.batchKey,
});

export class PrismaDeliveryRepository implements DeliveryRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async create(value: { dedupeKey: string; memberId: number | null; chat?: ChatRecipient | null; class: NotificationClass; notification: Notification }) {
    const chatId = value.chat ? BigInt(value.chat.chatId) : null;
    // ON CONFLICT DO NOTHING: a second message with the same key is simply not created.
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      INSERT INTO "Delivery" ("dedupeKey", "memberId", "chatId", "locale", "kind", "class", "payload", "createdAt", "updatedAt")
      VALUES (${value.dedupeKey}, ${value.memberId}, ${chatId}, ${value.chat?.locale ?? null}, ${value.notification.kind}, ${value.class}, ${JSON.stringify(value.notification)}::jsonb, ${this.clock.now()}, now())
      ON CONFLICT ("dedupeKey") DO NOTHING RETURNING id`;
    const id = rows[0]?.id;
    return id === undefined ? null : this.findById(id);
  }

  async createMany(values: readonly (NewDelivery & { batchKey?: string | null })[]) {
    if (values.length === 0) return [];
    // One statement for the whole batch: the columns as arrays, unnested into rows. A key used
    // before is skipped (ON CONFLICT DO NOTHING), so a rerun of a job writes nothing new.
    return this.db.$queryRaw<{ id: number; batchKey: string | null; dedupeKey: string }[]>`
      INSERT INTO "Delivery" ("dedupeKey", "memberId", "chatId", "locale", "kind", "class", "payload", "batchKey", "createdAt", "updatedAt")
      SELECT v.key, v.member, v.chat, v.locale, v.payload->>'kind', v.class, v.payload, v.batch, ${ts(this.clock.now())}, now()
      FROM unnest(
        ${values.map((v) => v.dedupeKey)}::text[], ${values.map((v) => v.memberId)}::int[],
        ${values.map((v) => (v.chat ? String(v.chat.chatId) : null))}::bigint[], ${values.map((v) => v.chat?.locale ?? null)}::text[],
        ${values.map((v) => v.class)}::text[], ${values.map((v) => JSON.stringify(v.notification))}::jsonb[],
        ${values.map((v) => v.batchKey ?? null)}::text[]
      ) AS v(key, member, chat, locale, class, payload, batch)
      ON CONFLICT ("dedupeKey") DO NOTHING
      RETURNING id, "batchKey", "dedupeKey"`;
  }

  async pendingFor(selector: DeliverySelector, limit?: number): Promise<DeliveryToSend[]> {
    // One query: the rows and their members (a chat's row has none). A batch's next chunk is
    // read from the partial index of its PENDING rows in id order (Delivery_batch_pending_idx).
    const rows = await this.db.$queryRaw<(DeliveryRow & Record<string, unknown>)[]>`
      SELECT d.*, ${memberSelect}
      FROM "Delivery" d LEFT JOIN "Member" m ON m.id = d."memberId"
      WHERE ${selectorClause(selector)} AND d.status = 'PENDING'
      ORDER BY d.id
      ${limit === undefined ? Prisma.empty : Prisma.sql`LIMIT ${limit}`}`;
    return rows.map((row) => {
      let member = null;
      if (row.m_id !== null && row.m_id !== undefined) {
        const memberRow = Object.fromEntries(MEMBER_COLUMNS.map((column) => [column, row[`m_${column}`]])) as unknown as MemberRow;
        member = toMember(memberRow);
      }
      return { delivery: toDelivery(row), member };
    });
  }

  async claimMany(ids: readonly number[], now: Date, until: Date) {
    if (ids.length === 0) return [];
    // As `claim`, for a whole chunk in one statement.
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      UPDATE "Delivery" SET attempts = attempts + 1, "claimedUntil" = ${ts(until)}
      WHERE id = ANY(${[...ids]}::int[]) AND status = 'PENDING' AND ("claimedUntil" IS NULL OR "claimedUntil" < ${ts(now)})
      RETURNING id`;
    return rows.map((row) => row.id);
  }

  async settle(outcomes: readonly DeliveryOutcome[]) {
    if (outcomes.length === 0) return;
    // One statement for a chunk's results; only PENDING rows change (a row another job settled stays as it is).
    await this.db.$executeRaw`
      UPDATE "Delivery" d
      SET status = v.status::"DeliveryStatus",
          error = CASE WHEN v.status = 'PENDING' THEN d.error ELSE v.error END,
          "sentAt" = CASE WHEN v.status = 'SENT' THEN ${ts(this.clock.now())} ELSE d."sentAt" END,
          "claimedUntil" = NULL, "updatedAt" = now()
      FROM unnest(${outcomes.map((o) => o.id)}::int[], ${outcomes.map((o) => o.status)}::text[], ${outcomes.map((o) => o.error ?? null)}::text[])
        AS v(id, status, error)
      WHERE d.id = v.id AND d.status = 'PENDING'`;
  }

  async findById(id: number) {
    const row = await this.db.delivery.findUnique({ where: { id } });
    return row ? toDelivery(row) : null;
  }

  async finish(id: number, status: Exclude<DeliveryStatus, 'PENDING'>, error: string | null = null) {
    const updated = await this.db.delivery.updateMany({
      where: { id, status: 'PENDING' },
      data: { status, error, ...(status === 'SENT' ? { sentAt: this.clock.now() } : {}) },
    });
    return updated.count === 1;
  }

  async claim(id: number, now: Date, until: Date) {
    // One conditional update: of two jobs for one row (a sweep re-queued it while a worker had it
    // in hand, e.g. after Redis lost its data), only one gets to send.
    const claimed = await this.db.delivery.updateMany({
      where: { id, status: 'PENDING', OR: [{ claimedUntil: null }, { claimedUntil: { lt: now } }] },
      data: { attempts: { increment: 1 }, claimedUntil: until },
    });
    if (claimed.count === 1) return { claimed: true as const };
    const row = await this.db.delivery.findUnique({ where: { id }, select: { status: true, claimedUntil: true } });
    return { claimed: false as const, heldUntil: row?.status === 'PENDING' ? row.claimedUntil : null };
  }

  async release(id: number) {
    await this.db.delivery.updateMany({ where: { id, status: 'PENDING' }, data: { claimedUntil: null } });
  }

  async pendingBefore(before: Date, limit: number) {
    const rows = await this.db.delivery.findMany({
      where: { status: 'PENDING', createdAt: { lt: before }, broadcastId: null },
      orderBy: { id: 'asc' },
      take: limit,
    });
    return rows.map(toDelivery);
  }

  async skipPendingOfMember(memberId: number, reason: string) {
    const skipped = await this.db.delivery.updateMany({ where: { memberId, status: 'PENDING' }, data: { status: 'SKIPPED', error: reason } });
    return skipped.count;
  }

  async scrubSurveyAlerts(surveyIds: number[]) {
    if (surveyIds.length === 0) return 0;
    // Rare (an account's erasure): a scan of the alerts by kind is acceptable here.
    return this.db.$executeRaw`
      UPDATE "Delivery" SET payload = payload || '{"comment": null, "memberName": null}'::jsonb, "updatedAt" = now()
      WHERE kind = 'npsAlert' AND (payload->>'surveyId')::int = ANY(${surveyIds}::int[])`;
  }
}
