import { isMemberCode, normalizeCode } from '../codes.js';
import { DomainError } from '../errors.js';
import type { Member } from '../members/member.js';
import { normalizePhone } from '../members/validation.js';
import type { DomainDeps } from '../ports.js';

/**
 * Finds an active member the way a cashier would: by card code (typed in any case, with
 * spaces or dashes, or from the card's deep link `m_<code>`) or by phone number. A code with
 * a typo is caught by its check character before any lookup.
 */
export async function findMemberForStaff(deps: DomainDeps, query: string): Promise<Member> {
  const raw = query.trim().replace(/^m_/i, '');
  const code = normalizeCode(raw);
  let member: Member | null;
  // Nine characters with a letter are a card code; nine digits only when the check character fits.
  const looksLikeCode = /^[0-9A-Z]{9}$/.test(code) && (/[A-Z]/.test(code) || isMemberCode(code));
  if (looksLikeCode) {
    if (!isMemberCode(code)) throw new DomainError('MEMBER_CODE_INVALID');
    member = await deps.repos.members.findByCode(code);
  } else {
    // Only a verified phone (the member's own shared contact) finds them: a typed one may be anyone's.
    member = await deps.repos.members.findByVerifiedPhone(normalizePhone(raw, deps.program.defaultCountry));
  }
  if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
  return member;
}
