import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { audienceQuery, normalizeSegment, segmentProblems } from '../../src/domain/broadcasts/segment.js';
import type { Segment } from '../../src/domain/broadcasts/types.js';
import { ManualClock } from '../../src/domain/clock.js';
import { CODE_ALPHABET, checkCharacter, formatCode, isWellFormedCode, normalizeCode } from '../../src/domain/codes.js';
import { proportionalShare } from '../../src/domain/ledger/earn-rules.js';
import { allocateFifo } from '../../src/domain/ledger/fifo.js';
import type { OpenLot } from '../../src/domain/ledger/types.js';
import type { DomainDeps } from '../../src/domain/ports.js';
import { exampleProgram } from '../support/program.js';

/**
 * Properties of the pure domain rules, over generated inputs (fast-check). A failure prints the
 * seed and path that replay it (fc.assert(..., { seed, path })). Runs are kept modest: these
 * complement the example-based tests next to them, they do not replace them.
 */

describe('proportional returns (earn-rules)', () => {
  // A purchase of `amount` minor units that earned (or was paid with) `total` points, returned
  // in parts: each part's share is computed from what had been returned before it.
  const returns = fc
    .record({ total: fc.nat({ max: 1_000_000 }), amount: fc.integer({ min: 1, max: 10_000_000 }) })
    .chain(({ total, amount }) =>
      fc.record({ total: fc.constant(total), amount: fc.constant(amount), cuts: fc.uniqueArray(fc.integer({ min: 1, max: amount }), { maxLength: 12 }) }),
    );

  it('partial returns add up exactly to the full reversal, each share within 0..total', () => {
    fc.assert(
      fc.property(returns, ({ total, amount, cuts }) => {
        // The cut points split 0..amount into consecutive returns, the last one up to everything.
        const points = [...new Set([...cuts, amount])].sort((a, b) => a - b);
        let before = 0;
        let sum = 0;
        for (const after of points) {
          const share = proportionalShare(total, amount, before, after);
          expect(share).toBeGreaterThanOrEqual(0);
          expect(Number.isInteger(share)).toBe(true);
          sum += share;
          // Cumulative: never more than the exact proportion of what has come back so far.
          expect(sum).toBeLessThanOrEqual((total * after) / amount);
          before = after;
        }
        expect(sum).toBe(total);
        expect(proportionalShare(total, amount, 0, amount)).toBe(total);
      }),
      { numRuns: 300 },
    );
  });
});

describe('FIFO allocation', () => {
  const lots = fc
    .uniqueArray(
      fc.record({
        id: fc.integer({ min: 1, max: 1_000 }),
        remaining: fc.nat({ max: 500 }),
        // Few distinct dates, so that equal expiries (ordered by id) are common.
        expiresAt: fc.option(
          fc.nat({ max: 4 }).map((day) => new Date(Date.UTC(2030, 0, 1 + day))),
          { nil: null },
        ),
      }),
      { selector: (lot) => lot.id, maxLength: 12 },
    )
    .chain((open) => {
      const held = open.reduce((sum, lot) => sum + lot.remaining, 0);
      return fc.record({ lots: fc.constant(open as OpenLot[]), amount: fc.nat({ max: held }) });
    });

  it('sums to the amount, never takes more than a lot holds, and draws the oldest-expiring lots first', () => {
    fc.assert(
      fc.property(lots, ({ lots: open, amount }) => {
        const allocations = allocateFifo(open, amount);
        expect(allocations.reduce((sum, a) => sum + a.amount, 0)).toBe(amount);
        const byId = new Map(open.map((lot) => [lot.id, lot]));
        expect(new Set(allocations.map((a) => a.lotId)).size).toBe(allocations.length);
        for (const a of allocations) {
          expect(a.amount).toBeGreaterThan(0);
          expect(a.amount).toBeLessThanOrEqual(byId.get(a.lotId)?.remaining ?? 0);
        }
        // In spending order, and every non-empty lot that comes before the last one drawn is
        // drawn empty: nothing later is touched while something sooner still holds points.
        // The order, stated independently of fifo.ts: soonest expiry first, never-expiring
        // last, the older (lower id) lot first on equal expiry.
        const expiry = (lot: OpenLot) => lot.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
        const order = open.filter((lot) => lot.remaining > 0).sort((a, b) => (expiry(a) < expiry(b) ? -1 : expiry(a) > expiry(b) ? 1 : a.id - b.id));
        const drawn = order.slice(0, allocations.length);
        expect(allocations.map((a) => a.lotId)).toEqual(drawn.map((lot) => lot.id));
        for (const [i, a] of allocations.slice(0, -1).entries()) expect(a.amount).toBe(drawn[i]?.remaining);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to draw more than the lots hold', () => {
    fc.assert(
      fc.property(lots, fc.integer({ min: 1, max: 100 }), ({ lots: open }, extra) => {
        const held = open.reduce((sum, lot) => sum + lot.remaining, 0);
        expect(() => allocateFifo(open, held + extra)).toThrow(/ledger invariant broken/);
      }),
      { numRuns: 100 },
    );
  });
});

describe('code check characters', () => {
  // Bodies of any length the check scheme supports (up to 29 characters plus the check).
  const code = fc
    .array(fc.constantFrom(...CODE_ALPHABET), { minLength: 1, maxLength: 29 })
    .map((chars) => chars.join(''))
    .map((body) => body + checkCharacter(body));

  it('every well-formed code passes, and survives formatting and re-typing', () => {
    fc.assert(
      fc.property(code, (c) => {
        expect(isWellFormedCode(c, c.length)).toBe(true);
        expect(normalizeCode(formatCode(c).toLowerCase())).toBe(c);
      }),
      { numRuns: 200 },
    );
  });

  it('every single-character substitution, in any position, the check character included, is detected', () => {
    fc.assert(
      fc.property(code, (c) => {
        // One expect per code, not per case: an expect costs far more than the check.
        const accepted: string[] = [];
        for (let i = 0; i < c.length; i++) {
          for (const other of CODE_ALPHABET) {
            if (other === c[i]) continue;
            const typo = c.slice(0, i) + other + c.slice(i + 1);
            if (isWellFormedCode(typo, c.length)) accepted.push(`${c} -> ${typo}`);
          }
        }
        expect(accepted).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it('every swap of two different characters is detected, adjacent or not', () => {
    fc.assert(
      fc.property(code, (c) => {
        const accepted: string[] = [];
        for (let i = 0; i < c.length; i++) {
          for (let j = i + 1; j < c.length; j++) {
            if (c[i] === c[j]) continue;
            const chars = [...c];
            [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
            if (isWellFormedCode(chars.join(''), c.length)) accepted.push(`${c}: swap ${i} and ${j}`);
          }
        }
        expect(accepted).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});

describe('segment normalising', () => {
  const program = exampleProgram();
  const tiers = program.tiers.levels.map((level) => level.code);
  const STORES = ['msk-01', 'msk-02', 'spb-01'];
  // Lists with repeats and empties, flags false or true, days and balances in range or not:
  // what a marketer's form or the CRM might send. null stands for a key sent as null.
  const list = <T>(values: readonly T[]) => fc.option(fc.array(fc.constantFrom(...values), { maxLength: 5 }), { nil: undefined });
  const days = fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined });
  const flag = fc.option(fc.boolean(), { nil: undefined });
  const segment: fc.Arbitrary<Segment> = fc.record(
    {
      tiers: list(tiers),
      languages: list(['ru', 'en'] as const),
      stores: list(STORES),
      npsGroups: list(['promoter', 'passive', 'detractor'] as const),
      lastPurchaseOlderThanDays: days,
      lastPurchaseWithinDays: days,
      registeredWithinDays: days,
      pointsExpiringWithinDays: days,
      birthdayThisMonth: flag,
      neverPurchased: flag,
      minBalance: fc.option(fc.nat({ max: 1_000 }), { nil: undefined }),
    },
    { requiredKeys: [] },
  );
  const dedupe = (value: unknown) => (Array.isArray(value) ? [...new Set(value)] : value);
  const isEmpty = (value: unknown) => value === undefined || value === null || value === false || (Array.isArray(value) && value.length === 0);

  it('is idempotent', () => {
    fc.assert(
      fc.property(segment, (s) => {
        const once = normalizeSegment(s);
        expect(normalizeSegment(once)).toEqual(once);
      }),
      { numRuns: 300 },
    );
  });

  it('drops exactly the empty keys and repeats, keeping each list in first-seen order', () => {
    fc.assert(
      fc.property(segment, (s) => {
        const normal = normalizeSegment(s) as Record<string, unknown>;
        for (const [key, value] of Object.entries(s)) {
          if (isEmpty(value)) expect(normal).not.toHaveProperty(key);
          else expect(normal[key]).toEqual(dedupe(value));
        }
        expect(Object.keys(normal).every((key) => key in s)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('ignores the order of keys and repeats in lists', () => {
    fc.assert(
      fc.property(segment, fc.nat(), (s, rotate) => {
        const entries = Object.entries(s);
        const shift = entries.length ? rotate % entries.length : 0;
        const reordered = Object.fromEntries([...entries.slice(shift), ...entries.slice(0, shift)]) as Segment;
        const doubled = Object.fromEntries(entries.map(([key, value]) => [key, Array.isArray(value) ? [...value, ...value] : value])) as Segment;
        expect(normalizeSegment(reordered)).toEqual(normalizeSegment(s));
        expect(normalizeSegment(doubled)).toEqual(normalizeSegment(s));
      }),
      { numRuns: 300 },
    );
  });

  it('never changes who a valid segment reaches: same problems (none), same audience query', async () => {
    const clock = new ManualClock(new Date('2026-11-23T09:00:00Z'));
    const deps = {
      clock,
      program,
      repos: { stores: { findByCode: async (code: string) => (STORES.includes(code) ? { id: STORES.indexOf(code) + 1, code } : null) } },
    } as unknown as DomainDeps;
    await fc.assert(
      fc.asyncProperty(segment, async (s) => {
        fc.pre(segmentProblems(s, program).length === 0);
        const normal = normalizeSegment(s);
        expect(segmentProblems(normal, program)).toEqual([]);
        const before = await audienceQuery(deps, s, { strict: true });
        const after = await audienceQuery(deps, normal, { strict: true });
        // Repeats in a list match the same members: compare lists as sets.
        const asSets = (query: object) => Object.fromEntries(Object.entries(query).map(([key, value]) => [key, dedupe(value)]));
        expect(asSets(after)).toEqual(asSets(before));
      }),
      { numRuns: 200 },
    );
  });
});
