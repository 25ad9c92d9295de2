import { ratio } from './kpis.js';
import type { CohortFacts } from './types.js';

/**
 * Retention by monthly registration cohort, pure: row = the month members registered (local to
 * the program), column k = the k-th month after it (0: the month of registration), cell = share
 * of the cohort with a purchase in that month. Every month of the period has a row (an empty
 * cohort has size 0 and null cells) and every row runs to the period's last month, so that a
 * spreadsheet can lay the matrix out as is.
 */

export interface CohortRow {
  cohort: string;
  size: number;
  /** Members of the cohort with a purchase in month k after registration. */
  active: number[];
  /** active[k] / size; null for an empty cohort. */
  retention: (number | null)[];
}

/** YYYY-MM -> months since year 0, and back. */
const monthIndex = (month: string) => Number(month.slice(0, 4)) * 12 + Number(month.slice(5, 7)) - 1;
const monthOf = (index: number) => `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`;

/** `firstMonth`..`lastMonth` (YYYY-MM, inclusive): the months of the period. */
export function cohortMatrix(facts: CohortFacts[], firstMonth: string, lastMonth: string): CohortRow[] {
  const byMonth = new Map(facts.map((cohort) => [cohort.cohort, cohort]));
  const last = monthIndex(lastMonth);
  const rows: CohortRow[] = [];
  for (let index = monthIndex(firstMonth); index <= last; index++) {
    const month = monthOf(index);
    const cohort = byMonth.get(month);
    const size = cohort?.size ?? 0;
    const active = new Array<number>(last - index + 1).fill(0);
    for (const cell of cohort?.active ?? []) if (cell.offset >= 0 && cell.offset < active.length) active[cell.offset] = cell.members;
    rows.push({ cohort: month, size, active, retention: active.map((members) => ratio(members, size)) });
  }
  return rows;
}
