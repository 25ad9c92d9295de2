import { randomBytes } from 'node:crypto';
import { DomainError } from '../errors.js';
import type { Actor } from '../ledger/types.js';
import type { DomainDeps } from '../ports.js';
import type { Locale } from '../program.js';
import { MAX_POINTS } from '../purchases/request.js';
import { assertNotOwnCard } from '../staff/own-card.js';
import type { SpendRequest } from './types.js';

/**
 * Confirmation requests: the till or cashier asks "Pay 500 points at <store>?", the member taps
 * Yes or No in their own chat, and an approved request pays exactly one purchase of exactly
 * those points at that store before it expires. Every step is one conditional update, so a
 * double tap, a forged button or a second till cannot approve, decline or use it twice.
 */
export const SPEND_REQUEST_TTL_MS = 5 * 60_000;
export const SPEND_REQUEST_ID = /^[A-Za-z0-9_-]{12}$/;

export type SpendRequestState = 'pending' | 'approved' | 'declined' | 'expired' | 'used';

export function spendRequestState(request: SpendRequest, now: Date): SpendRequestState {
  if (request.usedAt) return 'used';
  if (request.status === 'DECLINED') return 'declined';
  if (request.expiresAt <= now) return 'expired';
  return request.status === 'APPROVED' ? 'approved' : 'pending';
}

export interface SpendRequestView {
  request: SpendRequest;
  state: SpendRequestState;
  storeName: string;
}

async function view(deps: DomainDeps, request: SpendRequest): Promise<SpendRequestView> {
  const store = await deps.repos.stores.findById(request.storeId);
  return { request, state: spendRequestState(request, deps.clock.now()), storeName: store?.name ?? '' };
}

/**
 * Sends the member the question (outbox, with the request: a rollback sends nothing). The
 * balance is checked now so that the cashier hears "not enough points" before waiting.
 */
export async function createSpendRequest(
  deps: DomainDeps,
  input: {
    memberId: number;
    storeId: number;
    points: number;
    actor: Actor;
    operatorTelegramId: number | null;
    notify?: { chatId: number; locale: Locale } | null;
  },
): Promise<SpendRequestView> {
  if (!Number.isSafeInteger(input.points) || input.points <= 0 || input.points > MAX_POINTS) throw new DomainError('AMOUNT_INVALID', { field: 'points' });
  const now = deps.clock.now();
  const created = await deps.uow.run(async (repos) => {
    const member = await repos.members.findById(input.memberId);
    if (member?.status !== 'ACTIVE' || member.telegramId === null) throw new DomainError('MEMBER_NOT_FOUND');
    assertNotOwnCard(member, input.operatorTelegramId);
    const store = await repos.stores.findById(input.storeId);
    if (!store?.active) throw new DomainError('STORE_NOT_FOUND', { field: 'storeCode' });
    if (member.balance < input.points) throw new DomainError('INSUFFICIENT_POINTS', { balance: member.balance, field: 'points' });
    const request = await repos.spendRequests.create({
      id: randomBytes(9).toString('base64url'),
      memberId: member.id,
      storeId: store.id,
      points: input.points,
      actor: input.actor,
      notify: input.notify ?? null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + SPEND_REQUEST_TTL_MS),
    });
    await repos.outbox.notify(
      member.id,
      { kind: 'spendRequest', requestId: request.id, points: request.points, storeName: store.name },
      { dedupeKey: `spend-request:${request.id}`, class: 'transactional' },
    );
    await repos.audit.record({
      actor: input.actor,
      action: 'spend_request.created',
      subject: `spend-request:${request.id}`,
      details: { points: input.points },
    });
    return request;
  });
  return view(deps, created);
}

/**
 * The member's Yes or No. Only the member the request is for may answer (a forged button of
 * someone else's request is "not found"), only while it is pending and unexpired. The cashier
 * who asked is told after the commit (best effort: their screen can also check).
 */
export async function answerSpendRequest(deps: DomainDeps, input: { requestId: string; telegramId: number; approve: boolean }): Promise<SpendRequestView> {
  const now = deps.clock.now();
  const member = await deps.repos.members.findByTelegramId(input.telegramId);
  const request = SPEND_REQUEST_ID.test(input.requestId) ? await deps.repos.spendRequests.findById(input.requestId) : null;
  if (!request || !member || request.memberId !== member.id) throw new DomainError('SPEND_REQUEST_NOT_FOUND');
  const decided = await deps.uow.run(async (repos) => {
    const won = await repos.spendRequests.decide(request.id, member.id, input.approve, now);
    if (won) {
      await repos.audit.record({
        actor: { type: 'MEMBER', id: String(member.id) },
        action: input.approve ? 'spend_request.approved' : 'spend_request.declined',
        subject: `spend-request:${request.id}`,
      });
    }
    return won;
  });
  const current = (await deps.repos.spendRequests.findById(request.id)) ?? request;
  const result = await view(deps, current);
  if (!decided) throw new DomainError('SPEND_REQUEST_INVALID', { field: 'spendRequestId', state: result.state });
  if (current.notify && deps.notifier.notifyChat) {
    await deps.notifier.notifyChat(
      current.notify,
      { kind: 'spendAnswered', requestId: current.id, approved: input.approve, points: current.points },
      { dedupeKey: `spend-answered:${current.id}`, class: 'transactional' },
    );
  }
  return result;
}

/** A request as its creator sees it; another key's or person's request is "not found". */
export async function getSpendRequest(deps: DomainDeps, input: { requestId: string; actor: Actor }): Promise<SpendRequestView> {
  const request = SPEND_REQUEST_ID.test(input.requestId) ? await deps.repos.spendRequests.findById(input.requestId) : null;
  if (!request || request.actor.type !== input.actor.type || (request.actor.id ?? null) !== (input.actor.id ?? null))
    throw new DomainError('SPEND_REQUEST_NOT_FOUND', { field: 'id' });
  return view(deps, request);
}
