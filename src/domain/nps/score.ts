/**
 * NPS arithmetic. "How likely are you to recommend us?" 0-10: promoters 9-10, passives 7-8,
 * detractors 0-6; NPS = % promoters - % detractors, from -100 to +100.
 */

export const NPS_GROUPS = ['promoter', 'passive', 'detractor'] as const;
export type NpsGroup = (typeof NPS_GROUPS)[number];

export const MIN_SCORE = 0;
export const MAX_SCORE = 10;

export const isScore = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= MIN_SCORE && (value as number) <= MAX_SCORE;

export function groupOf(score: number): NpsGroup {
  if (!isScore(score)) throw new RangeError(`not an NPS score: ${score}`);
  if (score >= 9) return 'promoter';
  if (score >= 7) return 'passive';
  return 'detractor';
}

export interface GroupCounts {
  promoters: number;
  passives: number;
  detractors: number;
}

/** Rounds half away from zero (12.5 -> 13, -12.5 -> -13), and never returns -0. */
export function roundHalfAway(value: number): number {
  const rounded = Math.sign(value) * Math.round(Math.abs(value));
  return rounded === 0 ? 0 : rounded;
}

/** The exact NPS (a fraction of 100); null when nobody answered (not NaN, not 0). */
export function npsExact(counts: GroupCounts): number | null {
  const answers = counts.promoters + counts.passives + counts.detractors;
  if (answers === 0) return null;
  return (100 * (counts.promoters - counts.detractors)) / answers;
}

/** The NPS as it is reported: a whole number from -100 to +100, or null with no answers. */
export function nps(counts: GroupCounts): number | null {
  const exact = npsExact(counts);
  return exact === null ? null : roundHalfAway(exact);
}

/** `part` of `whole` in whole percent; null when `whole` is 0. */
export function percent(part: number, whole: number): number | null {
  return whole === 0 ? null : roundHalfAway((100 * part) / whole);
}

/** One population of surveys: how many were sent, how they were answered, and the score. */
export interface NpsSummary extends GroupCounts {
  /** Surveys sent. */
  sent: number;
  /** Of those, answered (with a score). */
  answered: number;
  /** answered / sent in whole percent; null when none were sent. */
  responseRate: number | null;
  /** Whole number from -100 to +100; null when none were answered. */
  nps: number | null;
}

export const emptyCounts = (): GroupCounts & { sent: number } => ({ sent: 0, promoters: 0, passives: 0, detractors: 0 });

export function summarize(counts: GroupCounts & { sent: number }): NpsSummary {
  const answered = counts.promoters + counts.passives + counts.detractors;
  return {
    sent: counts.sent,
    answered,
    responseRate: percent(answered, counts.sent),
    promoters: counts.promoters,
    passives: counts.passives,
    detractors: counts.detractors,
    nps: nps(counts),
  };
}

/** Adds `more` into `into` (counts of several stores or weeks). */
export function addCounts<T extends GroupCounts & { sent: number }>(into: T, more: GroupCounts & { sent: number }): T {
  into.sent += more.sent;
  into.promoters += more.promoters;
  into.passives += more.passives;
  into.detractors += more.detractors;
  return into;
}

/** Counts of a list of scores (tests, small sets); every score must be 0-10. */
export function countScores(scores: readonly number[]): GroupCounts {
  const counts: GroupCounts = { promoters: 0, passives: 0, detractors: 0 };
  for (const score of scores) {
    const group = groupOf(score);
    if (group === 'promoter') counts.promoters++;
    else if (group === 'passive') counts.passives++;
    else counts.detractors++;
  }
  return counts;
}
