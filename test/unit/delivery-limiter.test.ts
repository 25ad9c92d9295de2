import { describe, expect, it } from 'vitest';
import { limiterFor } from '../../src/jobs/delivery.js';

/**
 * BullMQ's limiter windows are back to back, so a sliding second can touch 1000/duration + 1 of
 * them: the configured rate must hold even then (Telegram counts any second).
 */
describe('the delivery limiter', () => {
  it('never lets more than the rate through in any second, from 1/s to 1000/s', () => {
    for (let rate = 1; rate <= 1000; rate++) {
      const { max, duration } = limiterFor(rate);
      const worstSecond = max * (Math.floor(1000 / duration) + 1);
      // Up to 100/s: one job per 1/rate seconds (at most one job over the rate, as before).
      expect(worstSecond, `rate ${rate}`).toBeLessThanOrEqual(rate <= 100 ? rate + 1 : rate);
    }
  });

  it('paces high rates with windows BullMQ can keep up with', () => {
    expect(limiterFor(25)).toEqual({ max: 1, duration: 40 });
    expect(limiterFor(1000)).toEqual({ max: 47, duration: 50 });
    // Nominally 940/s: within 6 % of the rate.
    expect((47 * 1000) / 50).toBeGreaterThan(0.94 * 1000 - 1);
  });
});
