import type { Clock } from '../domain/clock.js';
import type { ChatRecipient, Delivery, DeliveryRepository, DeliveryStatus, Notification, NotificationClass } from '../domain/ports.js';
import { isLocale } from '../domain/program.js';
import type { Delivery as DeliveryRow } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';

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
