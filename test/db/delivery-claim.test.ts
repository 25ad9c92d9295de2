import { describe, expect } from 'vitest';
import type { DomainHarness } from '../support/domain.js';
import { dbTest as it } from '../support/fixtures.js';

/**
 * A delivery is sent by one job only: the sweep (or a reconcile after Redis lost its data) may
 * queue a row again while a worker has it in hand, and the second job must send nothing.
 */

let n = 0;
async function pendingDelivery(h: DomainHarness) {
  const member = await h.member(90_000 + ++n);
  const delivery = await h.deps.repos.deliveries.create({
    dedupeKey: `claim:${n}`,
    memberId: member.id,
    class: 'transactional',
    notification: { kind: 'pointsAdjusted', amount: 1, balance: 1 },
  });
  if (!delivery) throw new Error('not created');
  return delivery;
}

const at = (ms: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, 0) + ms);

describe('claiming a delivery', () => {
  it('lets one of two concurrent senders have it, and tells the other until when it is held', async ({ db, h }) => {
    const delivery = await pendingDelivery(h);
    const claims = await Promise.all([0, 1, 2, 3].map(() => h.deps.repos.deliveries.claim(delivery.id, at(0), at(30_000))));
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    expect(claims.filter((c) => !c.claimed)).toEqual([
      { claimed: false, heldUntil: at(30_000) },
      { claimed: false, heldUntil: at(30_000) },
      { claimed: false, heldUntil: at(30_000) },
    ]);
    expect((await db.prisma.delivery.findUniqueOrThrow({ where: { id: delivery.id } })).attempts).toBe(1);
  });

  it('is over once the delivery is finished: a late job learns there is nothing left to send', async ({ h }) => {
    const delivery = await pendingDelivery(h);
    expect(await h.deps.repos.deliveries.claim(delivery.id, at(0), at(30_000))).toEqual({ claimed: true });
    expect(await h.deps.repos.deliveries.finish(delivery.id, 'SENT')).toBe(true);
    expect(await h.deps.repos.deliveries.claim(delivery.id, at(60_000), at(90_000))).toEqual({ claimed: false, heldUntil: null });
  });

  it('is given back by a sender that did not send, and runs out when a sender died holding it', async ({ h }) => {
    const delivery = await pendingDelivery(h);
    expect(await h.deps.repos.deliveries.claim(delivery.id, at(0), at(30_000))).toEqual({ claimed: true });
    await h.deps.repos.deliveries.release(delivery.id);
    expect(await h.deps.repos.deliveries.claim(delivery.id, at(1_000), at(31_000))).toEqual({ claimed: true });
    // Nobody released this one: before its end it is held, after it anyone may take it.
    expect(await h.deps.repos.deliveries.claim(delivery.id, at(30_999), at(60_999))).toEqual({ claimed: false, heldUntil: at(31_000) });
    expect(await h.deps.repos.deliveries.claim(delivery.id, at(31_001), at(61_001))).toEqual({ claimed: true });
  });
});
