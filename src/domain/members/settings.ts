import type { DomainDeps } from '../ports.js';
import type { Locale } from '../program.js';
import type { Member } from './member.js';
import { activeMember } from './overview.js';

export async function setLocale(deps: DomainDeps, telegramId: number, locale: Locale): Promise<Member> {
  const member = await activeMember(deps.repos, telegramId);
  return deps.repos.members.update(member.id, { locale });
}

export async function setNotifications(deps: DomainDeps, telegramId: number, enabled: boolean): Promise<Member> {
  const member = await activeMember(deps.repos, telegramId);
  return deps.repos.members.update(member.id, { notificationsEnabled: enabled });
}

/** Everything the program holds about a member, as a plain JSON document (right of access). */
export async function exportMemberData(deps: DomainDeps, telegramId: number) {
  const member = await activeMember(deps.repos, telegramId);
  const entries = await deps.repos.ledger.entries(member.id);
  return {
    exportedAt: deps.clock.now().toISOString(),
    program: deps.program.name.en,
    member: {
      cardCode: member.code,
      telegramId: member.telegramId,
      name: member.name,
      phone: member.phone,
      birthday: member.birthday,
      language: member.locale,
      notificationsEnabled: member.notificationsEnabled,
      consent: { version: member.consentVersion, givenAt: member.consentAt?.toISOString() ?? null },
      registeredAt: member.registeredAt?.toISOString() ?? null,
      tier: member.tier,
      balance: member.balance,
    },
    ledger: entries.map((entry) => ({
      at: entry.createdAt.toISOString(),
      type: entry.type,
      points: entry.amount,
      balanceAfter: entry.balanceAfter,
      reason: entry.reason,
      store: entry.storeName ?? null,
    })),
  };
}

/**
 * Erasure: personal fields are wiped, the Telegram link is cut (so nothing is ever sent
 * again and a later /start begins afresh), remaining points are closed through the ledger,
 * and the anonymous accounting records stay. Unused coupons are cancelled without a refund
 * (the points are closed anyway), so a deleted member's coupon can no longer be redeemed;
 * their units go back to a limited stock.
 */
export async function deleteMember(deps: DomainDeps, telegramId: number): Promise<void> {
  const now = deps.clock.now();
  await deps.uow.run(async (repos) => {
    const member = await activeMember(repos, telegramId);
    // Lock order reward -> coupons -> member, as in takeReward, cancelCoupon and expireCoupons.
    const issued = (await repos.coupons.listByMember(member.id)).filter((coupon) => coupon.status === 'ISSUED');
    for (const rewardId of [...new Set(issued.map((coupon) => coupon.rewardId))].sort((a, b) => a - b)) await repos.rewards.lockById(rewardId);
    const cancelled = await repos.coupons.cancelIssuedOfMember(member.id, now);
    const perReward = new Map<number, number>();
    for (const coupon of cancelled) perReward.set(coupon.rewardId, (perReward.get(coupon.rewardId) ?? 0) + 1);
    for (const [rewardId, count] of perReward) await repos.rewards.returnStock(rewardId, count);
    await repos.ledger.post({
      kind: 'debit',
      type: 'CLOSE',
      memberId: member.id,
      amount: member.balance,
      upToBalance: true,
      idempotencyKey: `close:${member.id}`,
      actor: { type: 'MEMBER' },
      reason: 'account deleted',
    });
    await repos.members.update(member.id, {
      status: 'DELETED',
      telegramId: null,
      phone: null,
      name: null,
      birthday: null,
      startPayload: null,
      notificationsEnabled: false,
      reachable: false,
      deletedAt: now,
    });
  });
}

/** Remembers the file id Telegram gave the member's card image. */
export async function rememberCardFile(deps: DomainDeps, memberId: number, fileId: string): Promise<void> {
  await deps.repos.members.update(memberId, { cardFileId: fileId });
}

/** Telegram told us the member blocked (false) or unblocked (true) the bot. */
export async function setReachable(deps: DomainDeps, telegramId: number, reachable: boolean): Promise<void> {
  const member = await deps.repos.members.findByTelegramId(telegramId);
  if (member && member.reachable !== reachable) await deps.repos.members.update(member.id, { reachable });
}
