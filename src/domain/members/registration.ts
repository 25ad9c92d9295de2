import { generateMemberCode } from '../codes.js';
import { DomainError } from '../errors.js';
import { expiryFor } from '../ledger/expiry.js';
import type { DomainDeps, Repositories } from '../ports.js';
import type { Locale } from '../program.js';
import { tierForTotal } from '../tiers.js';
import { localDate } from '../time.js';
import type { Member, RegistrationStep } from './member.js';
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

export async function providePhone(deps: DomainDeps, telegramId: number, input: PhoneInput): Promise<Member> {
  const member = await registeringMember(deps.repos, telegramId, 'PHONE');
  // Only the user's own contact proves the number is theirs.
  if (input.kind === 'contact' && input.contactUserId !== telegramId) throw new DomainError('FOREIGN_CONTACT');
  const phone = normalizePhone(input.kind === 'contact' ? input.phone : input.text, deps.program.defaultCountry);
  const holder = await deps.repos.members.findByPhone(phone);
  if (holder && holder.id !== member.id) throw new DomainError('PHONE_TAKEN');
  return deps.repos.members.update(member.id, { phone, registrationStep: after('PHONE') });
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
 */
export async function provideBirthday(deps: DomainDeps, telegramId: number, text: string | null): Promise<Completed> {
  const now = deps.clock.now();
  const birthday = text === null ? null : parseBirthday(text, localDate(now, deps.program.timezone));
  const completed = await deps.uow.run(async (repos) => {
    const member = await registeringMember(repos, telegramId, 'BIRTHDAY');
    await repos.members.update(member.id, {
      birthday,
      status: 'ACTIVE',
      registrationStep: null,
      registeredAt: now,
      tier: tierForTotal(deps.program, 0).code,
    });
    const points = deps.program.welcomeBonus.points;
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
