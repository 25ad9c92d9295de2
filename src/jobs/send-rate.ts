import type { Redis } from 'ioredis';

/**
 * The outbound message rate, paced where messages leave: a GCRA (generic cell rate algorithm)
 * kept in Redis and shared by every worker of a queue, in every process.
 *
 * Why not BullMQ's limiter alone: it spaces job *starts*, and a delivery job does several
 * database queries of varying length before it calls Telegram, so sends that started evenly
 * arrive in clusters, and a strict "N per second" counter answers 429. Here a worker asks for a
 * slot immediately before the call, after its database work, and waits for it.
 *
 * The algorithm, with no burst tolerance: the key holds the theoretical arrival time (TAT) of
 * the next message. A caller gets the slot max(TAT, now) and moves TAT one emission interval
 * past it. So slots are at least one interval apart in Redis time, whichever process took them:
 * any 1,000 ms holds at most floor(1000 / interval) + 1 of them. One Lua script reads, decides
 * and writes atomically; the time is Redis's (`TIME`), the one clock all processes share.
 *
 * A slot more than `maxWaitMs` ahead is not taken (taking it would hold a concurrency slot for
 * long, or waste it when the caller gives up): the caller is told how far ahead the queue of
 * slots reaches and does something else (BullMQ's delayed set) instead of sleeping.
 */

/**
 * Messages leave a little below the configured rate: what Telegram (and the fake Bot API)
 * counts is the arrival, a few milliseconds after the slot, and that delay varies. With slots
 * exactly 1/rate apart, rate + 1 messages span exactly one second, and one late first message
 * makes them fit in less. 2.5 % under the rate leaves 2.5 % of a second (25 ms) of such jitter
 * within any second and still uses 97.5 % of the allowance.
 */
export const RATE_HEADROOM = 0.025;

/** Microseconds between two slots at `ratePerSecond` (rounded up: the rate is a ceiling). */
export function emissionIntervalUs(ratePerSecond: number, headroom: number = RATE_HEADROOM): number {
  return Math.ceil(1_000_000 / (ratePerSecond * (1 - headroom)));
}

// KEYS[1] the TAT key; KEYS[2] a shared TAT key (the bot's budget across queues; read and moved
// only when ARGV[4] > 0); KEYS[3] (optional) a gate key, e.g. one chat's. ARGV[1] emission
// interval (µs), ARGV[2] longest wait granted (µs), ARGV[3] how long the gate holds after the slot
// (µs), ARGV[4] the shared key's emission interval (µs; 0: no shared budget). A slot must be free
// on both schedules: max(TAT, shared TAT, now); both move one of their own intervals past it.
// Returns {1, wait µs, slot µs} when a slot was reserved; {0, wait µs, now µs} when the next slot is
// further away than the longest wait; {2, wait µs, now µs} when the gate is closed for that long.
// Nothing is written unless a slot is reserved.
const RESERVE_SLOT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
if #KEYS > 2 then
  local gateUntil = tonumber(redis.call('GET', KEYS[3]) or '0')
  if gateUntil > now then return {2, gateUntil - now, now} end
end
local interval = tonumber(ARGV[1])
local sharedInterval = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if sharedInterval > 0 then
  local shared = tonumber(redis.call('GET', KEYS[2]) or '0')
  if shared > tat then tat = shared end
end
local wait = tat - now
if wait > tonumber(ARGV[2]) then return {0, wait, now} end
local nextTat = tat + interval
-- The key outlives the last slot by a second: an idle queue leaves nothing behind.
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000) + 1000)
if sharedInterval > 0 then
  local nextShared = tat + sharedInterval
  redis.call('SET', KEYS[2], string.format('%.0f', nextShared), 'PX', math.ceil((nextShared - now) / 1000) + 1000)
end
if #KEYS > 2 then
  -- Measured from the slot, not from now: the gate is about when messages leave.
  local gateUntil = tat + tonumber(ARGV[3])
  redis.call('SET', KEYS[3], string.format('%.0f', gateUntil), 'PX', math.ceil((gateUntil - now) / 1000))
end
return {1, wait, tat}
`;

// Many slots in one call, one per gate key (a chunk of sends): KEYS[1] the TAT key, KEYS[2] the
// shared TAT key, KEYS[3..] the gates (one per message, in sending order). ARGV as RESERVE_SLOT's.
// An interval of 0 (no rate) leaves the TAT key alone: only the gates (and the shared budget, if
// any) are kept. Returns {now, outcome1, value1, outcome2, ...} where an outcome is RESERVE_SLOT's
// (1 reserved: value = slot µs; 0 busy / 2 gated: value = wait µs). Same rules as one call per
// message, in key order: the gate a message closes is seen by a later message to the same chat in
// the same call.
const RESERVE_SLOTS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local maxWait = tonumber(ARGV[2])
local gateMs = tonumber(ARGV[3])
local sharedInterval = tonumber(ARGV[4])
local tat = now
if interval > 0 then
  tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
end
local shared = now
if sharedInterval > 0 then
  shared = tonumber(redis.call('GET', KEYS[2]) or '0')
  if shared < now then shared = now end
end
local out = {now}
local reserved = false
for i = 3, #KEYS do
  local slot = math.max(tat, shared)
  local gateUntil = tonumber(redis.call('GET', KEYS[i]) or '0')
  if gateUntil > now then
    out[#out + 1] = 2
    out[#out + 1] = gateUntil - now
  elseif slot - now > maxWait then
    out[#out + 1] = 0
    out[#out + 1] = slot - now
  else
    out[#out + 1] = 1
    out[#out + 1] = slot
    local gateEnd = slot + gateMs
    redis.call('SET', KEYS[i], string.format('%.0f', gateEnd), 'PX', math.ceil((gateEnd - now) / 1000))
    tat = slot + interval
    shared = slot + sharedInterval
    reserved = true
  end
end
if interval > 0 and reserved then
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
if sharedInterval > 0 and reserved then
  redis.call('SET', KEYS[2], string.format('%.0f', shared), 'PX', math.ceil((shared - now) / 1000) + 1000)
end
return out
`;

export type SlotReservation =
  /** Send after `waitMs`; `slotUs` is the slot on Redis's clock (µs since the epoch). */
  | { reserved: true; waitMs: number; slotUs: number }
  /**
   * Nothing was reserved. `busy`: the next free slot is `waitMs` away, more than the longest
   * wait. `gated`: the gate given to `reserve` stays closed for another `waitMs`.
   */
  | { reserved: false; reason: 'busy' | 'gated'; waitMs: number };

/** A second limit on one recipient, held from the reserved slot (e.g. one message per chat per second). */
export interface SlotGate {
  key: string;
  ms: number;
}

type WithReserveSlot = Redis & {
  gcraReserveSlot(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<[number, number, number]>;
  gcraReserveSlots(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number[]>;
};

export interface SendRateLimiterOptions {
  /** Longest wait for a slot that a caller is given one for (default 1,000 ms). */
  maxWaitMs?: number;
  headroom?: number;
  /** A caller woken later than this after its slot takes a new one (default LATE_MS; see `take`). */
  lateMs?: number;
  /**
   * A second budget that this limiter's slots also spend, shared with other limiters: the bot's
   * overall limit when several queues send through one bot (Telegram counts the bot's messages,
   * not a queue's). Each slot is then free on both schedules.
   */
  shared?: { key: string; ratePerSecond: number };
}

/**
 * How late after its slot a waiting sender may still use it (when slots are contended). Whatever
 * is sent late crowds the slots after it: this is spent from RATE_HEADROOM's 25 ms of jitter
 * within any second, as is OFFSET_FALL_MS_PER_S; the other 12 ms are for the way to Telegram
 * (network, the far end's own scheduling). Lower would leave more of them but waste more slots
 * when the event loop is busy (a slot given up is used by no one), and a rate can collapse.
 */
export const LATE_MS = 10;

/** What `take` ends with: go now, or do not go (and when to try again). */
export type SlotTaken = { go: true } | { go: false; reason: 'busy' | 'gated'; waitMs: number };

/** How fast the clock offset's estimate may fall (see observeClock): spent from the jitter in any second, like LATE_MS. */
export const OFFSET_FALL_MS_PER_S = 3;

const localNowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1_000);

export class SendRateLimiter {
  readonly intervalUs: number;
  /** The shared budget's interval (µs); 0 when there is none. */
  readonly sharedIntervalUs: number;
  private readonly sharedKey: string;
  private readonly maxWaitUs: number;
  private readonly redis: WithReserveSlot;
  private readonly lateUs: number;
  /** Local clock minus Redis's, plus the quickest reply seen: when a Redis instant arrives here. */
  private offsetUs = Number.POSITIVE_INFINITY;
  private offsetSeenAtUs = 0;

  /**
   * `key`: one per rate budget, shared by every worker that spends it (e.g.
   * `${prefix}:${queueName}:gcra`). `redis`: any connection; the script is defined on it once.
   */
  constructor(
    redis: Redis,
    private readonly key: string,
    ratePerSecond: number,
    options: SendRateLimiterOptions = {},
  ) {
    if (!(ratePerSecond > 0)) throw new Error(`rate must be positive, got ${ratePerSecond}`);
    this.intervalUs = emissionIntervalUs(ratePerSecond, options.headroom);
    const shared = options.shared;
    if (shared && !(shared.ratePerSecond > 0)) throw new Error(`shared rate must be positive, got ${shared.ratePerSecond}`);
    this.sharedIntervalUs = shared ? emissionIntervalUs(shared.ratePerSecond, options.headroom) : 0;
    // Without a shared budget the script is given the queue's own key there and ignores it.
    this.sharedKey = shared?.key ?? key;
    this.maxWaitUs = Math.round((options.maxWaitMs ?? 1_000) * 1_000);
    this.lateUs = Math.round((options.lateMs ?? LATE_MS) * 1_000);
    // The number of keys is given per call: 2, or 3 with a gate.
    if (!('gcraReserveSlot' in redis)) redis.defineCommand('gcraReserveSlot', { lua: RESERVE_SLOT });
    if (!('gcraReserveSlots' in redis)) redis.defineCommand('gcraReserveSlots', { lua: RESERVE_SLOTS });
    this.redis = redis as WithReserveSlot;
  }

  /** Whether slots are spaced at all (a rate, own or shared); false: only gates. */
  get paced(): boolean {
    return this.intervalUs > 0 || this.sharedIntervalUs > 0;
  }

  /**
   * The next send slot, if one is free within the longest wait, and, with `gate`, only if the
   * gate is open (then it closes for `gate.ms` from the slot, in the same atomic step).
   */
  async reserve(gate?: SlotGate): Promise<SlotReservation> {
    const args = [this.intervalUs, this.maxWaitUs, Math.round((gate?.ms ?? 0) * 1_000), this.sharedIntervalUs];
    const [outcome, waitUs, at] = gate
      ? await this.redis.gcraReserveSlot(3, this.key, this.sharedKey, gate.key, ...args)
      : await this.redis.gcraReserveSlot(2, this.key, this.sharedKey, ...args);
    this.observeClock(outcome === 1 ? at - waitUs : at);
    const waitMs = waitUs / 1_000;
    if (outcome === 1) return { reserved: true, waitMs, slotUs: at };
    return { reserved: false, reason: outcome === 2 ? 'gated' : 'busy', waitMs };
  }

  /**
   * One slot per gate, in order, in one round trip (a chunk's sends): the same as `reserve(gate)`
   * for each in turn, without a call per message. Every gate closes for the same `gateMs`.
   */
  async reserveMany(gateKeys: readonly string[], gateMs: number): Promise<SlotReservation[]> {
    if (gateKeys.length === 0) return [];
    const reply = await this.redis.gcraReserveSlots(
      2 + gateKeys.length,
      this.key,
      this.sharedKey,
      ...gateKeys,
      this.intervalUs,
      this.maxWaitUs,
      Math.round(gateMs * 1_000),
      this.sharedIntervalUs,
    );
    const nowUs = reply[0] as number;
    this.observeClock(nowUs);
    return gateKeys.map((_, i) => {
      const outcome = reply[1 + 2 * i] as number;
      const value = reply[2 + 2 * i] as number;
      if (outcome === 1) return { reserved: true, waitMs: (value - nowUs) / 1_000, slotUs: value };
      return { reserved: false, reason: outcome === 2 ? 'gated' : 'busy', waitMs: value / 1_000 };
    });
  }

  /**
   * Sleeps until a reserved slot's instant on this machine; false when woken more than `lateMs`
   * after it while slots were contended (see `take`): the caller should not use it.
   */
  async waitFor(slot: { waitMs: number; slotUs: number }): Promise<boolean> {
    const dueUs = slot.slotUs + this.offsetUs;
    // Never before the slot: a timer with a fractional delay fires up to 2 ms early (measured on
    // Node 20: the event loop's clock counts whole milliseconds), and a wait under a millisecond
    // was not waited at all. What is left after a timer is waited for on the next turns of the loop
    // (rounding the timer up instead, one bench run: paid mode fell to 0.89x, with a 429).
    for (let leftUs = dueUs - localNowUs(); leftUs > 0; leftUs = dueUs - localNowUs()) {
      await new Promise((resolve) => (leftUs >= 1_000 ? setTimeout(resolve, Math.floor(leftUs / 1_000)) : setImmediate(resolve)));
    }
    return slot.waitMs === 0 || localNowUs() - dueUs <= this.lateUs;
  }

  /**
   * Reserves a slot and waits for it. The wait ends at the slot's instant on this machine (Redis's
   * clock mapped to ours), not `waitMs` after the reply: a reply that was slow does not make the
   * send late. A caller woken more than `lateMs` after its slot (a busy event loop, a slow reply)
   * would send close to the slots after it: what Telegram counts is arrivals, so it gives that
   * slot up and takes a new one (at most a few times, then it says `busy`). Only when slots are
   * contended: a slot that was free at once is sent however late.
   */
  async take(gate?: SlotGate): Promise<SlotTaken> {
    for (let tries = 0; tries < 4; tries++) {
      const slot = await this.reserve(gate);
      if (!slot.reserved) return { go: false, reason: slot.reason, waitMs: slot.waitMs };
      // A slot that was free at once (the rate is not saturated) has no queue of slots right
      // behind it to crowd: lateness only matters when callers wait for slots.
      if (await this.waitFor(slot)) return { go: true };
      // The gate (if any) now holds from a slot that was not used; the new slot must pass it.
      if (gate) await this.redis.del(gate.key);
    }
    return { go: false, reason: 'busy', waitMs: 0 };
  }

  /**
   * The smallest (local - Redis) difference seen is the clocks' offset plus the quickest one-way
   * reply. It may only grow slowly (1 ms per second), so that a clock that steps is followed, and
   * only fall slowly (OFFSET_FALL_MS_PER_S) after the first sample: a quicker reply than any
   * before (the first ones come while the process starts and is busy) would otherwise move every
   * later send that much earlier at once, next to the sends that waited by the old estimate: a
   * burst. Falling 3 ms a second crowds any second's sends by 3 ms at most.
   */
  private observeClock(redisNowUs: number): void {
    const now = localNowUs();
    const sample = now - redisNowUs;
    if (this.offsetUs === Number.POSITIVE_INFINITY) this.offsetUs = sample;
    const elapsedS = (now - this.offsetSeenAtUs) / 1_000_000;
    const highest = this.offsetUs + elapsedS * 1_000;
    const lowest = this.offsetUs - elapsedS * OFFSET_FALL_MS_PER_S * 1_000;
    this.offsetUs = Math.max(lowest, Math.min(sample, highest));
    this.offsetSeenAtUs = now;
  }
}
