import { describe, expect, it } from 'vitest';
import { expiryFor } from '../../src/domain/ledger/expiry.js';
import { allocateFifo } from '../../src/domain/ledger/fifo.js';
import { nextTier, resolveTier, tierBand, tierForTotal } from '../../src/domain/tiers.js';
import { localDate, zonedTimeToUtc } from '../../src/domain/time.js';
import { exampleProgram } from '../support/program.js';

describe('tiers of the example program (6/9/12/15 %)', () => {
  const program = exampleProgram();
  it('gives the band of totals over which the tier stays the one reached', () => {
    // A purchase's tier decision holds while the total stays in its band (record-purchase.ts).
    expect(tierBand(program, -5)).toEqual({ min: null, max: 1_499_999 });
    expect(tierBand(program, 0)).toEqual({ min: null, max: 1_499_999 });
    expect(tierBand(program, 1_500_000)).toEqual({ min: 1_500_000, max: 4_999_999 });
    expect(tierBand(program, 4_999_999)).toEqual({ min: 1_500_000, max: 4_999_999 });
    expect(tierBand(program, 20_000_000)).toEqual({ min: 15_000_000, max: null });
    for (const total of [0, 1_499_999, 1_500_000, 7_000_000, 15_000_000]) {
      const band = tierBand(program, total);
      for (const edge of [band.min, band.max]) if (edge !== null) expect(tierForTotal(program, edge).code).toBe(tierForTotal(program, total).code);
      if (band.min !== null) expect(tierForTotal(program, band.min - 1).code).not.toBe(tierForTotal(program, total).code);
      if (band.max !== null) expect(tierForTotal(program, band.max + 1).code).not.toBe(tierForTotal(program, total).code);
    }
  });
  it.each([
    [0, 'basic', 6],
    [1_499_999, 'basic', 6],
    [1_500_000, 'silver', 9],
    [4_999_999, 'silver', 9],
    [5_000_000, 'gold', 12],
    [15_000_000, 'platinum', 15],
    [99_000_000, 'platinum', 15],
  ])('a qualifying spend of %i minor units is %s with %i %%', (total, code, discount) => {
    const tier = tierForTotal(program, total);
    expect([tier.code, tier.discountPercent]).toEqual([code, discount]);
  });

  it('tells what the next tier needs, and nothing at the top', () => {
    const basic = tierForTotal(program, 1_000_000);
    expect(nextTier(program, basic, 1_000_000)).toMatchObject({ tier: { code: 'silver' }, missing: 500_000 });
    expect(nextTier(program, tierForTotal(program, 20_000_000), 20_000_000)).toBeNull();
  });

  it('keeps a reached tier under `never` and follows the total under `reevaluate`', () => {
    expect(resolveTier(program, 'gold', 0).code).toBe('gold');
    const reevaluating = exampleProgram((raw) => {
      (raw.tiers as Record<string, unknown>).downgrade = 'reevaluate';
    });
    expect(resolveTier(reevaluating, 'gold', 0).code).toBe('basic');
    expect(resolveTier(reevaluating, 'basic', 5_000_000).code).toBe('gold');
  });
});

describe('time zones and expiry', () => {
  it('finds the local calendar date', () => {
    expect(localDate(new Date('2026-11-23T21:30:00Z'), 'Europe/Moscow')).toBe('2026-11-24');
    expect(localDate(new Date('2026-11-23T21:30:00Z'), 'UTC')).toBe('2026-11-23');
  });

  it('converts wall-clock time to UTC across DST', () => {
    expect(zonedTimeToUtc({ year: 2026, month: 7, day: 1, hour: 9, minute: 0 }, 'Europe/Berlin').toISOString()).toBe('2026-07-01T07:00:00.000Z');
    expect(zonedTimeToUtc({ year: 2026, month: 1, day: 1, hour: 9, minute: 0 }, 'Europe/Berlin').toISOString()).toBe('2026-01-01T08:00:00.000Z');
  });

  it('computes lot expiry for each policy', () => {
    const earned = new Date('2026-03-15T12:00:00Z');
    expect(expiryFor({ kind: 'never' }, earned, 'Europe/Moscow')).toBeNull();
    expect(expiryFor({ kind: 'days', days: 30 }, earned, 'Europe/Moscow')?.toISOString()).toBe('2026-04-14T12:00:00.000Z');
    // Earned in March, 12 months after: gone at the first instant of April next year, Moscow time.
    expect(expiryFor({ kind: 'endOfMonth', monthsAfter: 12 }, earned, 'Europe/Moscow')?.toISOString()).toBe('2027-03-31T21:00:00.000Z');
    expect(expiryFor({ kind: 'endOfMonth', monthsAfter: 0 }, new Date('2026-12-10T00:00:00Z'), 'UTC')?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
});

describe('FIFO allocation', () => {
  const lot = (id: number, remaining: number, expiresAt: string | null) => ({ id, remaining, expiresAt: expiresAt ? new Date(expiresAt) : null });
  it('draws the soonest-expiring lots first and never-expiring ones last', () => {
    const lots = [lot(1, 50, null), lot(2, 30, '2027-01-01'), lot(3, 40, '2026-12-01'), lot(4, 10, '2026-12-01')];
    expect(allocateFifo(lots, 75)).toEqual([
      { lotId: 3, amount: 40 },
      { lotId: 4, amount: 10 },
      { lotId: 2, amount: 25 },
    ]);
    expect(allocateFifo(lots, 130).at(-1)).toEqual({ lotId: 1, amount: 50 });
  });
  it('refuses to paper over lots that hold less than asked', () => {
    expect(() => allocateFifo([lot(1, 5, null)], 6)).toThrow(/invariant/);
  });
});
