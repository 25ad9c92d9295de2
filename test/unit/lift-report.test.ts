import { describe, expect, it } from 'vitest';
import { renderLiftReport } from '../../src/bot/broadcast-report.js';
import { createI18n, type I18n } from '../../src/bot/i18n.js';
import { renderNotification } from '../../src/bot/notifier.js';
import { summarize } from '../../src/domain/analytics/significance.js';
import { bucketOf, isControl, variantOf } from '../../src/domain/broadcasts/experiment.js';
import { liftReport, mergeArms } from '../../src/domain/broadcasts/lift.js';
import type { LiftArm } from '../../src/domain/broadcasts/types.js';
import { exampleProgram } from '../support/program.js';

const arm = (members: number, converted: number, redeemed: number, revenue: number[]): LiftArm => {
  const s = summarize(revenue);
  return { members, converted, redeemed, revenueMean: s.mean, revenueVariance: s.variance };
};
const repeat = (count: number, value: number) => Array<number>(count).fill(value);

const program = exampleProgram();
let i18n: I18n;
const lines = (text: string) => text.split('\n');

describe('the lift report a marketer reads', () => {
  const a = arm(5000, 640, 60, [...repeat(4000, 0), ...repeat(1000, 150_000)]);
  const b = arm(5000, 600, 40, [...repeat(4100, 0), ...repeat(900, 140_000)]);
  const control = arm(1000, 98, 1, [...repeat(900, 0), ...repeat(100, 130_000)]);

  it('says per metric what happened, with the interval, the p-value and a verdict, in English and Russian', async () => {
    i18n = await createI18n('ru');
    const report = liftReport(7, 7, { control, variantA: a, variantB: b }, true);
    const en = lines(renderLiftReport(i18n.t('en'), program, 'en', report));
    expect(en[0]).toBe('📊 <b>Broadcast #7: results 7 days after sending</b>');
    expect(en[1]).toBe('Got the message: 10,000 members. Control group (held back, got nothing): 1,000.');
    expect(en[2]).toBe('Conversion 12.4 % vs 9.8 % in the control group: +2.6 pp (95 % CI +0.6…+4.6), p = 0.016 — the campaign worked.');
    // Money as the locale writes it (Intl puts a no-break space after the currency code).
    expect(en[3]).toMatch(
      /^Revenue per member RUB\s276 vs RUB\s130 in the control group: \+RUB\s146 \(95 % CI \+RUB\s119\.34…\+RUB\s172\.66\), p &lt; 0\.001 — the campaign worked\.$/,
    );
    expect(en).toContain('Conversion 12.8 % vs 12.0 % for variant B: +0.8 pp (95 % CI -0.5…+2.1), p = 0.22 — no clear difference, it may be chance.');
    // Revenue differs between A and B, conversion does not: the winner is named by conversion only.
    expect(en.at(-1)).toBe('No winner: the difference in conversion may be chance.');
    const ru = lines(renderLiftReport(i18n.t('ru'), program, 'ru', report));
    expect(ru[2]).toBe('Конверсия 12,4 % против 9,8 % в контрольной группе: +2,6 п. п. (95 % ДИ +0,6…+4,6), p = 0,016 — кампания сработала.');
    expect(ru.at(-1)).toBe('Победителя нет: разница в конверсии может быть случайной.');
  });

  it('names the A/B winner when conversion differs at 5 %, and says when the campaign did worse', () => {
    const better = arm(2000, 400, 0, repeat(2000, 0));
    const worse = arm(2000, 300, 0, repeat(2000, 0));
    const report = liftReport(8, 7, { control: arm(400, 100, 0, repeat(400, 0)), variantA: worse, variantB: better }, true);
    expect(report.ab?.winner).toBe('B');
    const en = lines(renderLiftReport(i18n.t('en'), program, 'en', report));
    expect(en.at(-1)).toBe('🏆 Winner: variant B (the difference in conversion is significant at 5 %).');
    // 17.5 % sent against 25 % held back.
    expect(en[2]).toMatch(/^Conversion 17\.5 % vs 25\.0 % in the control group: -7\.5 pp .* — the campaign did worse than sending nothing\.$/);
  });

  it('says "too few members" instead of a p-value when a group is small, and without a control group says so', () => {
    const report = liftReport(9, 7, { control: arm(3, 0, 0, [0, 0, 0]), variantA: arm(30, 2, 0, repeat(30, 0)), variantB: null }, true);
    const en = lines(renderLiftReport(i18n.t('en'), program, 'en', report));
    expect(en[2]).toBe('Conversion 6.7 % vs 0.0 % in the control group: +6.7 pp; too few members to tell whether this is more than chance.');
    expect(en[2]).not.toContain('p =');
    expect(en[4]).toBe('Coupon redemption 0.0 % vs 0.0 % in the control group: 0.0 pp; too few members to tell whether this is more than chance.');
    const none = liftReport(10, 7, { control: arm(0, 0, 0, []), variantA: a, variantB: b }, false);
    expect(renderLiftReport(i18n.t('en'), program, 'en', none)).toContain('No control group was held back');
    // The outbox renders it through the notifier like any other chat message.
    expect(renderNotification(i18n, program, 'ru', { kind: 'broadcastLift', report }).text).toContain('участников слишком мало');
  });

  it('merges two groups into one exactly (counts, mean and sample variance)', () => {
    const x = [0, 0, 150, 300, 0, 90];
    const y = [0, 1200, 0, 0];
    const merged = mergeArms(arm(6, 3, 1, x), arm(4, 1, 0, y));
    const direct = summarize([...x, ...y]);
    expect(merged.members).toBe(10);
    expect(merged.converted).toBe(4);
    expect(merged.redeemed).toBe(1);
    expect(merged.revenueMean).toBeCloseTo(direct.mean, 10);
    expect(merged.revenueVariance).toBeCloseTo(direct.variance, 8);
  });
});

describe('assignment to groups', () => {
  it('is a fixed function of (broadcast, member), near the requested shares, and independent between the control cut and the A/B split', () => {
    expect(bucketOf('control', 12, 345)).toBe(bucketOf('control', 12, 345));
    let control = 0;
    let b = 0;
    let both = 0;
    const n = 20_000;
    for (let member = 1; member <= n; member++) {
      const held = isControl(42, member, 10);
      const variant = variantOf(42, member);
      if (held) control++;
      if (variant === 'B') b++;
      if (held && variant === 'B') both++;
    }
    // Binomial bounds (5 standard deviations), not exact counts.
    const within = (count: number, trials: number, p: number) => Math.abs(count - trials * p) < 5 * Math.sqrt(trials * p * (1 - p));
    expect(within(control, n, 0.1)).toBe(true);
    expect(within(b, n, 0.5)).toBe(true);
    expect(within(both, control, 0.5)).toBe(true);
    // 0 % holds back nobody; 50 % about half.
    expect(Array.from({ length: 1000 }, (_, i) => isControl(7, i + 1, 0)).some(Boolean)).toBe(false);
    expect(within(Array.from({ length: 1000 }, (_, i) => isControl(7, i + 1, 50)).filter(Boolean).length, 1000, 0.5)).toBe(true);
  });
});
