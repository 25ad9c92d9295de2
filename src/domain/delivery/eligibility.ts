import type { Member } from '../members/member.js';

/**
 * "May this member receive offers": one rule, two renderings. The in-memory predicate serves the
 * delivery worker (decideDelivery); the SQL fragment serves every query that picks recipients
 * in bulk (broadcast audiences, reminders, win-back, NPS surveys). Both are built from the same
 * ordered list of checks below, so they cannot drift apart (test/db/offer-eligibility.test.ts
 * runs both over every combination of the fields).
 */

/** The member fields the rule reads; the SQL reads the same columns of "Member". */
export type EligibilityFields = Pick<Member, 'status' | 'telegramId' | 'notificationsEnabled' | 'reachable'>;

/** Why a member is left out, first failing check first. */
export type Ineligibility = 'inactive' | 'optedOut' | 'unreachable';

interface Check {
  reason: Ineligibility;
  /** Transactional messages (receipts) skip it: the opt-in is about offers and reminders. */
  optIn: boolean;
  holds: (member: EligibilityFields) => boolean;
  /** The same condition over the member row aliased `alias`. */
  sql: (alias: string) => string;
}

// Order matters: a member who opted out and also blocked the bot counts as opted out.
const CHECKS: readonly Check[] = [
  {
    reason: 'inactive',
    optIn: false,
    holds: (m) => m.status === 'ACTIVE' && m.telegramId !== null,
    sql: (a) => `${a}."status" = 'ACTIVE' AND ${a}."telegramId" IS NOT NULL`,
  },
  { reason: 'optedOut', optIn: true, holds: (m) => m.notificationsEnabled, sql: (a) => `${a}."notificationsEnabled"` },
  { reason: 'unreachable', optIn: false, holds: (m) => m.reachable, sql: (a) => `${a}."reachable"` },
];

/** What a skipped delivery records: the status and the words in its error column. */
export const INELIGIBLE: Record<Ineligibility, { status: 'SKIPPED' | 'BLOCKED'; reason: string }> = {
  inactive: { status: 'SKIPPED', reason: 'not an active member' },
  optedOut: { status: 'SKIPPED', reason: 'notifications off' },
  unreachable: { status: 'BLOCKED', reason: 'member blocked the bot' },
};

const checksFor = (transactional: boolean) => CHECKS.filter((check) => !(transactional && check.optIn));

/** The first reason the member may not receive the message, or null when they may. */
export function ineligibility(member: EligibilityFields | null, options: { transactional?: boolean } = {}): Ineligibility | null {
  if (member === null) return 'inactive';
  return checksFor(options.transactional === true).find((check) => !check.holds(member))?.reason ?? null;
}

/** May this member receive offers (broadcasts, reminders, surveys)? */
export function mayReceiveOffers(member: EligibilityFields | null): boolean {
  return ineligibility(member) === null;
}

function checkedAlias(alias: string): string {
  // The alias is spliced into SQL text: only a plain identifier, never input.
  if (!/^[a-z_][a-z0-9_]*$/.test(alias)) throw new Error(`not a SQL alias: ${alias}`);
  return alias;
}

/** The predicate as a SQL boolean over the "Member" row aliased `alias` (raw text, no parameters). */
export function offerEligibleSql(alias: string): string {
  const a = checkedAlias(alias);
  return `(${CHECKS.map((check) => `(${check.sql(a)})`).join(' AND ')})`;
}

/** Only the first check (an active member with a chat): the base of every audience. */
export function activeMemberSql(alias: string): string {
  const first = CHECKS[0];
  if (first?.reason !== 'inactive') throw new Error('the first check must be the active one');
  return `(${first.sql(checkedAlias(alias))})`;
}

/** The reason as SQL text (`'inactive'`, `'optedOut'`, `'unreachable'`), NULL when eligible. */
export function ineligibilitySql(alias: string): string {
  const a = checkedAlias(alias);
  return `(CASE ${CHECKS.map((check) => `WHEN NOT (${check.sql(a)}) THEN '${check.reason}'`).join(' ')} END)`;
}
