import { createHash } from 'node:crypto';
import { DomainError } from '../errors.js';
import { contentProblems } from './content.js';
import type { BroadcastContent } from './types.js';

/**
 * A broadcast as an experiment (issue 16): a control group held back, and optionally a second
 * message (variant B) for half of the treated members. Who is in which group is a pure function
 * of (broadcast id, member id): the same on a re-run or a resumed start, not guessable by a
 * member (nothing is sent to the control group), and computed in SQL by the broadcast's start
 * with the same formula (src/db/broadcast-repository.ts, `bucketSql`).
 */

export const BUCKETS = 10_000;
export const MAX_CONTROL_PERCENT = 50;

export type Variant = 'A' | 'B';

/** Which split a bucket is for: the control cut and the A/B split hash independently. */
export type Split = 'control' | 'variant';

/** The bucket in [0, BUCKETS): the first 32 bits of md5("<split>:<broadcastId>:<memberId>"), mod BUCKETS. */
export function bucketOf(split: Split, broadcastId: number, memberId: number): number {
  const digest = createHash('md5').update(`${split}:${broadcastId}:${memberId}`).digest();
  return digest.readUInt32BE(0) % BUCKETS;
}

/** Members below the cut (controlPercent of BUCKETS) are the control group. */
export const isControl = (broadcastId: number, memberId: number, controlPercent: number) =>
  bucketOf('control', broadcastId, memberId) < controlPercent * (BUCKETS / 100);

/** The message a treated member gets when the broadcast has a variant B: 50/50. */
export const variantOf = (broadcastId: number, memberId: number): Variant => (bucketOf('variant', broadcastId, memberId) < BUCKETS / 2 ? 'A' : 'B');

/** Refuses a control share outside 0..50 % (an integer) and a variant B that is not a valid message. */
export function assertExperiment(controlPercent: number, variantB: BroadcastContent | null, options: { reserve?: number } = {}): void {
  if (!Number.isInteger(controlPercent) || controlPercent < 0 || controlPercent > MAX_CONTROL_PERCENT) {
    throw new DomainError('BROADCAST_INVALID', { field: 'controlPercent', message: `a whole percent from 0 to ${MAX_CONTROL_PERCENT}` });
  }
  if (variantB) {
    const problem = contentProblems(variantB, options)[0];
    if (problem) throw new DomainError('BROADCAST_INVALID', { field: `variantB.${problem.field}`, message: problem.message });
  }
}
