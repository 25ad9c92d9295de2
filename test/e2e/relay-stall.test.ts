import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../src/domain/events.js';
import { pendingDelivery } from '../../src/domain/outbox.js';
import type { OutboxWrites } from '../../src/domain/ports.js';
import { createDeliveryQueue } from '../../src/jobs/delivery.js';
import { createEventsQueue, queueRelay } from '../../src/jobs/events.js';
import { type RedisHandle, startRedis } from '../../src/redis.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { eventually } from '../support/eventually.js';
import { capturedLogs } from '../support/log-records.js';
import { fileQueuePrefix } from '../support/queue-prefix.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

// The outbox relay (src/jobs/events.ts) against a real Redis that hangs instead of failing: the
// app's producer connection stays up, its commands get no answer, and one queueing stays in
// flight for as long as Redis hangs. What commits meanwhile must not pile up in memory without
// bound: past the backlog limit, rows are left to the sweeps (they are PENDING in the database).

const LIMIT = 20;
const at = new Date(Date.UTC(2026, 11, 6, 12));

/** One purchase's outbox rows: its event and its receipt. */
function purchaseRows(n: number): OutboxWrites {
  const event: DomainEvent = { type: 'purchaseRecorded', id: `purchase:${n}`, memberId: n, purchaseId: n, storeId: 1, amountMinor: 100, at };
  const receipt = pendingDelivery(
    {
      memberId: n,
      dedupeKey: `purchase:${n}:receipt`,
      class: 'transactional',
      notification: { kind: 'purchaseRecorded', pointsEarned: 1, pointsSpent: 0, balance: 1, storeName: 'Store' },
    },
    { id: n, createdAt: at },
  );
  return { events: [event], deliveries: [receipt] };
}

let proxy: TcpProxy;
let redis: RedisHandle;

beforeAll(async () => {
  const target = new URL(TEST_REDIS_URL);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  redis = await startRedis(proxy.via(TEST_REDIS_URL), capturedLogs('warn').logger);
});

afterAll(async () => {
  // When beforeAll failed, what it did not start is not there to stop (its error is the one to see).
  proxy?.restore();
  await redis?.stop();
  await proxy?.close();
});

/** A relay over the file's queues with a backlog limit of LIMIT, its warnings captured; all closed after `test`. */
async function withRelay(
  test: (rig: {
    relay: ReturnType<typeof queueRelay>;
    records: ReturnType<typeof capturedLogs>['records'];
    /** The event ids and delivery ids queued so far, sorted. */
    queued: () => Promise<{ events: string[]; deliveries: number[] }>;
    ready: () => Promise<void>;
  }) => Promise<void>,
): Promise<void> {
  const prefix = fileQueuePrefix();
  const deliveryQueue = createDeliveryQueue(redis, prefix);
  const eventsQueue = createEventsQueue(redis, prefix);
  const { logger, records } = capturedLogs('warn');
  const relay = queueRelay({ deliveryQueue, eventsQueue }, logger, { backlogLimit: LIMIT });
  const queued = async () => ({
    events: (await eventsQueue.getJobs(['waiting', 'prioritized', 'delayed'])).map((job) => job.data.eventId).sort(),
    deliveries: (await deliveryQueue.getJobs(['waiting', 'prioritized', 'delayed'])).map((job) => job.data.deliveryId ?? 0).sort((a, b) => a - b),
  });
  const ready = async () => {
    await deliveryQueue.waitUntilReady();
    await eventsQueue.waitUntilReady();
  };
  try {
    await test({ relay, records, queued, ready });
  } finally {
    proxy.restore();
    await relay.drain();
    await deliveryQueue.close();
    await eventsQueue.close();
  }
}

describe('the outbox relay while Redis hangs', () => {
  it('holds at most its backlog limit, leaves the rest to the sweeps, says so, and queues what it held once Redis answers', async () => {
    await withRelay(async ({ relay, records, queued, ready }) => {
      await ready();

      proxy.stall();
      // Purchase 1 goes out in the next turn and hangs there.
      await relay.relay(purchaseRows(1));
      await new Promise((resolve) => setImmediate(resolve));
      expect(relay.backlog).toBe(0);

      // 100 more purchases commit while it hangs: 200 rows against a limit of 20.
      for (let n = 2; n <= 101; n++) await relay.relay(purchaseRows(n));
      expect(relay.backlog).toBe(LIMIT);
      expect(records.filter((r) => r.msg.startsWith('Redis is behind'))).toHaveLength(1);

      proxy.restore();
      await relay.drain();

      // Purchase 1 and the 10 purchases the backlog held are queued; the other 90 are not.
      const held = Array.from({ length: 11 }, (_, i) => i + 1);
      expect(await queued()).toEqual({ events: held.map((n) => `purchase:${n}`).sort(), deliveries: held });
      const summary = records.find((r) => r.msg.startsWith('Redis answers again'));
      expect(summary?.rows).toBe(180);

      // And it carries on as before.
      await relay.relay(purchaseRows(102));
      await eventually(async () => (await queued()).deliveries.includes(102), { what: 'purchase 102 queued' });
      expect(relay.backlog).toBe(0);
    });
  });

  it('queues a commit larger than the limit in full while Redis answers, without a warning', async () => {
    await withRelay(async ({ relay, records, queued }) => {
      // One commit of 15 purchases: 30 rows against a limit of 20 (an expiry batch's notices, say).
      const batch = Array.from({ length: 15 }, (_, i) => purchaseRows(201 + i));
      await relay.relay({ events: batch.flatMap((w) => w.events), deliveries: batch.flatMap((w) => w.deliveries) });
      await relay.drain();
      // (The queues are the file's: the first test's jobs are there too.)
      const ids = Array.from({ length: 15 }, (_, i) => 201 + i);
      const { events, deliveries } = await queued();
      expect(events).toEqual(expect.arrayContaining(ids.map((n) => `purchase:${n}`)));
      expect(deliveries).toEqual(expect.arrayContaining(ids));
      expect(records).toEqual([]);
    });
  });
});
