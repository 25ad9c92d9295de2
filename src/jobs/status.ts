import type { Queue } from 'bullmq';
import { lastJobRuns } from '../domain/jobs/job-runs.js';
import type { DomainDeps, JobRun } from '../domain/ports.js';

export interface QueueCounts {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface FailedJob {
  queue: string;
  name: string;
  reason: string;
  failedAt: Date | null;
}

export interface OperationsStatus {
  queues: QueueCounts[];
  failed: FailedJob[];
  lastRuns: JobRun[];
}

/** The operator view: queue depths, the latest failures kept for inspection, last run of each job. */
export async function operationsStatus(queues: Queue[], domain: DomainDeps): Promise<OperationsStatus> {
  const counts = await Promise.all(
    queues.map(async (queue) => {
      const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
      return {
        name: queue.name,
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
        completed: c.completed ?? 0,
      };
    }),
  );
  const failed = (
    await Promise.all(
      queues.map(async (queue) =>
        (
          await queue.getFailed(0, 4)
        ).map((job) => ({
          queue: queue.name,
          name: job.name,
          reason: (job.failedReason ?? '').slice(0, 200),
          failedAt: job.finishedOn ? new Date(job.finishedOn) : null,
        })),
      ),
    )
  ).flat();
  return { queues: counts, failed, lastRuns: await lastJobRuns(domain) };
}
