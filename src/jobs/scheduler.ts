import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { trackJobRun } from '../domain/jobs/job-runs.js';
import type { Program } from '../domain/program.js';
import type { RedisHandle } from '../redis.js';
import type { JobContext, JobDefinition } from './registry.js';

export const JOBS_QUEUE = 'jobs';

/** The jobs queue on a producer connection of its own (the reconciler watches it reconnect). */
export function createJobsQueue(connection: Redis, prefix: string): Queue {
  return new Queue(JOBS_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 30_000 }, removeOnComplete: { count: 200 }, removeOnFail: { count: 500 } },
  });
}

/** Each scheduled job's cron pattern by name (jobs the program switches off have none). */
function wantedSchedules(jobs: readonly JobDefinition<never>[], program: Program): Map<string, string> {
  const wanted = new Map<string, string>();
  for (const job of jobs) {
    const pattern = job.schedule(program);
    if (pattern) wanted.set(job.name, pattern);
  }
  return wanted;
}

/**
 * Registers each job's cron schedule in the program's time zone. `upsertJobScheduler` is
 * idempotent, so every instance may call it at start-up: there is one scheduler per job name
 * in Redis, whatever the number of instances. Schedules of jobs that no longer exist are removed.
 */
export async function registerSchedules(queue: Queue, jobs: readonly JobDefinition<never>[], program: Program): Promise<void> {
  const wanted = wantedSchedules(jobs, program);
  for (const [name, pattern] of wanted) {
    await queue.upsertJobScheduler(name, { pattern, tz: program.timezone }, { name, data: {} });
  }
  for (const existing of await queue.getJobSchedulers()) {
    if (!wanted.has(existing.key)) await queue.removeJobScheduler(existing.key);
  }
}

/** Names of the schedules the program wants that Redis does not hold (all of them after Redis lost its data). */
export async function missingSchedules(queue: Queue, jobs: readonly JobDefinition<never>[], program: Program): Promise<string[]> {
  const present = new Set((await queue.getJobSchedulers()).map((scheduler) => scheduler.key));
  return [...wantedSchedules(jobs, program).keys()].filter((name) => !present.has(name));
}

/** Runs a job now (operator command, tests), through the queue like a scheduled run. */
export function runJobNow(queue: Queue, name: string, payload: Record<string, unknown> = {}): Promise<Job> {
  return queue.add(name, payload);
}

export function startJobsWorker(redis: RedisHandle, prefix: string, jobs: readonly JobDefinition<never>[], context: JobContext, logger: Logger): Worker {
  const byName = new Map(jobs.map((job) => [job.name, job as JobDefinition<unknown>]));
  const log = logger.child({ component: 'jobs' });
  const worker = new Worker(
    JOBS_QUEUE,
    async (job: Job) => {
      const definition = byName.get(job.name);
      if (!definition) throw new Error(`unknown job ${job.name}`);
      const payload = definition.payload.parse(job.data ?? {});
      const started = Date.now();
      // Every run is recorded (start, finish, counts or error) for the operator view.
      const run = () => definition.run(context, payload);
      const outcome = definition.tracked === false ? await run() : await trackJobRun(context.domain, job.name, run);
      log.info({ job: job.name, ms: Date.now() - started, ...outcome }, 'job finished');
      return outcome;
    },
    // One job at a time per worker process: jobs are batch work, the database is the bottleneck.
    { connection: redis.connect('worker'), prefix, concurrency: 1 },
  );
  worker.on('error', (error) => log.warn({ err: error }, 'jobs worker error'));
  return worker;
}
