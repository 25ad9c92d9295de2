import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { authorize, type BroadcastAuthor } from './access.js';
import type { Broadcast } from './types.js';

/**
 * Cancels a scheduled or running broadcast: what has not been sent yet never will be (its
 * deliveries turn SKIPPED 'cancelled' in the same transaction, and leave the queue). A message
 * already in Telegram's hands when the cancel arrives still goes out.
 */
export async function cancelBroadcast(deps: DomainDeps, by: BroadcastAuthor, id: number): Promise<Broadcast> {
  const actor = await authorize(deps, by);
  const result = await deps.repos.broadcasts.cancel(id, deps.clock.now());
  if (!result) {
    const existing = await deps.repos.broadcasts.findById(id);
    if (!existing) throw new DomainError('BROADCAST_NOT_FOUND', { broadcastId: id });
    throw new DomainError('BROADCAST_NOT_CANCELLABLE', { broadcastId: id, status: existing.status });
  }
  await deps.repos.audit.record({ actor, action: 'broadcast.cancelled', subject: `broadcast:${id}`, details: { withdrawn: result.withdrawn.length } });
  // Only deliveries up to the queue's watermark were ever queued.
  const queued = result.withdrawn.filter((deliveryId) => deliveryId <= result.broadcast.queuedThroughId);
  await deps.broadcastDispatch?.withdraw(result.broadcast, queued);
  return result.broadcast;
}
