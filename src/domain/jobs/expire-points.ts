import type { DomainDeps, ExpiredPoints, MemberNotice } from '../ports.js';
import { localDate } from '../time.js';
import { JOB_NAMES, jobActor } from './job-runs.js';

export interface PointsExpiryRun {
  /** Lots expired, members touched, points taken, batches committed. */
  lots: number;
  members: number;
  points: number;
  batches: number;
  /** False when the run stopped early (`maxBatches`, `signal`): the next run continues. */
  complete: boolean;
}

/** `expired:<memberId>:<local date>`: one message per member and day. */
export const expiredKey = (memberId: number, date: string) => `expired:${memberId}:${date}`;

/** What a member is told of the points a batch took from them on `date` (local). */
const expiredNotice = (member: ExpiredPoints, date: string): MemberNotice => ({
  memberId: member.memberId,
  notification: { kind: 'pointsExpired', points: member.points, balance: member.balanceAfter },
  dedupeKey: expiredKey(member.memberId, date),
  class: 'reminder',
});

/**
 * How many lanes the scheduled job runs at once: each lane its own transactions over its own
 * members (see ExpiryLane), so PostgreSQL works two batches at a time on two connections.
 */
export const EXPIRY_LANES = 2;

/**
 * A batch takes every due lot of its members, so one member with a long history can make it
 * large; on a busy database it must not be cut by the client's default 30 s.
 */
const BATCH_TRANSACTION = { timeoutMs: 120_000 };

/**
 * Expires every lot due at the run's start (expiresAt <= now) with what is left in it, in
 * batches of about `batchSize` lots, each batch one transaction (see JobRepository.expireDueLots).
 * Safe to interrupt and to rerun: a committed batch leaves its lots at 0, so the next run only
 * finds the rest. Each member touched is told once: the batch's notices are written to the
 * outbox in the batch's transaction (one statement per batch, not per member) and queued after
 * its commit (one queue call per batch).
 * `lanes` (default 1) splits the members into that many disjoint shares worked at once;
 * `maxBatches` counts the batches of all lanes together.
 */
export async function expirePoints(
  deps: DomainDeps,
  options: { batchSize?: number; maxBatches?: number; signal?: AbortSignal; lanes?: number } = {},
): Promise<PointsExpiryRun> {
  const now = deps.clock.now();
  const today = localDate(now, deps.program.timezone);
  const batchSize = options.batchSize ?? 5000;
  const lanes = Math.max(1, Math.floor(options.lanes ?? 1));
  const run: PointsExpiryRun = { lots: 0, members: 0, points: 0, batches: 0, complete: false };
  let started = 0;
  let failed = false;
  const stop = () => failed || options.signal?.aborted || (options.maxBatches !== undefined && started >= options.maxBatches);

  /** One lane's batches until it finds nothing due (true) or is told to stop (false). */
  const lane = async (index: number): Promise<boolean> => {
    // A batch that locks members but expires nothing happens when another writer got there first
    // (a spend, or a second expiry run one batch ahead of this one, which is progress). The same
    // members coming back with nothing to expire several times in a row would mean a bug that
    // keeps finding the same lots: stop rather than spin.
    let emptyBatches = 0;
    let lastEmpty = '';
    for (;;) {
      if (stop()) return false;
      started++;
      // The notices go into the outbox in the batch's own transaction: a crash after the commit
      // leaves them PENDING for the delivery sweep (a rerun finds these lots at 0 and would
      // never tell these members), and a rolled-back batch leaves none. The unit of work queues
      // them after the commit.
      const batch = await deps.uow.run(async (repos) => {
        const expired = await repos.jobs.expireDueLots(now, batchSize, jobActor(JOB_NAMES.pointsExpiry), { index, count: lanes });
        await repos.outbox.notifyMany(expired.members.map((member) => expiredNotice(member, today)));
        return expired;
      }, BATCH_TRANSACTION);
      if (batch.candidates === 0) {
        started--;
        return true;
      }
      const candidates = batch.candidateIds.join(',');
      emptyBatches = batch.members.length > 0 ? 0 : candidates === lastEmpty ? emptyBatches + 1 : 1;
      lastEmpty = batch.members.length > 0 ? '' : candidates;
      if (emptyBatches >= 3) throw new Error('points expiry: due lots found but none could be expired three times in a row');
      run.batches++;
      run.lots += batch.lots;
      run.members += batch.members.length;
      for (const member of batch.members) run.points += member.points;
    }
  };

  const outcomes = await Promise.allSettled(
    Array.from({ length: lanes }, (_, index) =>
      lane(index).catch((error: unknown) => {
        // The other lanes finish the batch in hand and stop; the first error is the run's.
        failed = true;
        throw error;
      }),
    ),
  );
  const rejected = outcomes.find((outcome) => outcome.status === 'rejected');
  if (rejected) throw rejected.reason;
  return { ...run, complete: outcomes.every((outcome) => outcome.status === 'fulfilled' && outcome.value) };
}
