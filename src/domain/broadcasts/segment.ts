import { DomainError } from '../errors.js';
import { NPS_GROUPS } from '../nps/score.js';
import type { DomainDeps } from '../ports.js';
import { LOCALES, type Program } from '../program.js';
import { zonedParts } from '../time.js';
import type { AudienceQuery, Segment } from './types.js';

const DAY_MS = 86_400_000;
const MAX_DAYS = 3650;

export interface FieldProblem {
  /** Dotted path under the segment, e.g. `segment.tiers`. */
  field: string;
  message: string;
}

const isDays = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_DAYS;

/** What is wrong with a segment for this program (codes, ranges, contradictions); [] when nothing. */
export function segmentProblems(segment: Segment, program: Program): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const tiers = program.tiers.levels.map((level) => level.code);
  const list = (field: keyof Segment, values: readonly string[] | undefined, allowed: readonly string[] | null) => {
    if (values === undefined) return;
    if (values.length === 0) problems.push({ field: `segment.${field}`, message: 'lists at least one value (leave it out for any)' });
    for (const value of values) {
      if (allowed && !allowed.includes(value)) problems.push({ field: `segment.${field}`, message: `"${value}" is not one of ${allowed.join(', ')}` });
    }
  };
  list('tiers', segment.tiers, tiers);
  list('languages', segment.languages, LOCALES);
  list('stores', segment.stores, null);
  list('npsGroups', segment.npsGroups, NPS_GROUPS);
  for (const field of ['lastPurchaseOlderThanDays', 'lastPurchaseWithinDays', 'registeredWithinDays', 'pointsExpiringWithinDays'] as const) {
    const value = segment[field];
    if (value !== undefined && !isDays(value)) problems.push({ field: `segment.${field}`, message: `a whole number of days from 1 to ${MAX_DAYS}` });
  }
  if (segment.minBalance !== undefined && !(Number.isInteger(segment.minBalance) && segment.minBalance >= 0)) {
    problems.push({ field: 'segment.minBalance', message: 'a whole number of points, 0 or more' });
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
