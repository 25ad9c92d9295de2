/**
 * Facts the use cases record, for whoever follows them (today: the task engine,
 * src/domain/tasks/subscriber.ts). A use case writes its event to the outbox (`repos.outbox`) in
 * the same transaction as the change, so a committed change always has its event; the events
 * worker then hands each event at least once to every handler. Each event has an `id` that stays
 * the same when the fact is recorded again (a retried request, a re-run): the outbox keeps one
 * row per id, and handlers are idempotent by it. `at` is when it happened, by the injected clock.
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
  | { type: 'surveyAnswered'; id: string; memberId: number; surveyCode: string; score: number | null; at: Date }
  /** A coupon was redeemed at a till or by staff. id: `coupon-redeemed:<couponId>`. */
  | { type: 'couponRedeemed'; id: string; memberId: number; couponId: number; rewardId: number; storeId: number | null; at: Date }
  /** Points given to a charity cause (src/domain/charity). id: `donation:<donationId>`. */
  | { type: 'donationMade'; id: string; memberId: number; donationId: number; causeCode: string; points: number; at: Date };

/** Follows domain events. Must be idempotent by `event.id`: an event may be handed over more than once. */
export interface EventHandler {
  handle(event: DomainEvent): Promise<void>;
}
