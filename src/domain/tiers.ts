import type { Program, TierLevel } from './program.js';

/** The highest tier whose threshold the qualifying total reaches. Levels are sorted by threshold. */
export function tierForTotal(program: Program, qualifyingTotal: number): TierLevel {
  const levels = program.tiers.levels;
  let reached = levels[0] as TierLevel;
  for (const level of levels) if (qualifyingTotal >= level.threshold) reached = level;
  return reached;
}

export function tierByCode(program: Program, code: string | null | undefined): TierLevel {
  return program.tiers.levels.find((level) => level.code === code) ?? (program.tiers.levels[0] as TierLevel);
}

/** The tier after `current`, with how much more of the qualifying metric it needs; null at the top. */
export function nextTier(program: Program, current: TierLevel, qualifyingTotal: number): { tier: TierLevel; missing: number } | null {
  const levels = program.tiers.levels;
  const next = levels[levels.findIndex((level) => level.code === current.code) + 1];
  if (!next) return null;
  return { tier: next, missing: Math.max(0, next.threshold - qualifyingTotal) };
}

/**
 * The tier a member holds after their qualifying total changed. Under `never` a tier once
 * reached is kept; under `reevaluate` it follows the total both ways.
 */
export function resolveTier(program: Program, currentCode: string | null, qualifyingTotal: number): TierLevel {
  const earned = tierForTotal(program, qualifyingTotal);
  if (program.tiers.downgrade === 'reevaluate' || currentCode === null) return earned;
  const current = tierByCode(program, currentCode);
  return current.threshold > earned.threshold ? current : earned;
}

/**
 * The qualifying totals [min, max] (null: unbounded) for which `tierForTotal` gives the same
 * level as for `total`: a decision taken for `total` still holds anywhere in the band. Totals
 * are integers (minor units or points).
 */
export function tierBand(program: Program, total: number): { min: number | null; max: number | null } {
  const levels = program.tiers.levels;
  let reached = -1;
  levels.forEach((level, i) => {
    if (total >= level.threshold) reached = i;
  });
  // The level changes at the next threshold above `total` of any level but the first (below
  // every threshold the first level applies, as it does up to the second threshold).
  const next = levels.find((level, i) => i > 0 && level.threshold > total);
  return {
    min: reached <= 0 ? null : (levels[reached] as TierLevel).threshold,
    max: next ? next.threshold - 1 : null,
  };
}
