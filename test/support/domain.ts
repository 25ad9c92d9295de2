import { makeRepositories, PrismaUnitOfWork } from '../../src/db/repositories.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { Member } from '../../src/domain/members/member.js';
import { processDomainEvent } from '../../src/domain/outbox.js';
import type { DomainDeps, Notification, OutboxRelay, Store } from '../../src/domain/ports.js';
import type { Program } from '../../src/domain/program.js';
import { seedStores } from '../../src/domain/staff/access.js';
import { taskSubscriber } from '../../src/domain/tasks/subscriber.js';
import type { TestDatabase } from './db.js';
import { TEST_FINGERPRINTS } from './env.js';
import { exampleProgram } from './program.js';

/**
 * Domain use cases wired to a real database, with a manual clock and notifications collected:
 * those handed to the notifier, and those a transaction wrote to the Delivery outbox (collected
 * after its commit, as the relay would queue them).
 */
export interface DomainHarness {
  deps: DomainDeps;
  clock: ManualClock;
  notifications: { memberId: number; notification: Notification }[];
  /**
   * On: after each commit, the events it wrote are handed to the task engine at once (in the
   * same call, through the events worker's own path), instead of waiting in the outbox for a
   * worker. Off by default.
   */
  followEvents: boolean;
  /** An active member with `points` on their balance (a BONUS lot that never expires). */
  member(telegramId: number, points?: number): Promise<Member>;
  store(code?: string): Promise<Store>;
}

let codeCounter = 0;

export async function domainHarness(db: TestDatabase, options: { program?: Program; admins?: number[]; start?: Date } = {}): Promise<DomainHarness> {
  const clock = new ManualClock(options.start ?? new Date('2026-11-23T09:00:00Z'));
  const notifications: DomainHarness['notifications'] = [];
  const repos = makeRepositories(db.prisma, clock);
  const harness = { followEvents: false };
  const relay: OutboxRelay = {
    async relay(writes) {
      for (const delivery of writes.deliveries) {
        if (delivery.memberId !== null) notifications.push({ memberId: delivery.memberId, notification: delivery.notification });
      }
      if (!harness.followEvents) return;
      for (const event of writes.events) await processDomainEvent(deps, [taskSubscriber(deps)], event.id);
    },
  };
  const deps: DomainDeps = {
    uow: new PrismaUnitOfWork(db.prisma, clock, relay),
    repos,
    program: options.program ?? exampleProgram(),
    clock,
    notifier: { notify: async (memberId, notification) => void notifications.push({ memberId, notification }) },
    adminTelegramIds: options.admins ?? [1],
    fingerprints: TEST_FINGERPRINTS,
  };
  await seedStores(deps);
  return {
    get followEvents() {
      return harness.followEvents;
    },
    set followEvents(value: boolean) {
      harness.followEvents = value;
    },
    deps,
    clock,
    notifications,
    async member(telegramId, points = 0) {
      // Codes need not be valid card codes here: tests address members by id.
      const code = `T${process.pid % 1000}${String(++codeCounter).padStart(5, '0')}`;
      const row = await db.prisma.member.create({
        data: {
          telegramId: BigInt(telegramId),
          code,
          locale: 'en',
          status: 'ACTIVE',
          registrationStep: null,
          name: 'Test',
          tier: 'basic',
          registeredAt: clock.now(),
        },
      });
      if (points > 0) {
        await repos.ledger.post({
          kind: 'credit',
          type: 'BONUS',
          memberId: row.id,
          amount: points,
          idempotencyKey: `seed:${row.id}`,
          actor: { type: 'SYSTEM' },
          expiresAt: null,
        });
      }
      return (await repos.members.findById(row.id)) as Member;
    },
    async store(code = 'msk-01') {
      return (await repos.stores.findByCode(code)) as Store;
    },
  };
}
