import { createHash } from 'node:crypto';
import type { Program } from '../program.js';
import { LOCALES } from '../program.js';
import { localDate, zonedTimeToUtc } from '../time.js';
import { REWARD_KINDS, type Reward, type RewardData, type RewardDefinition } from './types.js';

/**
 * What makes a reward definition valid, in one place: the program file's schema (src/program.ts)
 * reports these problems under the entry's path, the admin use cases refuse with REWARD_INVALID.
 */

export const REWARD_CODE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const REWARD_TITLE_MAX = 64;
/** A photo caption holds at most 1024 characters: title, description, cost and a line or two. */
export const REWARD_DESCRIPTION_MAX = 700;
const MAX_POINTS = 10_000_000;

export interface DefinitionProblem {
  /** The key the problem is about, e.g. `value` or `title.ru`. */
  field: string;
  message: string;
}

const isInt = (value: unknown, min: number, max: number) => typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;

function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/**
 * Every problem of `definition`, none when it is valid. `tiers` are the program's tier codes
 * (null: `minTier` is checked elsewhere, as the program file's schema does once tiers are known).
 */
export function rewardDefinitionProblems(definition: RewardDefinition, tiers: readonly string[] | null): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  const d = definition;

  if (!REWARD_CODE_PATTERN.test(d.code)) add('code', 'lower-case letters, digits, _ and -, at most 32 characters');
  if (!REWARD_KINDS.includes(d.kind)) add('kind', `one of ${REWARD_KINDS.join(', ')}`);
  if (d.kind === 'PERCENT_COUPON' && !isInt(d.value, 1, 100)) add('value', 'a whole percent from 1 to 100 for a PERCENT_COUPON');
  if (d.kind === 'FIXED_COUPON' && !isInt(d.value, 1, 1_000_000_000)) add('value', 'a positive amount in minor currency units for a FIXED_COUPON');
  if ((d.kind === 'FREE_ITEM' || d.kind === 'GIFT') && d.value !== null) add('value', `must be left out for a ${d.kind}`);
  if (!isInt(d.cost, 0, MAX_POINTS)) add('cost', `whole points from 0 to ${MAX_POINTS}`);
  if (d.stock !== null && !isInt(d.stock, 0, MAX_POINTS)) add('stock', `a count from 0 to ${MAX_POINTS}`);
  if (d.limit) {
    if (!isInt(d.limit.count, 1, 1000)) add('limit.count', 'a count from 1 to 1000');
    if (d.limit.periodDays !== null && !isInt(d.limit.periodDays, 1, 3650)) add('limit.periodDays', 'days from 1 to 3650');
  }
  if (d.minTier !== null && tiers !== null && !tiers.includes(d.minTier)) add('minTier', `one of the program's tiers: ${tiers.join(', ')}`);
  if (!isInt(d.validityDays, 1, 3650)) add('validityDays', 'days from 1 to 3650');
  for (const key of ['availableFrom', 'availableTo'] as const) {
    const value = d[key];
    if (value !== null && !isCalendarDate(value)) add(key, 'a date as YYYY-MM-DD');
  }
  if (d.availableFrom && d.availableTo && d.availableFrom > d.availableTo) add('availableTo', '`availableFrom` must not be after `availableTo`');
  if (d.imageUrl !== null && (!/^https:\/\/\S+$/.test(d.imageUrl) || d.imageUrl.length > 500)) add('imageUrl', 'an https:// URL of at most 500 characters');
  for (const locale of LOCALES) {
    const title = d.title?.[locale];
    const description = d.description?.[locale];
    if (typeof title !== 'string' || title.trim().length === 0 || title.length > REWARD_TITLE_MAX)
      add(`title.${locale}`, `1 to ${REWARD_TITLE_MAX} characters`);
    if (typeof description !== 'string' || description.length > REWARD_DESCRIPTION_MAX)
      add(`description.${locale}`, `at most ${REWARD_DESCRIPTION_MAX} characters`);
  }
  return problems;
}

/**
 * Fingerprint of a definition as the program file states it. Stock is left out: the file's
 * stock is what a new reward starts with, and what is left is the database's business.
 */
export function definitionHash(definition: RewardDefinition): string {
  const { stock: _stock, ...rest } = definition;
  return createHash('sha256')
    .update(JSON.stringify(canonical(rest)))
    .digest('hex');
}

/** The value with object keys sorted at every level, so equal definitions hash equally. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((key) => [key, canonical(record[key])]),
    );
  }
  return value;
}

const startOfLocalDay = (date: string, timeZone: string): Date => {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  return zonedTimeToUtc({ year, month, day, hour: 0, minute: 0 }, timeZone);
};

const nextDay = (date: string): string => new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/** The definition as stored: the window's local dates become instants (the end exclusive). */
export function toRewardData(definition: RewardDefinition, program: Program, programHash: string | null): RewardData {
  const d = definition;
  return {
    code: d.code,
    kind: d.kind,
    value: d.value,
    cost: d.cost,
    stock: d.stock,
    limit: d.limit,
    minTier: d.minTier,
    validityDays: d.validityDays,
    availableFrom: d.availableFrom ? startOfLocalDay(d.availableFrom, program.timezone) : null,
    availableTo: d.availableTo ? startOfLocalDay(nextDay(d.availableTo), program.timezone) : null,
    imageUrl: d.imageUrl,
    title: d.title,
    description: d.description,
    active: d.active,
    programHash,
  };
}

/** The stored reward stated as a definition again (for an admin's edit of some of its fields). */
export function toDefinition(reward: Reward, program: Program): RewardDefinition {
  return {
    code: reward.code,
    kind: reward.kind,
    value: reward.value,
    cost: reward.cost,
    stock: reward.stock,
    limit: reward.limit,
    minTier: reward.minTier,
    validityDays: reward.validityDays,
    availableFrom: reward.availableFrom ? localDate(reward.availableFrom, program.timezone) : null,
    availableTo: reward.availableTo ? localDate(new Date(reward.availableTo.getTime() - 1), program.timezone) : null,
    imageUrl: reward.imageUrl,
    title: reward.title,
    description: reward.description,
    active: reward.active,
  };
}
