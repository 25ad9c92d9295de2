import type { Queue } from 'bullmq';
import { z } from 'zod';
import { runBroadcasts } from '../domain/broadcasts/run-broadcast.js';
import { sendCharityReport } from '../domain/charity/report.js';
import { sendBirthdayGreetings } from '../domain/jobs/birthday-greetings.js';
import { EXPIRY_LANES, expirePoints } from '../domain/jobs/expire-points.js';
import { sendExpiringReminders } from '../domain/jobs/expiring-reminders.js';
import { JOB_NAMES } from '../domain/jobs/job-runs.js';
import { sendWinBackReminders } from '../domain/jobs/win-back.js';
import { purgeFingerprints } from '../domain/members/fingerprints.js';
import { dispatchNpsSurveys, surveyPurchase } from '../domain/nps/dispatch.js';
import { NPS_DISPATCH_JOB, NPS_SURVEY_JOB } from '../domain/nps/surveys.js';
import { EVENT_SWEEP_AFTER_MS } from '../domain/outbox.js';
import type { DomainDeps } from '../domain/ports.js';
import type { Program } from '../domain/program.js';
import { expireCoupons } from '../domain/rewards/expire-coupons.js';
import { type DeliveryJobData, sweepPendingDeliveries } from './delivery.js';
import { type EventJobData, sweepPendingEvents } from './events.js';

/**
 * Scheduled work as data: a name, the payload it accepts (validated), when it runs (a cron
 * pattern in the program's time zone, derived from the program file), and a handler that calls
 * one domain use case. Every handler is idempotent: running it twice changes nothing the
 * second time, so retries and overlapping instances are harmless.
 */
export interface JobContext {
  domain: DomainDeps;
  deliveryQueue: Queue<DeliveryJobData>;
  eventsQueue: Queue<EventJobData>;
}

export interface JobDefinition<Payload = unknown> {
  name: string;
  payload: z.ZodType<Payload>;
  /** Cron pattern (minute hour day month weekday) in the program's time zone; null: on demand only. */
  schedule(program: Program): string | null;
  run(context: JobContext, payload: Payload): Promise<object>;
  /** Record each run for the operator view (default); off for frequent plumbing. */
  tracked?: boolean;
}

const noPayload = z.object({}).strict();

export const deliverySweep: JobDefinition<z.infer<typeof noPayload>> = {
  name: 'delivery-sweep',
  payload: noPayload,
  schedule: () => '* * * * *',
  tracked: false,
  run: ({ domain, deliveryQueue }) => sweepPendingDeliveries(domain.repos, deliveryQueue, domain.clock.now()),
};

/** Domain events still pending a minute after their commit (their job never reached Redis, or failed): queued again. */
export const eventSweep: JobDefinition<z.infer<typeof noPayload>> = {
  name: 'event-sweep',
  payload: noPayload,
  schedule: () => '* * * * *',
  tracked: false,
  run: ({ domain, eventsQueue }) => sweepPendingEvents(domain, eventsQueue, EVENT_SWEEP_AFTER_MS),
};

const batch = z.object({ batchSize: z.number().int().min(1).max(100_000).optional() }).strict();
type Batch = z.infer<typeof batch>;
const batchOptions = (payload: Batch) => (payload.batchSize ? { batchSize: payload.batchSize } : {});

// Reminder jobs run every hour and act from the configured local hour on: a process that was
// down at that hour still greets today, and the dedupe keys make the later runs no-ops.
const HOURLY = '5 * * * *';

export const birthdayGreetings: JobDefinition<Batch> = {
  name: JOB_NAMES.birthdayGreetings,
  payload: batch,
  schedule: (program) => (program.notifications.birthday.enabled ? HOURLY : null),
  run: ({ domain }, payload) => sendBirthdayGreetings(domain, batchOptions(payload)),
};

export const expiringReminders: JobDefinition<Batch> = {
  name: JOB_NAMES.expiringReminders,
  payload: batch,
  schedule: (program) => (program.notifications.expiringReminders.daysBefore.length > 0 ? HOURLY : null),
  run: ({ domain }, payload) => sendExpiringReminders(domain, batchOptions(payload)),
};

export const pointsExpiry: JobDefinition<Batch> = {
  name: JOB_NAMES.pointsExpiry,
  payload: batch,
  schedule: (program) => program.notifications.pointsExpiry.cron,
  run: ({ domain }, payload) => expirePoints(domain, { ...batchOptions(payload), lanes: EXPIRY_LANES }),
};

export const winBack: JobDefinition<Batch> = {
  name: JOB_NAMES.winBack,
  payload: batch,
  schedule: (program) => (program.notifications.winBack.enabled ? HOURLY : null),
  run: ({ domain }, payload) => sendWinBackReminders(domain, batchOptions(payload)),
};

export const couponExpiry: JobDefinition<Batch> = {
  name: 'coupon-expiry',
  payload: batch,
  schedule: () => '*/15 * * * *',
  run: ({ domain }, payload) => expireCoupons(domain, domain.clock.now(), batchOptions(payload)),
};

/**
 * Starts the broadcasts that are due, queues what a crash left unqueued, and finishes (with the
 * creator's report) those with nothing left to send. Idempotent: starting and finishing are
 * conditional updates, and queueing a delivery twice is a no-op.
 */
export const broadcasts: JobDefinition<z.infer<typeof noPayload>> = {
  name: 'broadcasts',
  payload: noPayload,
  schedule: () => '* * * * *',
  run: ({ domain }) => runBroadcasts(domain),
};

/**
 * NPS: the safety sweep for surveys whose delayed job (`npsSurvey`) Redis lost, and closing what
 * is over (with the reward and a detractor's alert for a follow-up left unfinished). Every 5
 * minutes, also when new surveys are switched off: answers to those already sent still close.
 * Idempotent (one survey per purchase, one message per survey).
 */
export const npsDispatch: JobDefinition<Batch> = {
  name: NPS_DISPATCH_JOB,
  payload: batch,
  schedule: () => '*/5 * * * *',
  run: ({ domain }, payload) => dispatchNpsSurveys(domain, batchOptions(payload)),
};

/**
 * One purchase's survey, on time: queued with a delay when the purchase's event is handled
 * (src/jobs/nps.ts). On demand only; untracked (one per purchase would crowd the operator view).
 */
export const npsSurvey: JobDefinition<{ purchaseId: number }> = {
  name: NPS_SURVEY_JOB,
  payload: z.object({ purchaseId: z.number().int().positive() }).strict(),
  schedule: () => null,
  tracked: false,
  run: ({ domain }, payload) => surveyPurchase(domain, payload.purchaseId),
};

/**
 * Charity: last month's totals per cause to the admins, on the 1st at 09:00 (program time zone),
 * only when the program has charity. Idempotent: one message per month and admin (dedupe key).
 */
export const charityReport: JobDefinition<z.infer<typeof noPayload>> = {
  name: JOB_NAMES.charityReport,
  payload: noPayload,
  schedule: (program) => (program.charity ? '0 9 1 * *' : null),
  run: ({ domain }) => sendCharityReport(domain),
};

/**
 * Erasure fingerprints older than FINGERPRINT_RETENTION_DAYS are deleted (the retention the
 * privacy policy states). Daily; idempotent (a rerun finds nothing older to delete).
 */
export const fingerprintPurge: JobDefinition<z.infer<typeof noPayload>> = {
  name: 'fingerprint-purge',
  payload: noPayload,
  schedule: () => '30 3 * * *',
  run: ({ domain }) => purgeFingerprints(domain),
};

export const JOBS: readonly JobDefinition<never>[] = [
  deliverySweep,
  eventSweep,
  birthdayGreetings,
  expiringReminders,
  pointsExpiry,
  winBack,
  couponExpiry,
  broadcasts,
  npsDispatch,
  npsSurvey,
  fingerprintPurge,
  charityReport,
] as unknown as JobDefinition<never>[];
