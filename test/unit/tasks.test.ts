import { describe, expect, it } from 'vitest';
import { advanceStreak, consumes, eligible, liveStreak, stepTask, type TaskEffect, targetPeriod } from '../../src/domain/tasks/engine.js';
import { shownName } from '../../src/domain/tasks/leaderboard.js';
import { isoWeekKey, periodEnd, periodKeyFor } from '../../src/domain/tasks/periods.js';
import type { Streak, TaskDefinition, TaskEvent, TaskInstance, TaskRecord } from '../../src/domain/tasks/types.js';
import { programWithTasks } from '../support/program.js';

const TZ = 'Europe/Moscow'; // UTC+3, no DST

function task(kind: TaskDefinition['kind'], extra: Partial<TaskDefinition> = {}): TaskDefinition {
  return { code: `t-${kind}`.toLowerCase(), kind, goal: 1, period: 'none', reward: { points: 10 }, autoClaim: true, title: { ru: kind, en: kind }, ...extra };
}

let nextId = 1;
const purchase = (at: string, amountMinor = 100_000, extra: Partial<Extract<TaskEvent, { type: 'purchase' }>> = {}): TaskEvent => {
  const id = nextId++;
  return { type: 'purchase', id: `purchase:${id}`, at: new Date(at), purchaseId: id, storeId: 1, storeCode: 'msk-01', amountMinor, first: false, ...extra };
};
const returnOf = (event: TaskEvent, at: string, amountMinor: number): TaskEvent => {
  if (event.type !== 'purchase') throw new Error('not a purchase');
  return { type: 'return', id: `return:${nextId++}`, at: new Date(at), purchaseId: event.purchaseId, amountMinor };
};
const checkInAt = (at: string): TaskEvent => ({ type: 'checkIn', id: `checkin:1:${at}`, at: new Date(at) });

/**
 * The engine driven as the use case drives it (src/domain/tasks/process-event.ts), with the state
 * in maps: what the engine decides, without a database.
 */
class Driver {
  instances = new Map<string, TaskInstance>();
  records = new Map<string, TaskRecord>();
  streak: Streak | null = null;
  effects: TaskEffect[] = [];

  constructor(
    readonly task: TaskDefinition,
    readonly tier: string | null = 'basic',
  ) {}

  apply(event: TaskEvent): this {
    if (!consumes(this.task, event)) return this;
    if (event.type !== 'return' && !eligible(this.task, this.tier, event.at, TZ)) return this;
    if (this.records.has(event.id)) return this; // counted before: a replay changes nothing
    const contribution = event.type === 'return' ? (this.records.get(`purchase:${event.purchaseId}`) ?? null) : null;
    const periodKey = targetPeriod(this.task, event, TZ, contribution);
    if (periodKey === null) return this;
    const out = stepTask({ task: this.task, event, timeZone: TZ, instance: this.instances.get(periodKey) ?? null, contribution, streak: this.streak });
    this.records.set(event.id, out.record);
    if (out.contribution) this.records.set(out.contribution.eventId, out.contribution);
    if (out.streak) this.streak = out.streak;
    this.instances.set(periodKey, out.instance);
    for (const effect of out.effects) {
      this.effects.push(effect);
      // autoClaim: the use case pays and marks the instance rewarded in the same transaction.
      if (effect.type === 'completed' && effect.reward) (this.instances.get(periodKey) as TaskInstance).rewardedAt = event.at;
    }
    return this;
  }

  instance(periodKey: string): TaskInstance | undefined {
    return this.instances.get(periodKey);
  }

  completions(): string[] {
    return this.effects.filter((e) => e.type === 'completed').map((e) => e.periodKey);
  }
}

describe('periods in the program time zone', () => {
  it('puts an instant in the local day, ISO week and month', () => {
    // 23:30 UTC on 30 November is 02:30 on 1 December in Moscow.
    const at = new Date('2026-11-30T23:30:00Z');
    expect(periodKeyFor('day', at, TZ)).toBe('2026-12-01');
    expect(periodKeyFor('month', at, TZ)).toBe('2026-12');
    expect(periodKeyFor('month', at, 'UTC')).toBe('2026-11');
    expect(periodKeyFor('week', at, TZ)).toBe('2026-W49');
    expect(periodKeyFor('none', at, TZ)).toBe('all');
    expect(periodKeyFor({ from: '2026-12-01', to: '2026-12-31' }, at, TZ)).toBe('range');
  });

  it('starts weeks on Monday, local time, and numbers them as ISO 8601 does', () => {
    expect(periodKeyFor('week', new Date('2026-11-29T20:59:00Z'), TZ)).toBe('2026-W48'); // Sunday 23:59
    expect(periodKeyFor('week', new Date('2026-11-29T21:00:00Z'), TZ)).toBe('2026-W49'); // Monday 00:00
    expect(isoWeekKey('2026-12-31')).toBe('2026-W53');
    expect(isoWeekKey('2027-01-01')).toBe('2026-W53');
    expect(isoWeekKey('2027-01-04')).toBe('2027-W01');
    expect(isoWeekKey('2025-12-29')).toBe('2026-W01');
  });

  it('ends periods at local midnight', () => {
    const at = new Date('2026-11-23T09:00:00Z');
    expect(periodEnd('day', at, TZ)?.toISOString()).toBe('2026-11-23T21:00:00.000Z');
    expect(periodEnd('week', at, TZ)?.toISOString()).toBe('2026-11-29T21:00:00.000Z');
    expect(periodEnd('month', at, TZ)?.toISOString()).toBe('2026-11-30T21:00:00.000Z');
    expect(periodEnd('month', new Date('2026-12-10T00:00:00Z'), TZ)?.toISOString()).toBe('2026-12-31T21:00:00.000Z');
    expect(periodEnd({ from: '2026-12-20', to: '2026-12-31' }, at, TZ)?.toISOString()).toBe('2026-12-31T21:00:00.000Z');
    expect(periodEnd('none', at, TZ)).toBeNull();
  });

  it('counts a purchase late on the last evening of the month in that month, and one minutes later in the next', () => {
    const driver = new Driver(task('purchases', { goal: 2, period: 'month' }));
    driver.apply(purchase('2026-11-30T20:59:00Z')).apply(purchase('2026-11-30T21:00:00Z'));
    expect(driver.instance('2026-11')?.progress).toBe(1);
    expect(driver.instance('2026-12')?.progress).toBe(1);
    expect(driver.completions()).toEqual([]);
  });
});

describe('each kind of task', () => {
  it('first purchase: only the member’s first purchase counts', () => {
    const driver = new Driver(task('firstPurchase'));
    driver.apply(purchase('2026-11-23T09:00:00Z', 1000, { first: false }));
    expect(driver.instance('all')).toBeUndefined();
    driver.apply(purchase('2026-11-23T10:00:00Z', 1000, { first: true }));
    expect(driver.instance('all')).toMatchObject({ progress: 1, goal: 1 });
    expect(driver.effects).toEqual([{ type: 'completed', taskCode: 't-firstpurchase', periodKey: 'all', reward: true }]);
  });

  it('N purchases in a month: completes on the Nth, once per month, and again next month', () => {
    const driver = new Driver(task('purchases', { goal: 3, period: 'month' }));
    for (const day of ['01', '10', '20', '25']) driver.apply(purchase(`2026-11-${day}T10:00:00Z`));
    expect(driver.instance('2026-11')).toMatchObject({ progress: 4, goal: 3 });
    expect(driver.completions()).toEqual(['2026-11']);
    for (const day of ['01', '02', '03']) driver.apply(purchase(`2026-12-${day}T10:00:00Z`));
    expect(driver.completions()).toEqual(['2026-11', '2026-12']);
  });

  it('a replayed event counts once', () => {
    const driver = new Driver(task('purchases', { goal: 2, period: 'month' }));
    const event = purchase('2026-11-23T10:00:00Z');
    driver.apply(event).apply(event).apply(event);
    expect(driver.instance('2026-11')?.progress).toBe(1);
    expect(driver.completions()).toEqual([]);
  });

  it('spend at least X in a period: sums the bills', () => {
    const driver = new Driver(task('spend', { goal: 500_000, period: 'month' }));
    driver.apply(purchase('2026-11-02T10:00:00Z', 200_000)).apply(purchase('2026-11-03T10:00:00Z', 250_000));
    expect(driver.instance('2026-11')?.progress).toBe(450_000);
    expect(driver.completions()).toEqual([]);
    driver.apply(purchase('2026-11-04T10:00:00Z', 60_000));
    expect(driver.completions()).toEqual(['2026-11']);
  });

  it('buy in N different stores', () => {
    const driver = new Driver(task('stores', { goal: 2, period: 'month' }));
    driver.apply(purchase('2026-11-02T10:00:00Z')).apply(purchase('2026-11-03T10:00:00Z'));
    expect(driver.instance('2026-11')).toMatchObject({ progress: 1, stores: { '1': 2 } });
    driver.apply(purchase('2026-11-04T10:00:00Z', 1000, { storeId: 2, storeCode: 'msk-02' }));
    expect(driver.instance('2026-11')).toMatchObject({ progress: 2, stores: { '1': 2, '2': 1 } });
    expect(driver.completions()).toEqual(['2026-11']);
  });

  it('purchase filters: minimum amount and stores', () => {
    const driver = new Driver(task('purchases', { goal: 5, period: 'none', minPurchaseMinor: 50_000, stores: ['msk-02'] }));
    driver.apply(purchase('2026-11-02T10:00:00Z', 60_000)); // wrong store
    driver.apply(purchase('2026-11-02T11:00:00Z', 40_000, { storeId: 2, storeCode: 'msk-02' })); // too small
    driver.apply(purchase('2026-11-02T12:00:00Z', 50_000, { storeId: 2, storeCode: 'msk-02' }));
    expect(driver.instance('all')?.progress).toBe(1);
  });

  it('complete the profile, answer a survey, join the channel, refer friends', () => {
    const profile = new Driver(task('profile')).apply({ type: 'profileCompleted', id: 'profile:1', at: new Date('2026-11-23T10:00:00Z') });
    expect(profile.completions()).toEqual(['all']);

    const survey = new Driver(task('survey', { survey: 'nps', period: 'month' }));
    survey.apply({ type: 'surveyAnswered', id: 'survey:1', at: new Date('2026-11-23T10:00:00Z'), survey: 'delivery' });
    expect(survey.instance('2026-11')).toBeUndefined();
    survey.apply({ type: 'surveyAnswered', id: 'survey:2', at: new Date('2026-11-23T10:00:00Z'), survey: 'nps' });
    expect(survey.completions()).toEqual(['2026-11']);

    const channel = new Driver(task('channel')).apply({ type: 'channelJoined', id: 'channel:1', at: new Date('2026-11-23T10:00:00Z') });
    expect(channel.completions()).toEqual(['all']);

    const referrals = new Driver(task('referrals', { goal: 2 }));
    referrals.apply({ type: 'referralConverted', id: 'referral:1', at: new Date('2026-11-23T10:00:00Z') });
    expect(referrals.completions()).toEqual([]);
    referrals.apply({ type: 'referralConverted', id: 'referral:2', at: new Date('2026-11-24T10:00:00Z') });
    expect(referrals.completions()).toEqual(['all']);
  });

  it('store visits: only the stores named, one event per store and day', () => {
    const driver = new Driver(task('storeVisit', { goal: 2, period: 'week', stores: ['msk-02'] }));
    const visit = (storeCode: string, day: string): TaskEvent => ({
      type: 'storeVisit',
      id: `visit:1:${storeCode}:${day}`,
      at: new Date(`${day}T10:00:00Z`),
      storeId: storeCode === 'msk-02' ? 2 : 1,
      storeCode,
    });
    driver.apply(visit('msk-01', '2026-11-23')).apply(visit('msk-02', '2026-11-23')).apply(visit('msk-02', '2026-11-23'));
    expect(driver.instance('2026-W48')?.progress).toBe(1);
    driver.apply(visit('msk-02', '2026-11-24'));
    expect(driver.completions()).toEqual(['2026-W48']);
  });

  it('tier limits and seasonal dates', () => {
    const quest = task('purchases', { goal: 1, period: { from: '2026-12-20', to: '2026-12-31' }, tiers: ['silver', 'gold'] });
    expect(eligible(quest, 'basic', new Date('2026-12-21T10:00:00Z'), TZ)).toBe(false);
    expect(eligible(quest, 'silver', new Date('2026-12-19T20:59:00Z'), TZ)).toBe(false); // 23:59 on the 19th
    expect(eligible(quest, 'silver', new Date('2026-12-19T21:00:00Z'), TZ)).toBe(true); // 00:00 on the 20th
    expect(eligible(quest, 'gold', new Date('2026-12-31T20:59:00Z'), TZ)).toBe(true);
    expect(eligible(quest, 'gold', new Date('2026-12-31T21:00:00Z'), TZ)).toBe(false);
    const window = task('spend', { goal: 10, period: 'month', from: '2026-11-10', to: '2026-11-20' });
    expect(eligible(window, null, new Date('2026-11-09T10:00:00Z'), TZ)).toBe(false);
    expect(eligible(window, null, new Date('2026-11-15T10:00:00Z'), TZ)).toBe(true);

    const driver = new Driver(quest, 'basic').apply(purchase('2026-12-21T10:00:00Z'));
    expect(driver.instances.size).toBe(0);
  });
});

describe('the daily check-in streak', () => {
  const rules = (graceDays: number) => ({
    graceDays,
    milestones: [
      { days: 3, points: 20 },
      { days: 7, points: 70, badge: 'week-streak' },
    ],
  });
  const checkInTask = (graceDays: number) => task('checkIn', { period: 'day', reward: { points: 5 }, streak: rules(graceDays) });
  // 10:00 Moscow on each day
  const on = (day: string) => checkInAt(`${day}T07:00:00Z`);

  it('counts days in a row and pays milestones once per run', () => {
    const driver = new Driver(checkInTask(0));
    for (const day of ['2026-11-01', '2026-11-02', '2026-11-03']) driver.apply(on(day));
    expect(driver.streak).toEqual({ current: 3, best: 3, startDate: '2026-11-01', lastDate: '2026-11-03' });
    expect(driver.effects.filter((e) => e.type === 'milestone')).toEqual([
      { type: 'milestone', taskCode: 't-checkin', milestone: { days: 3, points: 20 }, startDate: '2026-11-01' },
    ]);
    // Each day's check-in completes that day's instance.
    expect(driver.completions()).toEqual(['2026-11-01', '2026-11-02', '2026-11-03']);
    // Twice on one day: the same event id, nothing changes.
    driver.apply(on('2026-11-03'));
    expect(driver.streak?.current).toBe(3);
  });

  it('without a grace day, a missed day starts a new streak', () => {
    const driver = new Driver(checkInTask(0));
    for (const day of ['2026-11-01', '2026-11-02', '2026-11-04']) driver.apply(on(day));
    expect(driver.streak).toEqual({ current: 1, best: 2, startDate: '2026-11-04', lastDate: '2026-11-04' });
    expect(liveStreak(driver.streak, '2026-11-05', rules(0))).toBe(1);
    expect(liveStreak(driver.streak, '2026-11-06', rules(0))).toBe(0);
  });

  it('with a grace day, one missed day keeps the streak and two break it', () => {
    const driver = new Driver(checkInTask(1));
    for (const day of ['2026-11-01', '2026-11-02', '2026-11-04']) driver.apply(on(day));
    expect(driver.streak).toEqual({ current: 3, best: 3, startDate: '2026-11-01', lastDate: '2026-11-04' });
    expect(driver.effects.filter((e) => e.type === 'milestone')).toHaveLength(1);
    expect(liveStreak(driver.streak, '2026-11-06', rules(1))).toBe(3);
    driver.apply(on('2026-11-07'));
    expect(driver.streak).toEqual({ current: 1, best: 3, startDate: '2026-11-07', lastDate: '2026-11-07' });
  });

  it('uses local days: 23:30 and 00:30 Moscow time are two days in a row', () => {
    const driver = new Driver(checkInTask(0));
    driver.apply(checkInAt('2026-11-01T20:30:00Z')).apply(checkInAt('2026-11-01T21:30:00Z'));
    expect(driver.streak).toMatchObject({ current: 2, startDate: '2026-11-01', lastDate: '2026-11-02' });
  });

  it('reaches the week milestone with its badge', () => {
    const result = [...Array(7).keys()].reduce<{ streak: Streak | null; paid: number[] }>(
      (acc, i) => {
        const next = advanceStreak(acc.streak, `2026-11-${String(i + 1).padStart(2, '0')}`, rules(0));
        return { streak: next.streak, paid: [...acc.paid, ...next.milestones.map((m) => m.days)] };
      },
      { streak: null, paid: [] },
    );
    expect(result.paid).toEqual([3, 7]);
    expect(result.streak?.best).toBe(7);
  });
});

describe('a return rolls progress back', () => {
  it('a full return takes the purchase out of its count', () => {
    const driver = new Driver(task('purchases', { goal: 3, period: 'month', autoClaim: false }));
    const first = purchase('2026-11-02T10:00:00Z', 100_000);
    driver.apply(first).apply(purchase('2026-11-03T10:00:00Z'));
    driver.apply(returnOf(first, '2026-11-04T10:00:00Z', 40_000)); // partial: still a purchase
    expect(driver.instance('2026-11')?.progress).toBe(2);
    driver.apply(returnOf(first, '2026-11-05T10:00:00Z', 60_000)); // the rest
    expect(driver.instance('2026-11')?.progress).toBe(1);
    expect(driver.records.get(first.id)).toMatchObject({ value: 0, amountMinor: 0 });
  });

  it('in the period the purchase counted in, even when the return comes next month', () => {
    const driver = new Driver(task('purchases', { goal: 3, period: 'month' }));
    const november = purchase('2026-11-28T10:00:00Z');
    driver.apply(november).apply(purchase('2026-12-02T10:00:00Z'));
    driver.apply(returnOf(november, '2026-12-03T10:00:00Z', 100_000));
    expect(driver.instance('2026-11')?.progress).toBe(0);
    expect(driver.instance('2026-12')?.progress).toBe(1);
  });

  it('spend loses the returned amount; a replayed return takes nothing more', () => {
    const driver = new Driver(task('spend', { goal: 500_000, period: 'month' }));
    const big = purchase('2026-11-02T10:00:00Z', 300_000);
    driver.apply(big).apply(purchase('2026-11-03T10:00:00Z', 100_000));
    const back = returnOf(big, '2026-11-04T10:00:00Z', 120_000);
    driver.apply(back).apply(back);
    expect(driver.instance('2026-11')?.progress).toBe(280_000);
  });

  it('a purchase that falls below the task minimum stops counting', () => {
    const driver = new Driver(task('purchases', { goal: 3, period: 'month', minPurchaseMinor: 50_000 }));
    const bill = purchase('2026-11-02T10:00:00Z', 80_000);
    driver.apply(bill).apply(returnOf(bill, '2026-11-03T10:00:00Z', 40_000));
    expect(driver.instance('2026-11')?.progress).toBe(0);
  });

  it('stores: the store goes once none of its purchases stand', () => {
    const driver = new Driver(task('stores', { goal: 3, period: 'month' }));
    const a = purchase('2026-11-02T10:00:00Z');
    const b = purchase('2026-11-03T10:00:00Z', 1000, { storeId: 2, storeCode: 'msk-02' });
    driver.apply(a).apply(b).apply(purchase('2026-11-04T10:00:00Z'));
    driver.apply(returnOf(a, '2026-11-05T10:00:00Z', 100_000));
    expect(driver.instance('2026-11')).toMatchObject({ progress: 2, stores: { '1': 1, '2': 1 } });
    driver.apply(returnOf(b, '2026-11-05T11:00:00Z', 1000));
    expect(driver.instance('2026-11')).toMatchObject({ progress: 1, stores: { '1': 1 } });
  });

  it('an unclaimed completion is taken back; a paid one is kept and does not pay again', () => {
    const claim = new Driver(task('purchases', { goal: 2, period: 'month', autoClaim: false }));
    const p1 = purchase('2026-11-02T10:00:00Z');
    claim.apply(p1).apply(purchase('2026-11-03T10:00:00Z'));
    expect(claim.instance('2026-11')?.completedAt).not.toBeNull();
    claim.apply(returnOf(p1, '2026-11-04T10:00:00Z', 100_000));
    expect(claim.instance('2026-11')).toMatchObject({ progress: 1, completedAt: null, rewardedAt: null });
    expect(claim.effects.map((e) => e.type)).toEqual(['completed', 'reopened']);

    const auto = new Driver(task('purchases', { goal: 2, period: 'month', autoClaim: true }));
    const p2 = purchase('2026-11-02T10:00:00Z');
    auto.apply(p2).apply(purchase('2026-11-03T10:00:00Z'));
    auto.apply(returnOf(p2, '2026-11-04T10:00:00Z', 100_000));
    expect(auto.instance('2026-11')).toMatchObject({ progress: 1 });
    expect(auto.instance('2026-11')?.completedAt).not.toBeNull();
    auto.apply(purchase('2026-11-05T10:00:00Z'));
    expect(auto.instance('2026-11')?.progress).toBe(2);
    expect(auto.completions()).toEqual(['2026-11']);
  });

  it('first purchase: a full return before the reward was claimed takes it back', () => {
    const driver = new Driver(task('firstPurchase', { autoClaim: false }));
    const first = purchase('2026-11-02T10:00:00Z', 100_000, { first: true });
    driver.apply(first).apply(returnOf(first, '2026-11-03T10:00:00Z', 100_000));
    expect(driver.instance('all')).toMatchObject({ progress: 0, completedAt: null });
  });
});

describe('the program file', () => {
  it('ships example tasks of every kind but the channel, valid', () => {
    const program = programWithTasks();
    const kinds = new Set(program.tasks.list.map((t) => t.kind));
    expect([...kinds].sort()).toEqual(['checkIn', 'firstPurchase', 'profile', 'purchases', 'referrals', 'spend', 'storeVisit', 'stores', 'survey']);
    expect(program.tasks.referrals).toMatchObject({ enabled: true, minPurchaseMinor: 100_000, monthlyCap: 5 });
  });

  it('names what is wrong in a task', () => {
    expect(() =>
      programWithTasks((raw) => {
        const tasks = raw.tasks as { list: Record<string, unknown>[] };
        tasks.list.push({ code: 'bad', kind: 'profile', goal: 2, reward: { points: 0 }, title: { ru: 'x', en: 'x' } });
        tasks.list.push({ code: 'bad2', kind: 'purchases', reward: { points: 1, badge: 'nope', coupon: 'no-such' }, streak: {}, title: { ru: 'x', en: 'x' } });
        tasks.list.push({ code: 'bad3', kind: 'channel', reward: { points: 1 }, tiers: ['diamond'], title: { ru: 'x', en: 'x' } });
      }),
    ).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          expect.stringMatching(/^tasks\.list\[bad\]\.period: a profile task happens once/),
          expect.stringMatching(/^tasks\.list\[bad\]\.reward: a task must reward something/),
          expect.stringMatching(/^tasks\.list\[bad2\]\.streak: only for checkIn tasks/),
          expect.stringMatching(/^tasks\.list\[bad2\]\.reward\.badge: one of tasks\.badges/),
          expect.stringMatching(/^tasks\.list\[bad2\]\.reward\.coupon: a reward code of rewards\.catalogue/),
          expect.stringMatching(/^tasks\.list\[bad3\]\.kind: a channel task needs tasks\.channel/),
        ]),
      }),
    );
  });
});

describe('leaderboard names', () => {
  it('shows initials, the first name, or nothing', () => {
    expect(shownName('Anna Maria Smith', 'INITIALS')).toBe('A. M.');
    expect(shownName('анна', 'INITIALS')).toBe('А.');
    expect(shownName('Anna Smith', 'FIRST_NAME')).toBe('Anna');
    expect(shownName('Anna Smith', 'HIDDEN')).toBeNull();
    expect(shownName(null, 'FIRST_NAME')).toBeNull();
  });
});
