import type { Actor } from '../ledger/types.js';
import type { DomainDeps, JobRun } from '../ports.js';

/** The scheduled jobs by name: the name of their JobRun rows and the actor id of their ledger entries. */
export const JOB_NAMES = {
  birthdayGreetings: 'birthday-greetings',
  expiringReminders: 'expiring-reminders',
  pointsExpiry: 'points-expiry',
  winBack: 'win-back',
  charityReport: 'charity-report',
} as const;

export type JobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

export const jobActor = (name: JobName): Actor => ({ type: 'JOB', id: name });

/** Why a scheduled job did nothing this time. */
export type SkipReason = 'disabled' | 'beforeHour';

/**
 * Runs one job and records the run (start, finish, its counts or its error) for the operator
 * view. The job's own result is returned, a failure rethrown after it is recorded. `name` is free
 * (jobs added elsewhere, e.g. coupon expiry, record themselves the same way).
 */
export async function trackJobRun<T extends object>(deps: DomainDeps, name: string, work: () => Promise<T>): Promise<T> {
  const id = await deps.repos.jobRuns.start(name, deps.clock.now());
  try {
    const result = await work();
    await deps.repos.jobRuns.finish(id, { finishedAt: deps.clock.now(), outcome: { ...result } as Record<string, unknown>, error: null });
    return result;
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    await deps.repos.jobRuns.finish(id, { finishedAt: deps.clock.now(), outcome: null, error: message.slice(0, 2000) }).catch(() => {});
    throw error;
  }
}

/** The last run of each job, by name (the operator view). */
export function lastJobRuns(deps: DomainDeps): Promise<JobRun[]> {
  return deps.repos.jobRuns.latest();
}
