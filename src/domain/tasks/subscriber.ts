import { isDomainError } from '../errors.js';
import type { DomainEvent, EventHandler } from '../events.js';
import type { DomainDeps } from '../ports.js';
import { STORE_VISIT_PREFIX, visitStore } from './actions.js';
import { processTaskEvent } from './process-event.js';
import { convertReferral, REFERRAL_PREFIX, registerReferral } from './referrals.js';

/**
 * The task engine following the domain's events (handed over by the events worker,
 * src/jobs/events.ts): each domain fact becomes task events, referral links and conversions.
 * Everything here is idempotent by the events' ids (per-(member, task, event) records, the
 * referral's status), so an event handed over twice counts once.
 */
export function taskSubscriber(deps: DomainDeps): EventHandler {
  return { handle: (event) => handle(deps, event) };
}

async function handle(deps: DomainDeps, event: DomainEvent): Promise<void> {
  const tasks = deps.program.tasks;
  // A program without tasks or referrals: nothing to follow, not even a query.
  if (tasks.list.length === 0 && !tasks.referrals.enabled) return;
  switch (event.type) {
    case 'purchaseRecorded': {
      const store = await deps.repos.stores.findById(event.storeId);
      const first = tasks.list.some((task) => task.kind === 'firstPurchase') ? await deps.repos.tasks.isFirstPurchase(event.memberId, event.purchaseId) : false;
      await processTaskEvent(deps, event.memberId, {
        type: 'purchase',
        id: event.id,
        at: event.at,
        purchaseId: event.purchaseId,
        storeId: event.storeId,
        storeCode: store?.code ?? '',
        amountMinor: event.amountMinor,
        first,
      });
      await convertReferral(deps, event.memberId, { purchaseId: event.purchaseId, amountMinor: event.amountMinor, at: event.at });
      return;
    }
    case 'returnRecorded':
      await processTaskEvent(deps, event.memberId, {
        type: 'return',
        id: event.id,
        at: event.at,
        purchaseId: event.purchaseId,
        amountMinor: event.amountMinor,
      });
      return;
    case 'registrationCompleted': {
      const member = await deps.repos.members.findById(event.memberId);
      if (member?.status !== 'ACTIVE') return;
      const payload = event.startPayload ?? '';
      if (payload.startsWith(REFERRAL_PREFIX)) await registerReferral(deps, member.id, payload.slice(REFERRAL_PREFIX.length));
      // A store's QR opened before registering counts once the registration is done.
      if (payload.startsWith(STORE_VISIT_PREFIX)) {
        // An unknown or closed store is not the new member's problem: the link is just ignored.
        await visitStore(deps, member, payload.slice(STORE_VISIT_PREFIX.length), { at: event.at }).catch((error: unknown) => {
          if (!isDomainError(error)) throw error;
        });
      }
      if (member.phone && member.name && member.birthday) {
        await processTaskEvent(deps, member.id, { type: 'profileCompleted', id: `profile:${member.id}`, at: event.at });
      }
      return;
    }
    case 'profileCompleted':
      await processTaskEvent(deps, event.memberId, { type: 'profileCompleted', id: event.id, at: event.at });
      return;
    case 'surveyAnswered':
      await processTaskEvent(deps, event.memberId, { type: 'surveyAnswered', id: event.id, at: event.at, survey: event.surveyCode });
      return;
    case 'couponRedeemed':
      return; // no task counts redemptions (yet)
    case 'donationMade':
      return; // no task counts donations (yet)
  }
}
