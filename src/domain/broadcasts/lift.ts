import { type Comparison, twoProportionTest, welchTest } from '../analytics/significance.js';
import type { DomainDeps } from '../ports.js';
import { findPrincipal } from '../staff/access.js';
import { authorize, type BroadcastAuthor } from './access.js';
import type { Broadcast, LiftArm, LiftFacts } from './types.js';

/**
 * Campaign lift (issue 16): did the members who got a broadcast buy more than its control group
 * (who got nothing)? Measured once the attribution window (`broadcasts.attributionDays` of the
 * program) has passed for every copy: a purchase (or coupon redemption) counts when it falls
 * within that many days after the member's own delivery, or after the broadcast's start for the
 * control group. Plain JSON (no Date): the report travels in the delivery outbox as is.
 */

/** Three metrics of one comparison: rates as fractions, revenue in minor units per member. */
export interface LiftComparison {
  /** Members in the first group (treated, or variant A) and the second (control, or variant B). */
  treatedMembers: number;
  controlMembers: number;
  /** Share of members with a purchase in their window (two-proportion z-test). */
  conversion: Comparison;
  /** Revenue per member in the window, net of returns, minor units (Welch's t-test). */
  revenuePerMember: Comparison;
  /** Share of members who redeemed a coupon in their window (two-proportion z-test). */
  redemption: Comparison;
}

export interface LiftReport {
  broadcastId: number;
  attributionDays: number;
  /** Every copy sent (both variants) against the control group; null without a control group. */
  sentVsControl: LiftComparison | null;
  /** Variant A against variant B (treated members only); null without a variant B. */
  ab: (LiftComparison & { winner: 'A' | 'B' | null }) | null;
}

/** When the last copy's window closes: the broadcast's end + the attribution days; null if it has not finished. */
export function liftWindowEnd(broadcast: Broadcast, attributionDays: number): Date | null {
  if (broadcast.status !== 'DONE' || !broadcast.finishedAt) return null;
  return new Date(broadcast.finishedAt.getTime() + attributionDays * 86_400_000);
}

export function compareArms(treated: LiftArm, control: LiftArm): LiftComparison {
  return {
    treatedMembers: treated.members,
    controlMembers: control.members,
    conversion: twoProportionTest({ successes: treated.converted, n: treated.members }, { successes: control.converted, n: control.members }),
    revenuePerMember: welchTest(
      { n: treated.members, mean: treated.revenueMean, variance: treated.revenueVariance },
      { n: control.members, mean: control.revenueMean, variance: control.revenueVariance },
    ),
    redemption: twoProportionTest({ successes: treated.redeemed, n: treated.members }, { successes: control.redeemed, n: control.members }),
  };
}

/** Two groups as one: counts add up, mean and sample variance from the pooled sums of squares. */
export function mergeArms(a: LiftArm, b: LiftArm): LiftArm {
  const n = a.members + b.members;
  if (a.members === 0) return b;
  if (b.members === 0) return a;
  const mean = (a.members * a.revenueMean + b.members * b.revenueMean) / n;
  const squares = (arm: LiftArm) => (arm.members - 1) * arm.revenueVariance + arm.members * (arm.revenueMean - mean) ** 2;
  return {
    members: n,
    converted: a.converted + b.converted,
    redeemed: a.redeemed + b.redeemed,
    revenueMean: mean,
    revenueVariance: n > 1 ? (squares(a) + squares(b)) / (n - 1) : 0,
  };
}

/** The report from the groups' outcomes (pure). The A/B winner is named only when conversion differs at p < 0.05. */
export function liftReport(broadcastId: number, attributionDays: number, facts: LiftFacts, hasControl: boolean): LiftReport {
  const treated = facts.variantB ? mergeArms(facts.variantA, facts.variantB) : facts.variantA;
  let ab: LiftReport['ab'] = null;
  if (facts.variantB) {
    const comparison = compareArms(facts.variantA, facts.variantB);
    const { conversion } = comparison;
    const winner = conversion.significant && conversion.absolute !== 0 ? (conversion.absolute > 0 ? 'A' : 'B') : null;
    ab = { ...comparison, winner };
  }
  return { broadcastId, attributionDays, sentVsControl: hasControl ? compareArms(treated, facts.control) : null, ab };
}

/** The lift of a broadcast, or null until its attribution window has passed (or when it measures nothing). */
export async function measureLift(deps: DomainDeps, broadcast: Broadcast): Promise<LiftReport | null> {
  const days = deps.program.broadcasts.attributionDays;
  const end = liftWindowEnd(broadcast, days);
  if (!end || end.getTime() > deps.clock.now().getTime()) return null;
  if (broadcast.controlPercent === 0 && !broadcast.variantB) return null;
  const facts = await deps.repos.broadcasts.liftFacts(broadcast.id, days);
  return liftReport(broadcast.id, days, facts, broadcast.controlPercent > 0);
}

/** One point of the /stats lift chart: conversion lift in percentage points, with its 95 % CI. */
export interface CampaignLift {
  broadcastId: number;
  /** The first line of the message, at most 40 characters. */
  title: string;
  metric: 'conversion';
  /** Absolute lift, percentage points (treated rate - control rate, × 100). */
  lift: number;
  /** 95 % CI of `lift`, percentage points; null when the sample is too small. */
  ciLow: number | null;
  ciHigh: number | null;
  pValue: number | null;
}

const TITLE_LENGTH = 40;

export function titleOf(broadcast: Broadcast): string {
  const line = (broadcast.content.text.split('\n').find((l) => l.trim().length > 0) ?? '').trim();
  return line.length > TITLE_LENGTH ? `${line.slice(0, TITLE_LENGTH - 1)}…` : line;
}

/**
 * For the /stats charts: the conversion lift of the latest `limit` broadcasts whose attribution
 * window has passed and that had a control group, newest first. Marketers and admins only.
 */
export async function recentCampaignLifts(deps: DomainDeps, by: BroadcastAuthor, limit = 10): Promise<CampaignLift[]> {
  await authorize(deps, by);
  const days = deps.program.broadcasts.attributionDays;
  const before = new Date(deps.clock.now().getTime() - days * 86_400_000);
  const lifts: CampaignLift[] = [];
  // Broadcasts without a control group measure no lift: read a few more than asked.
  for (const broadcast of await deps.repos.broadcasts.finishedBefore(before, limit * 3)) {
    if (lifts.length >= limit) break;
    if (broadcast.controlPercent === 0) continue;
    const report = await measureLift(deps, broadcast);
    const conversion = report?.sentVsControl?.conversion;
    if (!conversion) continue;
    const pp = (value: number | null) => (value === null ? null : value * 100);
    lifts.push({
      broadcastId: broadcast.id,
      title: titleOf(broadcast),
      metric: 'conversion',
      lift: conversion.absolute * 100,
      ciLow: pp(conversion.ciLow),
      ciHigh: pp(conversion.ciHigh),
      pValue: conversion.pValue,
    });
  }
  return lifts;
}

export interface LiftReportsRun {
  reported: number;
}

const LIFT_PER_RUN = 20;

/**
 * The scheduler's sweep (with the broadcasts tick, every minute): each broadcast whose window
 * has passed sends its lift report to its author's chat, once. The outbox row's dedupe key makes
 * the message unique even if the mark below is lost; the mark keeps the sweep cheap.
 */
export async function reportLifts(deps: DomainDeps): Promise<LiftReportsRun> {
  const days = deps.program.broadcasts.attributionDays;
  const now = deps.clock.now();
  const due = await deps.repos.broadcasts.liftDue(new Date(now.getTime() - days * 86_400_000), LIFT_PER_RUN);
  let reported = 0;
  for (const broadcast of due) {
    const report = await measureLift(deps, broadcast);
    // Chain-wide figures: only for an author who still may read them (a marketer or admin not
    // bound to a store, as /stats shows lifts); the others' broadcasts are marked all the same.
    const reader = broadcast.reportTo ? await findPrincipal(deps, broadcast.reportTo.chatId) : null;
    const mayRead = reader !== null && (reader.role === 'ADMIN' || reader.role === 'MARKETER') && reader.storeId === null;
    if (report && broadcast.reportTo && mayRead && deps.notifier.notifyChat) {
      await deps.notifier.notifyChat(
        broadcast.reportTo,
        { kind: 'broadcastLift', report },
        { dedupeKey: `broadcast-lift:${broadcast.id}`, class: 'transactional' },
      );
      reported++;
    }
    await deps.repos.broadcasts.markLiftReported(broadcast.id, now);
  }
  return { reported };
}
