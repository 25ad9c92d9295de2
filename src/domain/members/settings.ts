import type { DomainDeps } from '../ports.js';
import type { Locale } from '../program.js';
import { digestsOf } from './fingerprints.js';
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

const iso = (date: Date | null) => date?.toISOString() ?? null;

/** Minor units as a plain decimal in the program's currency (`123456` RUB -> "1234.56"). */
export function moneyOf(currency: string): (minor: number) => string {
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return (minor) => (minor / 10 ** digits).toFixed(digits);
}

/** Everything the program holds about a member, as a plain JSON document (right of access). */
export async function exportMemberData(deps: DomainDeps, telegramId: number) {
  const member = await activeMember(deps.repos, telegramId);
  const { repos, program } = deps;
  const [entries, coupons, purchases, surveys, instances, badges, streaks, referral, referred, profile, stores, donations] = await Promise.all([
    repos.ledger.entries(member.id),
    repos.coupons.listByMember(member.id),
    repos.purchases.listByMember(member.id),
    repos.surveys.listByMember(member.id),
    repos.tasks.allInstances(member.id),
    repos.tasks.badges(member.id),
    repos.tasks.streaks(member.id),
    repos.referrals.findByFriend(member.id),
    repos.referrals.stats(member.id),
    repos.tasks.gameProfile(member.id),
    repos.stores.list(),
    repos.donations.listByMember(member.id),
  ]);
  const storeName = (id: number | null) => (id === null ? null : (stores.find((store) => store.id === id)?.name ?? null));
  const taskTitle = (code: string) => program.tasks.list.find((task) => task.code === code)?.title[member.locale] ?? code;
  const money = moneyOf(program.currency);
  // Who invited them: only the inviter's card code, never another person's name or phone.
  const referrer = referral ? await repos.members.findById(referral.referrerId) : null;
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
    coupons: [...coupons]
      .sort((a, b) => a.id - b.id)
      .map((coupon) => ({
        reward: coupon.reward.title[member.locale],
        code: coupon.code,
        status: coupon.status,
        pointsPaid: coupon.cost,
        issuedAt: coupon.issuedAt.toISOString(),
        expiresAt: coupon.expiresAt.toISOString(),
        usedAt: iso(coupon.redeemedAt),
        store: coupon.redeemedStoreName,
        cancelledAt: iso(coupon.cancelledAt),
        expiredAt: iso(coupon.expiredAt),
        pointsRefunded: coupon.pointsRefunded,
      })),
    purchases: purchases.map((purchase) => ({
      at: purchase.createdAt.toISOString(),
      store: storeName(purchase.storeId),
      receipt: purchase.receiptNo,
      currency: program.currency,
      amount: money(purchase.amountMinor),
      returnedAmount: money(purchase.returnedMinor),
      pointsEarned: purchase.pointsEarned,
      pointsSpent: purchase.paidWithPoints,
    })),
    surveys: surveys.map((survey) => ({
      sentAt: survey.sentAt.toISOString(),
      answeredAt: iso(survey.answeredAt),
      store: storeName(survey.storeId),
      score: survey.score,
      reasons: survey.reasons,
      comment: survey.comment,
    })),
    tasks: {
      progress: instances.map((instance) => ({
        task: taskTitle(instance.taskCode),
        period: instance.periodKey,
        progress: instance.progress,
        goal: instance.goal,
        completedAt: iso(instance.completedAt),
        rewardedAt: iso(instance.rewardedAt),
      })),
      badges: badges.map((badge) => ({
        badge: program.tasks.badges.find((definition) => definition.code === badge.code)?.name[member.locale] ?? badge.code,
        awardedAt: badge.awardedAt.toISOString(),
      })),
      streaks: streaks.map((streak) => ({
        task: taskTitle(streak.taskCode),
        current: streak.current,
        best: streak.best,
        lastCheckIn: streak.lastDate,
      })),
    },
    referrals: {
      invitedBy: referral && referrer ? { cardCode: referrer.code, status: referral.status, at: referral.createdAt.toISOString() } : null,
      friendsInvited: referred.joined,
      friendsWhoBought: referred.bought,
    },
    leaderboard: { optedIn: profile.leaderboard, nameShown: profile.nameStyle },
    donations: donations.map((donation) => ({
      at: donation.createdAt.toISOString(),
      cause: program.charity?.causes.find((cause) => cause.code === donation.causeCode)?.name[member.locale] ?? donation.causeCode,
      causeCode: donation.causeCode,
      points: donation.points,
      currency: program.currency,
      amount: money(donation.valueMinor),
    })),
  };
}

/**
 * Erasure: personal fields are wiped, the Telegram link is cut (so nothing is ever sent
 * again and a later /start begins afresh), remaining points are closed through the ledger,
 * and the anonymous accounting records stay (ledger, purchases, returns, donations, task counters:
 * linked only to the anonymised member row, so charity totals do not change). Unused
 * coupons are cancelled without a refund (the points are closed anyway), so a deleted member's
 * coupon can no longer be redeemed; their units go back to a limited stock. Free text and other
 * traces go too: NPS comments (score, group and reasons stay for the anonymous statistics) and
 * the copies of them in staff alerts, the leaderboard choices, messages still waiting in the
 * outbox (SKIPPED), and the bot's conversation state of the Telegram user.
 *
 * What it keeps of the person is a fingerprint (fingerprints.ts): keyed digests of the Telegram
 * id and the verified phone with the one-time rewards granted so far (coupons taken, including
 * those this erasure cancels, and task periods rewarded), so that joining again does not farm
 * them. The invite token goes too: the member's invite link stops working.
 */
export async function deleteMember(deps: DomainDeps, telegramId: number): Promise<void> {
  const now = deps.clock.now();
  await deps.uow.run(async (repos) => {
    const member = await activeMember(repos, telegramId);
    const coupons = await repos.coupons.listByMember(member.id);
    // Lock order reward -> coupons -> member, as in takeReward, cancelCoupon and expireCoupons.
    const issued = coupons.filter((coupon) => coupon.status === 'ISSUED');
    for (const rewardId of [...new Set(issued.map((coupon) => coupon.rewardId))].sort((a, b) => a - b)) await repos.rewards.lockById(rewardId);
    const cancelled = await repos.coupons.cancelIssuedOfMember(member.id, now);
    const perReward = new Map<number, number>();
    for (const coupon of cancelled) perReward.set(coupon.rewardId, (perReward.get(coupon.rewardId) ?? 0) + 1);
    for (const [rewardId, count] of perReward) await repos.rewards.returnStock(rewardId, count);
    // Surveys before the member's row (the ledger locks it), as an NPS answer locks them: survey -> member.
    await repos.surveys.eraseComments(member.id);
    await repos.deliveries.scrubSurveyAlerts((await repos.surveys.listByMember(member.id)).map((survey) => survey.id));
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
    const rewardedTasks = (await repos.tasks.allInstances(member.id)).filter((instance) => instance.rewardedAt !== null);
    const digests = digestsOf(deps.fingerprints, { ...member, telegramId });
    await repos.erasedIdentities.record({
      telegramDigest: digests.telegram,
      phoneDigest: digests.phone,
      erasedAt: now,
      // Coupons cancelled before the erasure were never taken (their limit place was given back).
      rewardTakes: [
        ...member.inheritedTakes,
        ...coupons.filter((coupon) => coupon.status !== 'CANCELLED').map((coupon) => ({ reward: coupon.reward.code, at: coupon.issuedAt })),
      ],
      tasksRewarded: rewardedTasks.map((instance) => ({ task: instance.taskCode, period: instance.periodKey })),
    });
    await repos.tasks.deleteGameProfile(member.id);
    await repos.deliveries.skipPendingOfMember(member.id, 'account deleted');
    await repos.chatSessions.deleteOfUser(telegramId);
    await repos.members.update(member.id, {
      status: 'DELETED',
      telegramId: null,
      phone: null,
      phoneVerified: false,
      referralToken: null,
      name: null,
      birthday: null,
      startPayload: null,
      cardFileId: null,
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
