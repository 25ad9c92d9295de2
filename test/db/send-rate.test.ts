import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { emissionIntervalUs, SendRateLimiter } from '../../src/jobs/send-rate.js';
import { removeQueueKeys } from '../support/app.js';
import { TEST_REDIS_URL } from '../support/env.js';

/**
 * The delivery pace (a GCRA in one Lua script) on real Redis, taken by acquirers on several
 * connections as workers in different processes would. What is checked is the slots Redis
 * handed out (their times on Redis's clock), not how long the test took.
 */

const prefix = `test-send-rate-${randomBytes(4).toString('hex')}`;
const connections: Redis[] = [];
const connect = () => {
  const redis = new Redis(TEST_REDIS_URL);
  connections.push(redis);
  return redis;
};
afterAll(async () => {
  for (const redis of connections) redis.disconnect();
  await removeQueueKeys(prefix);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Most slots within any half-open window of `windowUs` (slots sorted). */
function peakWithin(slots: readonly number[], windowUs: number): number {
  let peak = 0;
  for (let first = 0, last = 0; last < slots.length; last++) {
    while ((slots[last] as number) - (slots[first] as number) >= windowUs) first++;
    peak = Math.max(peak, last - first + 1);
  }
  return peak;
}

/**
 * `processes` connections with `workers` acquirers each, all on one key, taking slots as the
 * delivery worker does (wait for a reserved slot; back off when none is within reach) until the
 * slots pass `seconds` after the first one. Returns the slots (µs on Redis's clock), sorted.
 */
async function takeSlots(rate: number, processes: number, workers: number, seconds: number): Promise<{ slots: number[]; refusals: number }> {
  const key = `${prefix}:rate-${rate}:gcra`;
  const slots: number[] = [];
  let refusals = 0;
  let horizon = Number.POSITIVE_INFINITY;
  const acquirer = async (limiter: SendRateLimiter) => {
    for (;;) {
      const slot = await limiter.reserve();
      if (!slot.reserved) {
        refusals++;
        await sleep(Math.max(slot.waitMs - 1_000, 50));
        continue;
      }
      if (horizon === Number.POSITIVE_INFINITY) horizon = slot.slotUs + seconds * 1_000_000;
      if (slot.slotUs >= horizon) return;
      slots.push(slot.slotUs);
      await sleep(slot.waitMs);
    }
  };
  const limiters = Array.from({ length: processes }, () => new SendRateLimiter(connect(), key, rate, { maxWaitMs: 1_000 }));
  await Promise.all(limiters.flatMap((limiter) => Array.from({ length: workers }, () => acquirer(limiter))));
  return { slots: slots.sort((a, b) => a - b), refusals };
}

/**
 * `processes` connections, each taking chunks of `chunk` slots per call (reserveMany, every
 * message to a chat of its own) as fast as it is given them, as the delivery worker does, until
 * the slots pass `seconds` after the first one. Returns the slots (µs on Redis's clock), sorted.
 */
async function takeChunks(
  name: string,
  rate: number,
  processes: number,
  chunk: number,
  seconds: number,
  shared?: { key: string; ratePerSecond: number },
): Promise<number[]> {
  const key = `${prefix}:${name}:gcra`;
  const slots: number[] = [];
  let horizon = Number.POSITIVE_INFINITY;
  let chat = 0;
  const acquirer = async (limiter: SendRateLimiter) => {
    for (;;) {
      const taken = await limiter.reserveMany(
        Array.from({ length: chunk }, () => `${prefix}:${name}-gate:${chat++}`),
        1_100,
      );
      for (const slot of taken) {
        if (!slot.reserved) continue;
        if (horizon === Number.POSITIVE_INFINITY) horizon = slot.slotUs + seconds * 1_000_000;
        if (slot.slotUs < horizon) slots.push(slot.slotUs);
      }
      const last = taken.filter((slot) => slot.reserved).at(-1);
      if (last?.reserved && last.slotUs >= horizon) return;
      await sleep(Math.max(0, Math.min(...taken.map((slot) => slot.waitMs)) - 500));
    }
  };
  await Promise.all(
    Array.from({ length: processes }, () => acquirer(new SendRateLimiter(connect(), key, rate, { maxWaitMs: 1_000, ...(shared ? { shared } : {}) }))),
  );
  return slots.sort((a, b) => a - b);
}

describe('the send rate limiter (GCRA in Redis)', () => {
  it('gives concurrent workers in several processes at most 30 slots in any second, and at least 97 % of 30/s', async () => {
    // 6 x 8 acquirers hold more than a second of slots: some are told to come back later.
    const { slots, refusals } = await takeSlots(30, 6, 8, 4);
    expect(peakWithin(slots, 1_000_000)).toBeLessThanOrEqual(30);
    const gaps = slots.slice(1).map((slot, i) => slot - (slots[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(emissionIntervalUs(30));
    // Slots per second over the run, counted from the slots themselves.
    const perSecond = (slots.length - 1) / (((slots.at(-1) as number) - (slots[0] as number)) / 1_000_000);
    expect(perSecond).toBeGreaterThanOrEqual(0.97 * 30);
    expect(perSecond).toBeLessThanOrEqual(30);
    expect(slots.length).toBeGreaterThanOrEqual(Math.floor(0.97 * 30 * 4));
    expect(refusals).toBeGreaterThan(0);
  });

  it('keeps up with 1000/s (paid broadcasts) across processes: at most 1000 in any second, at least 95 %', async () => {
    // As the paid delivery worker takes them: chunks of 50 slots per call, so a second of slots
    // ahead is a few calls, and a busy test process does not leave slots unasked.
    const slots = await takeChunks('paid', 1000, 6, 50, 2);
    expect(peakWithin(slots, 1_000_000)).toBeLessThanOrEqual(1000);
    const perSecond = (slots.length - 1) / (((slots.at(-1) as number) - (slots[0] as number)) / 1_000_000);
    expect(perSecond).toBeGreaterThanOrEqual(0.95 * 1000);
    expect(slots.length).toBeGreaterThanOrEqual(0.95 * 1000 * 2);
  });

  it("spends the bot's shared budget from every queue: together at most its limit, with its jitter left", async () => {
    // Paid broadcasts at 1000/s and the free queue's receipts at 25/s through one bot: each queue
    // keeps its own rate and both spend the bot's. Alone, 975/s + 24/s would leave no jitter.
    const shared = { key: `${prefix}:bot-sends:gcra`, ratePerSecond: 1000 };
    const [paid, free] = await Promise.all([takeChunks('shared-paid', 1000, 2, 50, 2, shared), takeChunks('shared-free', 25, 1, 5, 2, shared)]);
    const all = [...paid, ...free].sort((a, b) => a - b);
    expect(free.length).toBeGreaterThan(10);
    // As far apart as one budget's slots: any 1000 + 25 ms holds at most 1000.
    expect(peakWithin(all, 1_025_000)).toBeLessThanOrEqual(1000);
    const gaps = all.slice(1).map((slot, i) => slot - (all[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(emissionIntervalUs(1000));
  });

  it('reserves nothing when the next free slot is further away than the longest wait', async () => {
    const key = `${prefix}:refuse:gcra`;
    const redis = connect();
    // One per 10 s (slow on purpose: the figures below hold however long the calls take on a busy
    // machine): the second slot is one interval after the first, the third two.
    const limiter = new SendRateLimiter(redis, key, 0.1, { maxWaitMs: 15_000 });
    const first = await limiter.reserve();
    const second = await limiter.reserve();
    if (!first.reserved || !second.reserved) throw new Error('no slot');
    expect(first.waitMs).toBe(0);
    expect(second.slotUs - first.slotUs).toBe(limiter.intervalUs);
    const before = await redis.get(key);
    const third = await limiter.reserve();
    expect(third.reserved).toBe(false);
    expect(third.waitMs).toBeGreaterThan(15_000);
    // A refusal leaves the schedule as it was, and the key goes away once it is idle.
    expect(await redis.get(key)).toBe(before);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(15_000);
    expect(ttl).toBeLessThanOrEqual(Math.ceil((2 * limiter.intervalUs) / 1_000) + 1_000);
  });

  it("closes a chat's gate from its slot, in the same step, and uses no slot while the gate is closed", async () => {
    const redis = connect();
    const limiter = new SendRateLimiter(redis, `${prefix}:gate:gcra`, 0.1, { maxWaitMs: 30_000 });
    const chat = { key: `${prefix}:chat-gate:1`, ms: 1_100 };
    const zeroth = await limiter.reserve();
    // This chat's slot is one interval away: its gate holds until 1.1 s after that slot.
    const first = await limiter.reserve(chat);
    if (!zeroth.reserved || !first.reserved) throw new Error('no slot');
    expect(first.slotUs - zeroth.slotUs).toBe(limiter.intervalUs);
    const again = await limiter.reserve(chat);
    expect(again).toMatchObject({ reserved: false, reason: 'gated' });
    expect(again.waitMs).toBeGreaterThan(first.waitMs);
    expect(Number(await redis.get(chat.key))).toBe(first.slotUs + 1_100_000);
    // The refused reservation took no slot: the next one follows the chat's directly.
    const other = await limiter.reserve({ key: `${prefix}:chat-gate:2`, ms: 1_100 });
    if (!other.reserved) throw new Error('no slot');
    expect(other.slotUs - first.slotUs).toBe(limiter.intervalUs);
  });

  it('reserves a chunk of slots in one call: at most 30 in any second across processes, gates kept, at least 97 % of 30/s', async () => {
    // 4 connections, each taking chunks of 8 (the delivery worker's chunk at 30/s): the chunks' slots interleave.
    const slots = await takeChunks('many', 30, 4, 8, 4);
    expect(peakWithin(slots, 1_000_000)).toBeLessThanOrEqual(30);
    const gaps = slots.slice(1).map((slot, i) => slot - (slots[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(emissionIntervalUs(30));
    const perSecond = (slots.length - 1) / (((slots.at(-1) as number) - (slots[0] as number)) / 1_000_000);
    expect(perSecond).toBeGreaterThanOrEqual(0.97 * 30);
    expect(slots.length).toBeGreaterThanOrEqual(Math.floor(0.97 * 30 * 4));
  });

  it('in one call: a chat twice is gated the second time, a closed gate takes no slot, slots beyond the longest wait are refused', async () => {
    const redis = connect();
    const key = `${prefix}:many-rules:gcra`;
    // One per 10 s, 15 s longest wait: two slots are within reach, the third is not.
    const limiter = new SendRateLimiter(redis, key, 0.1, { maxWaitMs: 15_000 });
    const [a, b, c] = [1, 2, 3].map((n) => `${prefix}:many-rules-gate:${n}`) as [string, string, string];
    const [first, again, second, third] = await limiter.reserveMany([a, a, b, c], 1_100);
    if (!first?.reserved || !second?.reserved) throw new Error('no slot');
    expect(again).toMatchObject({ reserved: false, reason: 'gated' });
    // The gated message took no slot: the next chat's slot follows the first directly.
    expect(second.slotUs - first.slotUs).toBe(limiter.intervalUs);
    expect(third).toMatchObject({ reserved: false, reason: 'busy' });
    expect(third?.waitMs).toBeGreaterThan(15_000);
    expect(Number(await redis.get(a))).toBe(first.slotUs + 1_100_000);
    expect(Number(await redis.get(b))).toBe(second.slotUs + 1_100_000);
    expect(await redis.get(c)).toBeNull();
    // The schedule moved by the two slots taken, as two single reservations would have moved it.
    expect(Number(await redis.get(key))).toBe(second.slotUs + limiter.intervalUs);
  });

  it('with no rate (Infinity) reserves every open gate at once and keeps no schedule', async () => {
    const redis = connect();
    const key = `${prefix}:many-unlimited:gcra`;
    const limiter = new SendRateLimiter(redis, key, Number.POSITIVE_INFINITY);
    const gates = Array.from({ length: 50 }, (_, n) => `${prefix}:many-unlimited-gate:${n}`);
    const chunk = await limiter.reserveMany([...gates, gates[0] as string], 1_100);
    expect(chunk.slice(0, 50).every((slot) => slot.reserved && slot.waitMs === 0)).toBe(true);
    expect(chunk[50]).toMatchObject({ reserved: false, reason: 'gated' });
    expect(await redis.get(key)).toBeNull();
  });

  it('keeps one budget per key: a busy queue does not slow another', async () => {
    const redis = connect();
    const busy = new SendRateLimiter(redis, `${prefix}:busy:gcra`, 0.1);
    const other = new SendRateLimiter(redis, `${prefix}:other:gcra`, 0.1);
    await busy.reserve();
    expect((await busy.reserve()).waitMs).toBeGreaterThan(0);
    expect(await other.reserve()).toMatchObject({ reserved: true, waitMs: 0 });
  });
});
