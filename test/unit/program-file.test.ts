import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { pointsForPurchase } from '../../src/domain/ledger/earn-rules.js';
import { tierByCode } from '../../src/domain/tiers.js';
import { parseProgram } from '../../src/program.js';
import { exampleProgram, programWithTasks } from '../support/program.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests poke wrong values into the raw document.
type Raw = Record<string, any>;
const problems = (change: (raw: Raw) => void, withTasks = false): string[] => {
  try {
    (withTasks ? programWithTasks : exampleProgram)(change as (raw: Record<string, unknown>) => void);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('program file problems name the element by its code', () => {
  it('a tier, a reward and a store', () => {
    const found = problems((raw) => {
      raw.tiers.levels[1].threshold = -5;
      raw.tiers.levels[3].discountPercent = 120;
      raw.rewards.catalogue[0].cost = -1;
      raw.stores[1].name = '';
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^tiers\.levels\[silver\]\.threshold: /),
        expect.stringMatching(/^tiers\.levels\[platinum\]\.discountPercent: /),
        expect.stringMatching(/^rewards\.catalogue\[free-coffee\]\.cost: /),
        expect.stringMatching(/^stores\[msk-02\]\.name: /),
      ]),
    );
    expect(found.join('\n')).not.toMatch(/levels\.\d|catalogue\.\d|stores\.\d/);
  });

  it('a reward whose minimum tier is unknown, and a task and a badge', () => {
    const found = problems((raw) => {
      raw.rewards.catalogue[0].minTier = 'diamond';
      raw.tasks.badges[0].icon = '';
      raw.tasks.list[0].typo = 3;
    }, true);
    const program = programWithTasks();
    const task = program.tasks.list[0]?.code;
    const badge = program.tasks.badges[0]?.code;
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^rewards\.catalogue\[free-coffee\]\.minTier: one of the tiers: basic, silver, gold, platinum/),
        expect.stringMatching(new RegExp(`^tasks\\.badges\\[${badge}\\]\\.icon: `)),
        expect.stringMatching(new RegExp(`^tasks\\.list\\[${task}\\]: .*typo`)),
      ]),
    );
  });

  it('an element without a code keeps its position, and a bad code is still shown', () => {
    const found = problems((raw) => {
      raw.earn.promos = [{ name: { ru: 'x', en: 'x' }, from: '2026-01-02', to: '2026-01-01', multiplier: 2 }];
      raw.tiers.levels[2].code = 'Gold!';
    });
    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(/^earn\.promos\.0\.to: /), expect.stringMatching(/^tiers\.levels\[Gold!\]\.code: /)]));
  });

  it('stops start-up with the file name and every problem', () => {
    expect(() => parseProgram({ name: 'x' }, 'programs/broken.yaml')).toThrow(ConfigError);
    try {
      parseProgram({ name: 'x' }, 'programs/broken.yaml');
    } catch (error) {
      expect((error as Error).message).toContain('programs/broken.yaml');
      expect((error as ConfigError).problems).toEqual(expect.arrayContaining([expect.stringMatching(/^name: /), expect.stringMatching(/^currency: /)]));
    }
  });
});

describe('earn rates with three decimals', () => {
  it('accepts 1.5 % and 1.125 points per unit, refuses a fourth decimal with a clear message', () => {
    expect(exampleProgram((raw: Raw) => (raw.earn.rate = { percent: 1.5 })).earn.rate).toEqual({ percent: 1.5 });
    expect(exampleProgram((raw: Raw) => (raw.earn.rate = { pointsPerUnit: 1.125 })).earn.rate).toEqual({ pointsPerUnit: 1.125 });
    expect(problems((raw) => (raw.earn.rate = { percent: 1.0005 }))).toEqual([
      'earn.rate.percent: at most 3 decimals (e.g. 1.5 or 1.125); the earn maths counts thousandths',
    ]);
    expect(problems((raw) => (raw.tiers.levels[1].earn = { pointsPerUnit: 0.0001 }))).toEqual([
      'tiers.levels[silver].earn.pointsPerUnit: at most 3 decimals (e.g. 1.5 or 1.125); the earn maths counts thousandths',
    ]);
    expect(problems((raw) => (raw.earn.rate = { percent: 1, pointsPerUnit: 1 }))).toEqual(['earn.rate: exactly one of `pointsPerUnit` or `percent`']);
    expect(problems((raw) => (raw.earn.rate = {}))).toEqual(['earn.rate: exactly one of `pointsPerUnit` or `percent`']);
  });

  it('1.5 % of 1 234.56 at 1.00 a point is 18.5184 points: 18 / 19 / 19 by rounding', () => {
    for (const [rounding, expected] of [
      ['floor', 18],
      ['round', 19],
      ['ceil', 19],
    ] as const) {
      const program = exampleProgram((raw: Raw) => {
        raw.earn.rate = { percent: 1.5 };
        raw.earn.rounding = rounding;
      });
      expect(pointsForPurchase(program, tierByCode(program, 'basic'), { billMinor: 123_456, paidMinor: 123_456, localDay: '2026-06-01' })).toBe(expected);
    }
  });

  /** The exact rational result, from the rate's decimal text (not from the float the program holds). */
  const exact = (numerator: bigint, denominator: bigint, rounding: 'floor' | 'round' | 'ceil'): number => {
    const q = numerator / denominator;
    const r = numerator % denominator;
    if (r === 0n || rounding === 'floor') return Number(q);
    if (rounding === 'ceil') return Number(q + 1n);
    return Number(2n * r >= denominator ? q + 1n : q);
  };
  const decimalText = (thousandths: number) => `${Math.floor(thousandths / 1000)}.${String(thousandths % 1000).padStart(3, '0')}`;

  it('earns exactly floor/round/ceil of the rational amount for any 3-decimal rate (no float drift)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }), // percent in thousandths: 0.000 .. 100.000
        fc.integer({ min: 1, max: 1_000_000 }), // pointsPerUnit in thousandths: 0.001 .. 1000.000
        fc.integer({ min: 1, max: 10_000_000_000 }), // paid, minor units
        fc.integer({ min: 1, max: 10_000 }), // point value, minor units
        fc.constantFrom('floor' as const, 'round' as const, 'ceil' as const),
        fc.boolean(),
        (percentK, perUnitK, paid, pointValue, rounding, cashback) => {
          const text = decimalText(cashback ? percentK : perUnitK);
          const program = exampleProgram((raw: Raw) => {
            raw.earn.rate = cashback ? { percent: Number(text) } : { pointsPerUnit: Number(text) };
            raw.earn.rounding = rounding;
            raw.points.pointValueMinor = pointValue;
          });
          const rate = BigInt(text.replace('.', '')); // thousandths, from the text
          // RUB has 2 minor digits: points per unit -> paid * rate / 1000 / 100; percent -> paid * rate / 1000 / 100 / pointValue.
          const expected = cashback ? exact(BigInt(paid) * rate, 100_000n * BigInt(pointValue), rounding) : exact(BigInt(paid) * rate, 100_000n, rounding);
          const got = pointsForPurchase(program, tierByCode(program, 'basic'), { billMinor: paid, paidMinor: paid, localDay: '2026-06-01' });
          expect(got).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
