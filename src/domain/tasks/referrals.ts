import { generateReferralToken, isReferralToken } from '../codes.js';
import { expiryFor } from '../ledger/expiry.js';
import type { Member } from '../members/member.js';
import { activeMember } from '../members/overview.js';
import type { DomainDeps } from '../ports.js';
import { monthBounds } from './periods.js';
import type { Referral } from './ports.js';
import { processTaskEvent } from './process-event.js';

/**
 * Invite-a-friend. Every member's invite link is `https://t.me/<bot>?start=ref_<token>`, with an
 * opaque random token of its own (never the card code: a link people share must not hand out
 * what identifies the card at a till). The member can replace it (`rotateReferralToken`): the
 * old link then credits nobody; so do the old `ref_<card code>` links. A
 * friend who completes registration through it is linked to the inviter (PENDING); the friend's
 * first purchase of at least `referrals.minPurchaseMinor` within `windowDays` converts it and
 * rewards both through the ledger (keys `referral:<id>:friend` / `:referrer`). The rules, all
 * here in the domain: referrals must be on; no self-referral (also a CHECK in the database); a
 * friend is referred once, ever (unique friend); only new members count (the link is accepted
 * only as part of the friend's own registration: registered within the last day, no purchase
 * yet); at most `monthlyCap` referrer rewards per calendar month, beyond which the friend is
 * still rewarded and the referrer is not. A returning member (one whose erased account's
 * fingerprint matched at registration) is refused: neither side is credited for them again.
 * A return of the converting purchase keeps the rewards.
 */

export const REFERRAL_PREFIX = 'ref_';
const NEW_MEMBER_WINDOW_MS = 86_400_000;
const DAY_MS = 86_400_000;
const ACTOR = { type: 'SYSTEM' as const, id: 'referrals' };

export type ReferralRefusal = 'DISABLED' | 'UNKNOWN_REFERRER' | 'SELF' | 'NOT_NEW' | 'RETURNING' | 'ALREADY_REFERRED';
export type ReferralLink = { kind: 'linked'; referral: Referral } | { kind: 'refused'; reason: ReferralRefusal };

export const inviteLink = (botUsername: string, token: string) => `https://t.me/${botUsername}?start=${REFERRAL_PREFIX}${token}`;

const TOKEN_ATTEMPTS = 5;

/** Sets a fresh token (only where none is set, with `onlyIfUnset`); retried on the rare collision. */
async function drawToken(deps: DomainDeps, memberId: number, onlyIfUnset: boolean): Promise<void> {
  for (let attempt = 0; attempt < TOKEN_ATTEMPTS; attempt++) {
    const outcome = await deps.repos.members.setReferralToken(memberId, generateReferralToken(), { onlyIfUnset });
    if (outcome !== 'collision') return;
  }
  throw new Error(`could not draw a free referral token in ${TOKEN_ATTEMPTS} attempts`);
}

async function currentToken(deps: DomainDeps, memberId: number): Promise<string> {
  const token = (await deps.repos.members.findById(memberId))?.referralToken;
  if (!token) throw new Error(`member ${memberId} has no referral token`);
  return token;
}

/** The member's invite token, drawn on first use (two first uses at once agree on one). */
export async function referralTokenOf(deps: DomainDeps, member: Member): Promise<string> {
  if (member.referralToken) return member.referralToken;
  await drawToken(deps, member.id, true);
  return currentToken(deps, member.id);
}

/** «New link»: a fresh token replaces the old one, and the old link stops crediting anyone. */
export async function rotateReferralToken(deps: DomainDeps, telegramId: number): Promise<string> {
  const member = await activeMember(deps.repos, telegramId);
  await drawToken(deps, member.id, false);
  return currentToken(deps, member.id);
}

/** Links a newly registered member to the member whose invite link (token) they came with. */
export async function registerReferral(deps: DomainDeps, friendId: number, token: string): Promise<ReferralLink> {
  const refused = (reason: ReferralRefusal): ReferralLink => ({ kind: 'refused', reason });
  if (!deps.program.tasks.referrals.enabled) return refused('DISABLED');
  const now = deps.clock.now();
  // An old `ref_<card code>` link is not a token: it matches nobody.
  const referrer = isReferralToken(token) ? await deps.repos.members.findByReferralToken(token) : null;
  if (referrer?.status !== 'ACTIVE') return refused('UNKNOWN_REFERRER');
  if (referrer.id === friendId) return refused('SELF');
  const friend = await deps.repos.members.findById(friendId);
  if (friend?.status !== 'ACTIVE' || !friend.registeredAt) return refused('NOT_NEW');
  if (friend.returning) return refused('RETURNING');
  if (now.getTime() - friend.registeredAt.getTime() > NEW_MEMBER_WINDOW_MS || friend.registeredAt < (referrer.registeredAt ?? now)) return refused('NOT_NEW');
  if (await deps.repos.tasks.hasPurchases(friendId)) return refused('NOT_NEW');
  const referral = await deps.repos.referrals.create({ referrerId: referrer.id, friendId, createdAt: now });
  return referral ? { kind: 'linked', referral } : refused('ALREADY_REFERRED');
}

export interface ReferralConversion {
  referral: Referral;
  friendPoints: number;
  referrerPoints: number;
  /** The referrer's monthly cap had been reached: only the friend was rewarded. */
  capped: boolean;
}

/**
 * The friend bought: converts their pending referral if the purchase qualifies. Idempotent and
 * safe against concurrent purchases: the referral row is locked and moves PENDING -> CONVERTED
 * once; the cap is counted under the referrer's row lock, so two friends converting at once
 * cannot both take the last place.
 */
export async function convertReferral(
  deps: DomainDeps,
  friendId: number,
  purchase: { purchaseId: number; amountMinor: number; at: Date },
): Promise<ReferralConversion | null> {
  const rules = deps.program.tasks.referrals;
  if (!rules.enabled || purchase.amountMinor < rules.minPurchaseMinor) return null;
  const pending = await deps.repos.referrals.findByFriend(friendId);
  if (pending?.status === 'CONVERTED' && pending.purchaseId === purchase.purchaseId) {
    // This purchase's event again (at-least-once delivery): the conversion committed before, the
    // referrer's task step after it may not have (a crash between). Idempotent by its id.
    if (pending.referrerRewarded) await countForReferrer(deps, pending, purchase.at);
    return null;
  }
  if (pending?.status !== 'PENDING') return null;
  const now = deps.clock.now();

  const conversion = await deps.uow.run(async (repos): Promise<ReferralConversion | null> => {
    const referral = await repos.referrals.lockByFriend(friendId);
    if (referral?.status !== 'PENDING') return null;
    if (purchase.at.getTime() > referral.createdAt.getTime() + rules.windowDays * DAY_MS) {
      await repos.referrals.finish(referral.id, { status: 'EXPIRED', at: purchase.at, purchaseId: null, referrerRewarded: false });
      return null;
    }
    await repos.tasks.lockMember(referral.referrerId);
    const referrer = await repos.members.findById(referral.referrerId);
    const month = monthBounds(purchase.at, deps.program.timezone);
    const capped = (await repos.referrals.countRewarded(referral.referrerId, month.from, month.to)) >= rules.monthlyCap;
    const referrerRewarded = referrer?.status === 'ACTIVE' && !capped;
    if (!(await repos.referrals.finish(referral.id, { status: 'CONVERTED', at: purchase.at, purchaseId: purchase.purchaseId, referrerRewarded }))) return null;

    const expiresAt = expiryFor(deps.program.points.expiry, now, deps.program.timezone);
    const credit = (memberId: number, amount: number, role: string) =>
      repos.ledger.post({
        kind: 'credit',
        type: 'BONUS',
        memberId,
        amount,
        idempotencyKey: `referral:${referral.id}:${role}`,
        actor: ACTOR,
        reason: 'referral',
        expiresAt,
      });
    // Each reward and its message commit together (the messages wait in the outbox).
    if (rules.friendPoints > 0) {
      await credit(friendId, rules.friendPoints, 'friend');
      await repos.outbox.notify(
        friendId,
        { kind: 'referralRewarded', role: 'friend', points: rules.friendPoints },
        { dedupeKey: `referral:${referral.id}:friend` },
      );
    }
    if (referrerRewarded && rules.referrerPoints > 0) {
      await credit(referral.referrerId, rules.referrerPoints, 'referrer');
      await repos.outbox.notify(
        referral.referrerId,
        { kind: 'referralRewarded', role: 'referrer', points: rules.referrerPoints },
        { dedupeKey: `referral:${referral.id}:referrer` },
      );
    }
    return {
      referral: { ...referral, status: 'CONVERTED', convertedAt: purchase.at, purchaseId: purchase.purchaseId, referrerRewarded },
      friendPoints: rules.friendPoints,
      referrerPoints: referrerRewarded ? rules.referrerPoints : 0,
      capped,
    };
  });
  if (!conversion) return null;

  if (conversion.referral.referrerRewarded) await countForReferrer(deps, conversion.referral, purchase.at);
  return conversion;
}

/** Friends who bought drive the referrer's `referrals` tasks (capped conversions do not). */
function countForReferrer(deps: DomainDeps, referral: Referral, at: Date) {
  return processTaskEvent(deps, referral.referrerId, { type: 'referralConverted', id: `referral:${referral.id}`, at });
}

export interface ReferralSummary {
  enabled: boolean;
  /** Friends who registered through the link, who bought (converted), and who are still pending. */
  joined: number;
  bought: number;
  pending: number;
  referrerPoints: number;
  friendPoints: number;
  minPurchaseMinor: number;
}

export async function referralSummary(deps: DomainDeps, memberId: number): Promise<ReferralSummary> {
  const rules = deps.program.tasks.referrals;
  const stats = rules.enabled ? await deps.repos.referrals.stats(memberId) : { joined: 0, bought: 0, pending: 0 };
  return { enabled: rules.enabled, ...stats, referrerPoints: rules.referrerPoints, friendPoints: rules.friendPoints, minPurchaseMinor: rules.minPurchaseMinor };
}
