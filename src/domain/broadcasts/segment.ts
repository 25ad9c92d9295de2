import type { z } from 'zod';
import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import type { Program } from '../program.js';
import { zonedParts } from '../time.js';
import { MAX_SEGMENT_DAYS, segmentSchema } from './segment-schema.js';
import type { AudienceQuery, Segment } from './types.js';

const DAY_MS = 86_400_000;

export interface FieldProblem {
  /** Dotted path under the segment, e.g. `segment.tiers`. */
  field: string;
  message: string;
}

/**
 * What is wrong with a segment for this program; [] when nothing. Shapes and ranges come from the
 * one schema (segment-schema.ts); here only what needs the program (tier codes) or several fields
 * at once (contradictions that nobody would match).
 */
export function segmentProblems(segment: Segment, program: Program): FieldProblem[] {
  const parsed = segmentSchema.safeParse(segment);
  if (!parsed.success) return parsed.error.issues.map(shapeProblem);
  const problems: FieldProblem[] = [];
  const tiers = program.tiers.levels.map((level) => level.code);
  for (const value of segment.tiers ?? []) {
    if (!tiers.includes(value)) problems.push({ field: 'segment.tiers', message: `"${value}" is not one of ${tiers.join(', ')}` });
  }
  if (segment.neverPurchased) {
    for (const field of ['lastPurchaseOlderThanDays', 'lastPurchaseWithinDays', 'stores'] as const) {
      if (segment[field] !== undefined) problems.push({ field: `segment.${field}`, message: 'cannot be combined with neverPurchased (nobody would match)' });
    }
  }
  const older = segment.lastPurchaseOlderThanDays;
  const within = segment.lastPurchaseWithinDays;
  if (older !== undefined && within !== undefined && older >= within) {
    problems.push({ field: 'segment.lastPurchaseOlderThanDays', message: 'must be less than lastPurchaseWithinDays (nobody would match)' });
  }
  return problems;
}

/** A schema issue in the words the marketer (or the CRM's developer) reads. */
function shapeProblem(issue: z.core.$ZodIssue): FieldProblem {
  const key = String(issue.path[0] ?? '');
  const field = key ? `segment.${key}` : 'segment';
  if (issue.code === 'unrecognized_keys') return { field: `segment.${issue.keys[0] ?? ''}`, message: 'is not a filter' };
  if (key.endsWith('Days')) return { field, message: `a whole number of days from 1 to ${MAX_SEGMENT_DAYS}` };
  if (key === 'minBalance') return { field, message: 'a whole number of points, 0 or more' };
  if (issue.code === 'too_small' && issue.path.length === 1) return { field, message: 'lists at least one value (leave it out for any)' };
  return { field, message: issue.message };
}

export function assertSegment(segment: Segment, program: Program): void {
  const problem = segmentProblems(segment, program)[0];
  if (problem) throw new DomainError('SEGMENT_INVALID', { field: problem.field, message: problem.message });
}

/**
 * The segment against the clock and the stores: absolute times for the relative filters, store
 * ids for codes. `strict`: an unknown store code is an error (when a broadcast is created); when
 * it starts later, a store that has gone since simply matches nobody.
 */
export async function audienceQuery(deps: DomainDeps, segment: Segment, options: { strict: boolean }): Promise<AudienceQuery> {
  const now = deps.clock.now();
  const days = (n: number) => new Date(now.getTime() - n * DAY_MS);
  let storeIds: number[] | null = null;
  if (segment.stores) {
    storeIds = [];
    for (const code of segment.stores) {
      const store = await deps.repos.stores.findByCode(code);
      if (store) storeIds.push(store.id);
      else if (options.strict) throw new DomainError('SEGMENT_INVALID', { field: 'segment.stores', message: `no store with code "${code}"` });
    }
    // Nothing to match: an id no store has.
    if (storeIds.length === 0) storeIds = [-1];
  }
  return {
    tiers: segment.tiers?.length ? segment.tiers : null,
    firstTier: deps.program.tiers.levels[0]?.code ?? '',
    locales: segment.languages?.length ? segment.languages : null,
    storeIds,
    lastPurchaseBefore: segment.lastPurchaseOlderThanDays !== undefined ? days(segment.lastPurchaseOlderThanDays) : null,
    lastPurchaseSince: segment.lastPurchaseWithinDays !== undefined ? days(segment.lastPurchaseWithinDays) : null,
    registeredSince: segment.registeredWithinDays !== undefined ? days(segment.registeredWithinDays) : null,
    birthdayMonth: segment.birthdayThisMonth ? zonedParts(now, deps.program.timezone).month : null,
    npsGroups: segment.npsGroups?.length ? segment.npsGroups : null,
    pointsExpiring:
      segment.pointsExpiringWithinDays !== undefined ? { after: now, before: new Date(now.getTime() + segment.pointsExpiringWithinDays * DAY_MS) } : null,
    minBalance: segment.minBalance ?? null,
    neverPurchased: segment.neverPurchased === true,
  };
}

/** The segment without empty keys (false flags, empty lists), as stored and shown. */
export function normalizeSegment(segment: Segment): Segment {
  const out: Segment = {};
  for (const [key, value] of Object.entries(segment) as [keyof Segment, unknown][]) {
    if (value === undefined || value === null || value === false) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    (out as Record<string, unknown>)[key] = Array.isArray(value) ? [...new Set(value)] : value;
  }
  return out;
}
