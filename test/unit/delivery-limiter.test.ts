import { describe, expect, it } from 'vitest';
import { limiterFor } from '../../src/jobs/delivery.js';
import { emissionIntervalUs, RATE_HEADROOM } from '../../src/jobs/send-rate.js';

/**
 * The parameters of the delivery pace. The GCRA itself (one Lua script) is tested on real Redis
 * in test/db/send-rate.test.ts; here: the interval it is given, and BullMQ's coarse ceiling.
 */
describe('the send interval', () => {
  it('never allows more than the rate in any second, and uses at least 97 % of it, from 1/s to 1000/s', () => {
    for (let rate = 1; rate <= 1000; rate++) {
      const interval = emissionIntervalUs(rate);
      // Slots at least `interval` apart: a second (half-open, as Telegram and the fake count it) holds at most this many.
      expect(Math.ceil(1_000_000 / interval), `rate ${rate}`).toBeLessThanOrEqual(rate);
      expect(1_000_000 / interval, `rate ${rate}`).toBeGreaterThanOrEqual(0.97 * rate);
    }
  });

  it('leaves 25 ms of arrival jitter within any second', () => {
    for (const rate of [1, 25, 30, 100, 999, 1000]) {
      // rate + 1 messages, the most that would be refused, span at least this much.
      expect(rate * emissionIntervalUs(rate) - 1_000_000, `rate ${rate}`).toBeGreaterThanOrEqual(25_000);
    }
    expect(RATE_HEADROOM).toBeLessThanOrEqual(0.03);
  });
});

describe("BullMQ's limiter on the delivery queues", () => {
  it('is a ceiling of about twice the rate, so that it never paces in the GCRA’s place', () => {
    for (let rate = 1; rate <= 1000; rate++) {
      const { max, duration } = limiterFor(rate);
      expect(max, `rate ${rate}`).toBeGreaterThanOrEqual(1);
      expect((max * 1_000) / duration, `rate ${rate}`).toBeGreaterThanOrEqual(2 * rate);
    }
    expect(limiterFor(30)).toEqual({ max: 6, duration: 100 });
    expect(limiterFor(1000)).toEqual({ max: 200, duration: 100 });
  });
});
