import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import type { CharityCause, Program } from '../program.js';
import type { Donation } from './types.js';

export interface DonateInput {
  memberId: number;
  causeCode: string;
  points: number;
  /** One per confirmation: a double tap or a retry gives once. Scoped to the member. */
  idempotencyKey: string;
}

export interface DonateResult {
  donation: Donation;
  cause: CharityCause;
  /** The balance right after (now, for a replay). */
  balance: number;
  /** True when the key had been used before and nothing was written now. */
  replayed: boolean;
}

/** The ledger key (and the Donation's): one member's key can neither replay nor block another's. */
export const donationKey = (memberId: number, key: string) => `donation:${memberId}:${key}`;

/** The causes members may give to now (open ones of the program file), in the file's order. */
export function openCauses(program: Program): CharityCause[] {
  return (program.charity?.causes ?? []).filter((cause) => cause.open);
}

/** The open cause with this code; CAUSE_NOT_FOUND (unknown, removed from the program, or closed). */
export function openCause(program: Program, code: string): CharityCause {
  const cause = openCauses(program).find((candidate) => candidate.code === code);
  if (!cause) throw new DomainError('CAUSE_NOT_FOUND', { cause: code.slice(0, 24) });
  return cause;
}

/**
 * A member gives points to a cause. Refused below the program's minimum, for a cause that is
 * unknown, removed or closed, beyond the balance, and for anything but a whole number. In one
 * transaction: a DONATION debit through the ledger (member lock, conditional balance update,
 * oldest lots first), the Donation row with its money value (points x pointValueMinor) and the
 * `donationMade` event. Replaying the key returns the first donation; the same key with another
 * cause or amount is IDEMPOTENCY_CONFLICT. Two donations racing for the last points: the member
 * lock orders them and the second finds the balance short.
 */
export async function donatePoints(deps: DomainDeps, input: DonateInput): Promise<DonateResult> {
  const { program } = deps;
  const charity = program.charity;
  if (!input.idempotencyKey || input.idempotencyKey.length > 100) throw new DomainError('AMOUNT_INVALID', { field: 'idempotencyKey' });
  if (!Number.isSafeInteger(input.points) || input.points <= 0) throw new DomainError('AMOUNT_INVALID', { field: 'points' });
  const key = donationKey(input.memberId, input.idempotencyKey);

  // A replay answers with what was given then, even if the cause has closed since.
  const earlier = await deps.repos.donations.findByKey(key);
  if (earlier) return replay(deps, earlier, input);

  const cause = openCause(program, input.causeCode);
  const minPoints = charity?.minPoints ?? 1;
  if (input.points < minPoints) throw new DomainError('DONATION_TOO_SMALL', { min: minPoints, points: input.points });

  const now = deps.clock.now();
  const outcome = await deps.uow.run(async (repos) => {
    const member = await repos.members.findById(input.memberId);
    if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_ACTIVE');
    const posted = await repos.ledger.post({
      kind: 'debit',
      type: 'DONATION',
      memberId: member.id,
      amount: input.points,
      idempotencyKey: key,
      actor: { type: 'MEMBER' },
      reason: `charity:${cause.code}`,
    });
    // A twin with the same key held the member lock first: its donation is visible now.
    if (posted.replayed) return { kind: 'twin' as const };
    const donation = await repos.donations.create({
      memberId: member.id,
      causeCode: cause.code,
      points: input.points,
      valueMinor: input.points * program.points.pointValueMinor,
      ledgerEntryId: posted.entry.id,
      idempotencyKey: key,
      createdAt: now,
    });
    await repos.outbox.publish({
      type: 'donationMade',
      id: `donation:${donation.id}`,
      memberId: member.id,
      donationId: donation.id,
      causeCode: cause.code,
      points: donation.points,
      at: now,
    });
    return { kind: 'given' as const, result: { donation, cause, balance: posted.entry.balanceAfter, replayed: false } };
  });
  if (outcome.kind === 'given') return outcome.result;
  const twin = await deps.repos.donations.findByKey(key);
  if (!twin) throw new DomainError('IDEMPOTENCY_CONFLICT', { key: input.idempotencyKey });
  return replay(deps, twin, input);
}

async function replay(deps: DomainDeps, donation: Donation, input: DonateInput): Promise<DonateResult> {
  if (donation.causeCode !== input.causeCode || donation.points !== input.points) {
    throw new DomainError('IDEMPOTENCY_CONFLICT', { key: input.idempotencyKey });
  }
  const member = await deps.repos.members.findById(donation.memberId);
  const cause = deps.program.charity?.causes.find((candidate) => candidate.code === donation.causeCode) ?? {
    code: donation.causeCode,
    name: { ru: donation.causeCode, en: donation.causeCode },
    description: { ru: '', en: '' },
    open: false,
  };
  return { donation, cause, balance: member?.balance ?? 0, replayed: true };
}
