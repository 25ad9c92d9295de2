import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createI18n } from '../../src/bot/i18n.js';
import { renderNotification } from '../../src/bot/notifier.js';
import { ConfigError } from '../../src/config.js';
import { openCauses } from '../../src/domain/charity/donate.js';
import { type CharityReport, charityCsv, isMonth, monthRange, previousMonth } from '../../src/domain/charity/report.js';
import { prefersCsv } from '../../src/http/api/command.js';
import { parseProgram } from '../../src/program.js';
import { charityProgram } from '../support/charity.js';
import { exampleProgram } from '../support/program.js';

function problemsOf(work: () => unknown): string[] {
  try {
    work();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the program to be refused');
}

describe('the charity section of the program file', () => {
  it('is optional; causes are open unless closed, and the minimum defaults to 100', () => {
    expect(exampleProgram().charity).toBeUndefined();
    const program = charityProgram((charity) => delete charity.minPoints);
    expect(program.charity?.minPoints).toBe(100);
    expect(openCauses(program).map((cause) => cause.code)).toEqual(['shelter', 'trees']);
  });

  it('names the key of a duplicate code', () => {
    const problems = problemsOf(() =>
      charityProgram((charity) => {
        const causes = charity.causes as Record<string, unknown>[];
        causes.push({ ...causes[0] });
      }),
    );
    expect(problems).toEqual([expect.stringMatching(/charity\.causes\[shelter\]\.code.*duplicate cause code "shelter"/)]);
  });

  it('names the key of a bad code, a missing translation and an unknown key', () => {
    const problems = problemsOf(() =>
      charityProgram((charity) => {
        const causes = charity.causes as Record<string, unknown>[];
        causes.push({ code: 'Bad Code', name: { ru: 'x', en: 'x' }, description: { ru: 'x', en: 'x' } });
        causes.push({ code: 'half', name: { en: 'x' }, description: { ru: 'x', en: 'x' } });
        charity.minPoint = 5;
      }),
    );
    const text = problems.join('\n');
    expect(text).toContain('charity.causes[Bad Code].code');
    expect(text).toContain('charity.causes[half].name.ru');
    expect(text).toContain('minPoint');
  });
});

describe('a discount-only program (`points: none`)', () => {
  it('refuses a charity section, naming the key: there are no points to give', () => {
    const raw = parse(readFileSync(new URL('../../programs/briju.yaml', import.meta.url), 'utf8'));
    expect(raw.points).toBe('none');
    expect(parseProgram(raw, 'briju.yaml').charity).toBeUndefined();
    raw.charity = { causes: [{ code: 'shelter', name: { ru: 'Приют', en: 'Shelter' }, description: { ru: 'Корм', en: 'Food' } }] };
    expect(problemsOf(() => parseProgram(raw, 'briju.yaml'))).toEqual([expect.stringMatching(/^charity: not allowed with `points: none`/)]);
  });
});

describe('the monthly report message', () => {
  it('is the caption of its CSV: it says the sheet is attached, and a report too long for a caption keeps its title and total', async () => {
    const i18n = await createI18n('ru');
    const program = charityProgram();
    const cause = (causeCode: string) => ({ causeCode, points: 100, valueMinor: 10_000, donors: 1 });
    const report = (causes: ReturnType<typeof cause>[]) => ({
      kind: 'charityReport' as const,
      month: '2026-11',
      causes,
      overall: { points: 100 * causes.length, valueMinor: 10_000 * causes.length, donors: causes.length },
    });
    const short = renderNotification(i18n, program, 'en', report([cause('shelter')])).text;
    expect(short).toContain('Animal shelter (<code>shelter</code>): 100 points');
    expect(short).toContain('The transfer sheet (CSV) is attached.');
    // 40 causes (e.g. removed from the file since, named by their codes) overflow 1024 characters.
    const many = renderNotification(i18n, program, 'en', report(Array.from({ length: 40 }, (_, i) => cause(`cause-number-${i}`)))).text;
    expect(many.length).toBeLessThanOrEqual(1024);
    expect(many).not.toContain('cause-number-0');
    expect(many).toContain('Charity, 2026-11');
    expect(many).toContain('Total: <b>4,000 points</b>');
    expect(many).toContain('The transfer sheet (CSV) is attached.');
    expect(renderNotification(i18n, program, 'en', report([])).text).toBe('No donations in 2026-11.');
  });
});

describe('months in the program time zone', () => {
  it('parses YYYY-MM only, and gives the local month as a UTC range', () => {
    expect(['2026-11', '2027-01'].every(isMonth)).toBe(true);
    expect(['2026-13', '2026-00', '2026-1', '26-11', '2026-11-01', '1999-12'].some(isMonth)).toBe(false);
    const { from, to } = monthRange('2026-12', 'Europe/Moscow');
    expect([from.toISOString(), to.toISOString()]).toEqual(['2026-11-30T21:00:00.000Z', '2026-12-31T21:00:00.000Z']);
  });

  it('the previous month of a January is last December; local time decides near midnight', () => {
    expect(previousMonth(new Date('2027-01-01T06:00:00Z'), 'Europe/Moscow')).toBe('2026-12');
    // 2026-11-30 22:30 UTC is already 1 December in Moscow.
    expect(previousMonth(new Date('2026-11-30T22:30:00Z'), 'Europe/Moscow')).toBe('2026-11');
    expect(previousMonth(new Date('2026-11-30T22:30:00Z'), 'UTC')).toBe('2026-10');
  });
});

describe('the transfer CSV', () => {
  it('quotes commas and quotes, and keeps a spreadsheet from running a name as a formula', () => {
    const program = charityProgram((charity) => {
      const causes = charity.causes as { name: { en: string } }[];
      (causes[0] as { name: { en: string } }).name.en = 'Cats, dogs and "friends"';
      (causes[1] as { name: { en: string } }).name.en = '=HYPERLINK("http://evil")';
    });
    const total = { points: 100, valueMinor: 10_050, donors: 1, donations: 1 };
    const report: CharityReport = {
      month: '2026-11',
      currency: 'RUB',
      causes: [
        { causeCode: 'shelter', ...total },
        { causeCode: 'trees', ...total },
        { causeCode: 'gone', ...total },
      ],
      overall: total,
    };
    expect(charityCsv(program, report).split('\r\n')).toEqual([
      'month,cause_code,cause_name,url,points,amount,currency,donors,donations',
      '2026-11,shelter,"Cats, dogs and ""friends""",https://example.org/shelter,100,100.50,RUB,1,1',
      `2026-11,trees,"'=HYPERLINK(""http://evil"")",,100,100.50,RUB,1,1`,
      // A cause removed from the program keeps its row, named by its code.
      '2026-11,gone,gone,,100,100.50,RUB,1,1',
      '',
    ]);
  });
});

describe('content negotiation of GET /v1/charity/donations', () => {
  it('answers CSV only when text/csv ranks above JSON', () => {
    expect(prefersCsv(undefined)).toBe(false);
    expect(prefersCsv('*/*')).toBe(false);
    expect(prefersCsv('text/csv')).toBe(true);
    expect(prefersCsv('application/json, text/csv')).toBe(false);
    expect(prefersCsv('application/json;q=0.5, text/csv')).toBe(true);
    expect(prefersCsv('text/csv;q=0, application/json;q=0.1')).toBe(false);
  });
});
