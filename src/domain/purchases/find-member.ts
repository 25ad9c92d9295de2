import { isMemberCode, normalizeCode } from '../codes.js';
import { DomainError } from '../errors.js';
import type { Member } from '../members/member.js';
import { normalizePhone } from '../members/validation.js';
import type { DomainDeps } from '../ports.js';

/** What a cashier typed, read as a card code (normalized, check character verified) or a phone number. */
export type MemberQuery = { code: string } | { phone: string };

/**
 * Reads a member query the way a cashier means it: a card code typed in any case, with spaces
 * or dashes, or from the card's deep link `m_<code>`, else a phone number. A code with a typo is
 * caught by its check character before any lookup (MEMBER_CODE_INVALID); a phone that is not
 * one is PHONE_INVALID.
 */
export function parseMemberQuery(deps: Pick<DomainDeps, 'program'>, query: string): MemberQuery {
  const raw = query.trim().replace(/^m_/i, '');
  const code = normalizeCode(raw);
  // Nine characters with a letter are a card code; nine digits only when the check character fits.
  const looksLikeCode = /^[0-9A-Z]{9}$/.test(code) && (/[A-Z]/.test(code) || isMemberCode(code));
  if (looksLikeCode) {
    if (!isMemberCode(code)) throw new DomainError('MEMBER_CODE_INVALID');
    return { code };
  }
  return { phone: normalizePhone(raw, deps.program.defaultCountry) };
}

/**
 * Finds an active member the way a cashier would: by card code or by phone number
 * (parseMemberQuery). A purchase at a till names the member by code to the use case instead,
 * which finds them in its own first read (record-purchase.ts).
 */
export async function findMemberForStaff(deps: DomainDeps, query: string): Promise<Member> {
  const parsed = parseMemberQuery(deps, query);
  // Only a verified phone (the member's own shared contact) finds them: a typed one may be anyone's.
  const member = 'code' in parsed ? await deps.repos.members.findByCode(parsed.code) : await deps.repos.members.findByVerifiedPhone(parsed.phone);
  if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
  return member;
}
