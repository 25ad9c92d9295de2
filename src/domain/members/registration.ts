import { generateMemberCode } from '../codes.js';
import { DomainError } from '../errors.js';
import { expiryFor } from '../ledger/expiry.js';
import type { DomainDeps, Repositories } from '../ports.js';
import type { Locale } from '../program.js';
import { tierForTotal } from '../tiers.js';
import { localDate } from '../time.js';
import { digestsOf, type ErasedIdentity } from './fingerprints.js';
import type { Member, RegistrationStep, RewardTake } from './member.js';
import { normalizeName, normalizePhone, parseBirthday } from './validation.js';

/**
 * Registration as a sequence of steps stored on the member row, so that an interrupted
 * registration resumes where it stopped, on any instance, after any restart:
 * LANGUAGE -> CONSENT -> PHONE -> NAME -> BIRTHDAY -> ACTIVE.
 */

const STEPS: readonly RegistrationStep[] = ['LANGUAGE', 'CONSENT', 'PHONE', 'NAME', 'BIRTHDAY'];

export interface StartInput {
  telegramId: number;
  locale: Locale;
  telegramName: string | null;
  payload: string | null;
}

export type StartResult = { kind: 'registering'; member: Member; created: boolean } | { kind: 'active'; member: Member };

/** `/start`: finds the member or opens a registration; never creates a second member. */
export async function startRegistration(deps: DomainDeps, input: StartInput): Promise<StartResult> {
  const existing = await deps.repos.members.findByTelegramId(input.telegramId);
  if (existing?.status === 'ACTIVE') return { kind: 'active', member: existing };
  if (existing) {
    // A new deep link while registering replaces the old one: the latest intent wins.
    const member =
      input.payload && input.payload !== existing.startPayload ? await deps.repos.members.update(existing.id, { startPayload: input.payload }) : existing;
    return { kind: 'registering', member, created: false };
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const created = await deps.repos.members.create({
      telegramId: input.telegramId,
      code: generateMemberCode(),
      locale: input.locale,
      name: input.telegramName,
      startPayload: input.payload,
    });
    if (created) return { kind: 'registering', member: created, created: true };
    // Either the code collided (draw again) or a concurrent /start created the member.
    const raced = await deps.repos.members.findByTelegramId(input.telegramId);
    if (raced) return startRegistration(deps, input);
  }
  throw new Error('could not draw a free member code in 5 attempts');
}

async function registeringMember(repos: Repositories, telegramId: number, step: RegistrationStep): Promise<Member> {
  const member = await repos.members.findByTelegramId(telegramId);
  if (!member) throw new DomainError('MEMBER_NOT_FOUND');
  if (member.status !== 'REGISTERING') throw new DomainError('MEMBER_NOT_ACTIVE');
  if (member.registrationStep !== step) throw new DomainError('WRONG_STEP', { expected: step, actual: member.registrationStep });
  return member;
}

const after = (step: RegistrationStep): RegistrationStep => STEPS[STEPS.indexOf(step) + 1] as RegistrationStep;

/** The language step; the language itself can be changed at any step (and later in Settings). */
export async function chooseLanguage(deps: DomainDeps, telegramId: number, locale: Locale): Promise<Member> {
  const member = await deps.repos.members.findByTelegramId(telegramId);
  if (!member) throw new DomainError('MEMBER_NOT_FOUND');
  const advance = member.status === 'REGISTERING' && member.registrationStep === 'LANGUAGE';
  return deps.repos.members.update(member.id, { locale, ...(advance ? { registrationStep: after('LANGUAGE') } : {}) });
}

/** Explicit consent to personal-data processing, stored with its time and the policy version. */
export async function acceptConsent(deps: DomainDeps, telegramId: number): Promise<Member> {
  const member = await registeringMember(deps.repos, telegramId, 'CONSENT');
  return deps.repos.members.update(member.id, {
    consentAt: deps.clock.now(),
    consentVersion: deps.program.policy.version,
    registrationStep: after('CONSENT'),
  });
}

export type PhoneInput = { kind: 'contact'; phone: string; contactUserId: number | null } | { kind: 'typed'; text: string };

/**
 * The phone step. Only the user's own shared contact verifies a number (Telegram vouches that it
 * is theirs); a typed number is kept unverified. A typed number never displaces anyone, and an
 * unverified number never blocks its verified owner: when the owner shares their contact, the
 * number is cleared from whoever typed it (a squatter, or a typo). Lookups by phone (tills,
 * staff) find verified numbers only.
 */
export async function providePhone(deps: DomainDeps, telegramId: number, input: PhoneInput): Promise<Member> {
  const member = await registeringMember(deps.repos, telegramId, 'PHONE');
  if (input.kind === 'contact' && input.contactUserId !== telegramId) throw new DomainError('FOREIGN_CONTACT');
  const phone = normalizePhone(input.kind === 'contact' ? input.phone : input.text, deps.program.defaultCountry);
  const verified = input.kind === 'contact';
  return deps.uow.run(async (repos) => {
    const holder = await repos.members.findByPhone(phone);
    if (holder && holder.id !== member.id) {
      if (!verified || holder.phoneVerified) throw new DomainError('PHONE_TAKEN');
      await repos.members.update(holder.id, { phone: null, phoneVerified: false });
      await repos.audit.record({ actor: { type: 'MEMBER' }, action: 'member.phone_taken_over', subject: `member:${holder.id}`, details: { by: member.id } });
    }
    return repos.members.update(member.id, { phone, phoneVerified: verified, registrationStep: after('PHONE') });
  });
}

export async function provideName(deps: DomainDeps, telegramId: number, text: string): Promise<Member> {
  const member = await registeringMember(deps.repos, telegramId, 'NAME');
  return deps.repos.members.update(member.id, { name: normalizeName(text), registrationStep: after('NAME') });
}

export interface Completed {
  member: Member;
  welcomeBonus: number;
}

/**
 * The last step: the birthday (or `null` to skip) completes the registration. Activation and
 * the welcome bonus commit together, so a crash cannot leave an active member without it; so
 * does the `registrationCompleted` event.
 *
 * A person whose Telegram id or verified phone matches an erased account's fingerprint
 * (fingerprints.ts) is a returning member: no welcome bonus, no referral (the task engine
 * refuses it for `returning` members), the task rewards the erased account had are carried over
 * as already rewarded, and its reward takes keep counting against per-member limits.
 */
export async function provideBirthday(deps: DomainDeps, telegramId: number, text: string | null): Promise<Completed> {
  const now = deps.clock.now();
  const birthday = text === null ? null : parseBirthday(text, localDate(now, deps.program.timezone));
  const completed = await deps.uow.run(async (repos) => {
    const member = await registeringMember(repos, telegramId, 'BIRTHDAY');
    const erased = await repos.erasedIdentities.findMatching(digestsOf(deps.fingerprints, { ...member, telegramId }));
    const returning = erased.length > 0;
    await repos.members.update(member.id, {
      birthday,
      status: 'ACTIVE',
      registrationStep: null,
      registeredAt: now,
      tier: tierForTotal(deps.program, 0).code,
      ...(returning ? { returning, inheritedTakes: distinctTakes(erased.flatMap((identity) => identity.rewardTakes)) } : {}),
    });
    if (returning) await carryTaskRewards(deps, repos, member.id, erased, now);
    const points = returning ? 0 : deps.program.welcomeBonus.points;
    if (points > 0) {
      await repos.ledger.post({
        kind: 'credit',
        type: 'BONUS',
        memberId: member.id,
        amount: points,
        idempotencyKey: `welcome:${member.id}`,
        actor: { type: 'SYSTEM', id: 'registration' },
        reason: 'welcome',
        expiresAt: expiryFor(deps.program.points.expiry, now, deps.program.timezone),
      });
    }
    const completed = (await repos.members.findById(member.id)) as Member;
    // The deep link the member came with (a friend's invite, a store's QR) and a complete profile
    // count once the task engine follows this event (src/domain/tasks/subscriber.ts).
    await repos.outbox.publish({
      type: 'registrationCompleted',
      id: `registration:${completed.id}`,
      memberId: completed.id,
      startPayload: completed.startPayload,
      at: now,
    });
    return { member: completed, welcomeBonus: points };
  });
  return completed;
}

/** A take kept by two erasures of one person (the second inherited it) counts once. */
function distinctTakes(takes: RewardTake[]): RewardTake[] {
  const seen = new Set<string>();
  return takes.filter((take) => {
    const key = `${take.reward}|${take.at.toISOString()}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The task periods the erased accounts were rewarded for become the new member's, completed and
 * rewarded: the engine never completes (nor pays) an instance twice.
 */
async function carryTaskRewards(deps: DomainDeps, repos: Repositories, memberId: number, erased: ErasedIdentity[], at: Date): Promise<void> {
  const seen = new Set<string>();
  for (const { task: taskCode, period } of erased.flatMap((identity) => identity.tasksRewarded)) {
    const task = deps.program.tasks.list.find((definition) => definition.code === taskCode);
    const key = `${taskCode}\u0000${period}`;
    if (!task || seen.has(key)) continue;
    seen.add(key);
    await repos.tasks.saveInstance(memberId, taskCode, {
      periodKey: period,
      goal: task.goal,
      progress: task.goal,
      stores: {},
      completedAt: at,
      rewardedAt: at,
    });
  }
}
