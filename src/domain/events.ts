/**
 * Facts the use cases publish after their transaction commits, for whoever follows them (today:
 * the task engine, src/domain/tasks/subscriber.ts). Each has an `id` that stays the same when the
 * fact is published again (a retried request, a re-run), so subscribers can be idempotent.
 * Publishing is best effort after commit: the publisher wired in src/services.ts logs and
 * swallows a subscriber's failure, so a committed purchase is never reported as failed.
 */
export type DomainEvent =
  | { type: 'purchaseRecorded'; id: string; memberId: number; purchaseId: number; storeId: number; amountMinor: number; at: Date }
  /** `amountMinor`: the part of the purchase this return took back. */
  | { type: 'returnRecorded'; id: string; memberId: number; purchaseId: number; returnId: number; amountMinor: number; at: Date }
  /** Registration finished; `startPayload` is the deep link the member arrived with (ref_…, s_…). */
  | { type: 'registrationCompleted'; id: string; memberId: number; startPayload: string | null; at: Date }
  /** The profile has everything asked for (phone, name, birthday). id: `profile:<memberId>`. */
  | { type: 'profileCompleted'; id: string; memberId: number; at: Date }
  /**
   * A survey answered (NPS and others): id `survey:<response id>`, `surveyCode` the survey's code
   * (e.g. `nps`), `score` the answer's score when it has one (NPS 0-10).
   */
  | { type: 'surveyAnswered'; id: string; memberId: number; surveyCode: string; score: number | null; at: Date };

export interface EventPublisher {
  publish(event: DomainEvent): Promise<void>;
}
