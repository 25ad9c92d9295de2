import type { Queue } from 'bullmq';
import type { EventHandler } from '../domain/events.js';
import { surveyDelayMs } from '../domain/nps/dispatch.js';
import { NPS_SURVEY_JOB } from '../domain/nps/surveys.js';
import type { DomainDeps } from '../domain/ports.js';

/**
 * Schedules each purchase's NPS survey as a delayed job, so that it is asked `delayMinutes` after
 * the purchase to the minute, not at the next 5-minute sweep. The job id is the purchase's, so an
 * event handed over twice schedules one job; the sweep (nps-dispatch) asks about any job Redis lost.
 */
export function npsScheduler(domain: Pick<DomainDeps, 'program' | 'clock'>, jobsQueue: Queue): EventHandler {
  return {
    async handle(event) {
      if (event.type !== 'purchaseRecorded' || !domain.program.nps.enabled) return;
      await jobsQueue.add(
        NPS_SURVEY_JOB,
        { purchaseId: event.purchaseId },
        { jobId: npsSurveyJobId(event.purchaseId), delay: surveyDelayMs(domain.program.nps, event.at, domain.clock.now()) },
      );
    },
  };
}

// BullMQ ids may not contain ':'.
export const npsSurveyJobId = (purchaseId: number) => `nps-survey|${purchaseId}`;
