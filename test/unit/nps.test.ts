import { describe, expect, it } from 'vitest';
import { weekStartOf } from '../../src/domain/nps/report.js';
import { countScores, groupOf, isScore, nps, npsExact, percent, roundHalfAway, summarize } from '../../src/domain/nps/score.js';
import { phaseOf } from '../../src/domain/nps/surveys.js';
import type { Survey } from '../../src/domain/nps/types.js';
import { exampleProgram } from '../support/program.js';

describe('NPS groups', () => {
  it('puts 0-6 with the detractors, 7-8 with the passives and 9-10 with the promoters', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(groupOf)).toEqual(Array(7).fill('detractor'));
    expect([7, 8].map(groupOf)).toEqual(['passive', 'passive']);
    expect([9, 10].map(groupOf)).toEqual(['promoter', 'promoter']);
  });

  it('draws the boundaries between 6 and 7 and between 8 and 9', () => {
    expect(groupOf(6)).toBe('detractor');
    expect(groupOf(7)).toBe('passive');
    expect(groupOf(8)).toBe('passive');
    expect(groupOf(9)).toBe('promoter');
  });

  it('knows a score only from 0 to 10, whole numbers', () => {
    for (const bad of [-1, 11, 3.5, Number.NaN, '5', null]) expect(isScore(bad)).toBe(false);
    expect(() => groupOf(11)).toThrow(RangeError);
    expect(() => groupOf(-1)).toThrow(RangeError);
  });
});

describe('NPS arithmetic', () => {
  it('is % promoters minus % detractors', () => {
    // 5 promoters, 3 passives, 2 detractors: 50 % - 20 % = 30.
    expect(nps(countScores([10, 9, 9, 10, 9, 8, 7, 7, 3, 0]))).toBe(30);
    expect(nps({ promoters: 1, passives: 0, detractors: 0 })).toBe(100);
    expect(nps({ promoters: 0, passives: 0, detractors: 4 })).toBe(-100);
  });

  it('is null, not NaN nor 0, when nobody answered', () => {
    expect(nps({ promoters: 0, passives: 0, detractors: 0 })).toBeNull();
    expect(npsExact({ promoters: 0, passives: 0, detractors: 0 })).toBeNull();
    expect(summarize({ sent: 0, promoters: 0, passives: 0, detractors: 0 })).toEqual({
      sent: 0,
      answered: 0,
      responseRate: null,
      promoters: 0,
      passives: 0,
      detractors: 0,
      nps: null,
    });
  });

  it('is 0 when everyone is passive (answers, but neither side)', () => {
    const counts = countScores([7, 8, 8, 7]);
    expect(counts).toEqual({ promoters: 0, passives: 4, detractors: 0 });
    expect(nps(counts)).toBe(0);
    expect(Object.is(nps(counts), -0)).toBe(false);
  });

  it('rounds to a whole number, halves away from zero, never -0', () => {
    // 1 promoter of 8: 12.5 -> 13; 1 detractor of 8: -12.5 -> -13.
    expect(nps({ promoters: 1, passives: 7, detractors: 0 })).toBe(13);
    expect(nps({ promoters: 0, passives: 7, detractors: 1 })).toBe(-13);
    // 1 of 3: 33.33 -> 33; 2 of 3: 66.67 -> 67.
    expect(nps({ promoters: 1, passives: 2, detractors: 0 })).toBe(33);
    expect(nps({ promoters: 2, passives: 1, detractors: 0 })).toBe(67);
    expect(roundHalfAway(-0.4)).toBe(0);
    expect(Object.is(roundHalfAway(-0.4), -0)).toBe(false);
  });

  it('reports the response rate as answered of sent, in whole percent', () => {
    expect(summarize({ sent: 8, promoters: 1, passives: 1, detractors: 1 })).toMatchObject({ answered: 3, responseRate: 38, nps: 0 });
    expect(percent(0, 5)).toBe(0);
    expect(percent(1, 0)).toBeNull();
  });
});

describe('NPS weeks', () => {
  it('starts a week on Monday', () => {
    expect(weekStartOf('2026-11-23')).toBe('2026-11-23'); // a Monday
    expect(weekStartOf('2026-11-29')).toBe('2026-11-23'); // the Sunday after
    expect(weekStartOf('2026-11-22')).toBe('2026-11-16');
    expect(weekStartOf('1970-01-01')).toBe('1969-12-29');
  });
});

describe('survey phases', () => {
  const config = exampleProgram().nps;
  const base: Survey = {
    id: 1,
    memberId: 1,
    trigger: 'purchase:1',
    purchaseId: 1,
    storeId: 1,
    status: 'SENT',
    score: null,
    group: null,
    reasons: [],
    comment: null,
    sentAt: new Date('2026-11-23T10:00:00Z'),
    answeredAt: null,
    completedAt: null,
    closedAt: null,
    alertedAt: null,
    handledAt: null,
    handledBy: null,
  };
  const at = (iso: string) => new Date(iso);

  it('is open until answerWithinDays, then closed', () => {
    expect(phaseOf(base, at('2026-11-29T10:00:00Z'), { ...config, answerWithinDays: 7 })).toBe('open');
    expect(phaseOf(base, at('2026-11-30T10:00:00Z'), { ...config, answerWithinDays: 7 })).toBe('closed');
  });

  it('takes changes within the change window after the first answer, and nothing after it', () => {
    const answered: Survey = { ...base, status: 'ANSWERED', score: 3, group: 'detractor', answeredAt: at('2026-11-23T11:00:00Z') };
    const window = { ...config, changeWindowMinutes: 60 };
    expect(phaseOf(answered, at('2026-11-23T11:59:00Z'), window)).toBe('answered');
    expect(phaseOf(answered, at('2026-11-23T12:00:00Z'), window)).toBe('closed');
    expect(phaseOf({ ...answered, status: 'CLOSED' }, at('2026-11-23T11:01:00Z'), window)).toBe('closed');
  });
});

describe('the nps section of the program file', () => {
  it('has defaults, and refuses what would break the buttons', () => {
    const program = exampleProgram((raw) => {
      delete raw.nps;
    });
    expect(program.nps).toMatchObject({
      enabled: true,
      delayMinutes: 120,
      minDaysBetweenSurveys: 30,
      changeWindowMinutes: 60,
      rewardPoints: 0,
      managerChatId: null,
    });
    expect(program.nps.reasons.detractor.length).toBeGreaterThan(0);
    expect(() =>
      exampleProgram((raw) => {
        raw.nps = { reasons: { detractor: [{ code: 'This Is Too Long For Callback Data', title: { ru: 'x', en: 'x' } }] } };
      }),
    ).toThrow(/nps\.reasons\.detractor\[This Is Too Long For Callback Data\]\.code/);
    expect(() =>
      exampleProgram((raw) => {
        raw.nps = { delayMinuts: 10 };
      }),
    ).toThrow(/delayMinuts/);
  });
});
