import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { type DomainError, isDomainError } from '../../src/domain/errors.js';
import type { DomainEvent } from '../../src/domain/events.js';
import { keyedFingerprints } from '../../src/domain/members/fingerprints.js';
import { acceptConsent, chooseLanguage, provideBirthday, provideName, providePhone, startRegistration } from '../../src/domain/members/registration.js';
import { deleteMember, exportMemberData } from '../../src/domain/members/settings.js';
import type { DomainDeps } from '../../src/domain/ports.js';
import { fingerprintPurge, type JobContext } from '../../src/jobs/registry.js';
import { TEST_FINGERPRINTS } from '../support/env.js';
import { MemoryStore } from '../support/memory.js';
import { exampleProgram } from '../support/program.js';

const USER = 1001;
let store: MemoryStore;
let deps: DomainDeps;
let clock: ManualClock;

beforeEach(() => {
  store = new MemoryStore();
  clock = new ManualClock(new Date('2026-11-23T09:00:00Z'));
  deps = {
    uow: store.uow,
    repos: store,
    program: exampleProgram(),
    clock,
    notifier: { notify: async () => {} },
    adminTelegramIds: [],
    fingerprints: TEST_FINGERPRINTS,
  };
});

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isDomainError(error)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return error;
}

async function registerUpToBirthday(telegramId = USER, phone = '+79123456789') {
  await startRegistration(deps, { telegramId, locale: 'ru', telegramName: 'Anna', payload: 'ref_ABC' });
  await chooseLanguage(deps, telegramId, 'en');
  await acceptConsent(deps, telegramId);
  await providePhone(deps, telegramId, { kind: 'contact', phone: phone.slice(1), contactUserId: telegramId });
  await provideName(deps, telegramId, 'Anna');
}

describe('registration', () => {
  it('records the registrationCompleted event with the registration; a follower gets it once the unit of work is done', async () => {
    const seen: DomainEvent[] = [];
    store.followEvents(deps, [{ handle: async (event) => void seen.push(event) }]);
    await registerUpToBirthday();
    expect(seen).toEqual([]);
    const { member } = await provideBirthday(deps, USER, null);
    const event = { type: 'registrationCompleted', id: `registration:${member.id}`, memberId: member.id, startPayload: 'ref_ABC', at: clock.now() };
    expect(seen).toEqual([event]);
    expect(await store.domainEvents.findById(event.id)).toMatchObject({ event, status: 'PROCESSED', processedAt: clock.now() });
    // Completing again is refused, so the event is never written twice.
    expect((await rejection(provideBirthday(deps, USER, null))).code).toBe('MEMBER_NOT_ACTIVE');
    expect(seen).toHaveLength(1);
  });

  it('walks the steps and completes with the welcome bonus, keeping the deep-link payload', async () => {
    await registerUpToBirthday();
    const { member, welcomeBonus } = await provideBirthday(deps, USER, '05.09.1990');
    expect(member).toMatchObject({
      status: 'ACTIVE',
      registrationStep: null,
      locale: 'en',
      phone: '+79123456789',
      name: 'Anna',
      birthday: '1990-09-05',
      consentVersion: '2026-01',
      startPayload: 'ref_ABC',
      tier: 'basic',
      balance: 100,
    });
    expect(member.consentAt).toEqual(clock.now());
    expect(welcomeBonus).toBe(100);
    const lots = await store.ledger.openLots(member.id);
    // 365 days from registration, per the example program's expiry policy.
    expect(lots).toEqual([{ id: expect.any(Number), remaining: 100, expiresAt: new Date('2027-11-23T09:00:00Z') }]);
  });

  it('never creates a second member for the same Telegram user', async () => {
    const first = await startRegistration(deps, { telegramId: USER, locale: 'ru', telegramName: null, payload: null });
    const second = await startRegistration(deps, { telegramId: USER, locale: 'ru', telegramName: null, payload: 's_msk-01' });
    expect(first.kind === 'registering' && first.created).toBe(true);
    expect(second).toMatchObject({ kind: 'registering', created: false, member: { id: first.member.id, startPayload: 's_msk-01' } });
    expect(store.memberRows.size).toBe(1);
  });

  it('refuses steps out of order and changes nothing', async () => {
    await startRegistration(deps, { telegramId: USER, locale: 'ru', telegramName: null, payload: null });
    expect((await rejection(provideName(deps, USER, 'Anna'))).code).toBe('WRONG_STEP');
    expect((await rejection(acceptConsent(deps, USER))).code).toBe('WRONG_STEP');
    expect((await store.members.findByTelegramId(USER))?.registrationStep).toBe('LANGUAGE');
  });

  it("accepts only the user's own contact", async () => {
    await startRegistration(deps, { telegramId: USER, locale: 'ru', telegramName: null, payload: null });
    await chooseLanguage(deps, USER, 'ru');
    await acceptConsent(deps, USER);
    const error = await rejection(providePhone(deps, USER, { kind: 'contact', phone: '79123456789', contactUserId: 999 }));
    expect(error.code).toBe('FOREIGN_CONTACT');
    const noUserId = await rejection(providePhone(deps, USER, { kind: 'contact', phone: '79123456789', contactUserId: null }));
    expect(noUserId.code).toBe('FOREIGN_CONTACT');
    expect((await store.members.findByTelegramId(USER))?.phone).toBeNull();
  });

  it('refuses a phone that belongs to another member', async () => {
    await registerUpToBirthday(USER, '+79123456789');
    await startRegistration(deps, { telegramId: 2002, locale: 'ru', telegramName: null, payload: null });
    await chooseLanguage(deps, 2002, 'ru');
    await acceptConsent(deps, 2002);
    const error = await rejection(providePhone(deps, 2002, { kind: 'typed', text: '8 912 345 67 89' }));
    expect(error.code).toBe('PHONE_TAKEN');
  });

  it('refuses a future birthday and completes after a skip', async () => {
    await registerUpToBirthday();
    expect((await rejection(provideBirthday(deps, USER, '24.11.2026'))).code).toBe('BIRTHDAY_FUTURE');
    expect((await store.members.findByTelegramId(USER))?.status).toBe('REGISTERING');
    const { member } = await provideBirthday(deps, USER, null);
    expect(member).toMatchObject({ status: 'ACTIVE', birthday: null });
  });

  it('pays the welcome bonus once even if the last step is repeated', async () => {
    await registerUpToBirthday();
    await provideBirthday(deps, USER, null);
    expect((await rejection(provideBirthday(deps, USER, null))).code).toBe('MEMBER_NOT_ACTIVE');
    expect(store.entryRows.filter((e) => e.type === 'BONUS')).toHaveLength(1);
  });
});

describe('personal data', () => {
  it('exports what is kept and erases it on deletion, closing the points through the ledger', async () => {
    await registerUpToBirthday();
    const { member } = await provideBirthday(deps, USER, '05.09.1990');
    const exported = await exportMemberData(deps, USER);
    expect(exported.member).toMatchObject({ cardCode: member.code, phone: '+79123456789', name: 'Anna', birthday: '1990-09-05', balance: 100 });
    expect(exported.ledger).toEqual([expect.objectContaining({ type: 'BONUS', points: 100, reason: 'welcome' })]);
    // Every category is in the document, empty when there is nothing (filled ones: test/db/member-deletion.test.ts).
    expect(exported).toMatchObject({
      coupons: [],
      purchases: [],
      surveys: [],
      tasks: { progress: [], badges: [], streaks: [] },
      referrals: { invitedBy: null, friendsInvited: 0, friendsWhoBought: 0 },
      leaderboard: { optedIn: false, nameShown: 'INITIALS' },
    });

    store.sessionRows.set(`nps:${USER}`, { surveyId: 1 });
    store.sessionRows.set(`staff:${USER}`, { step: 'amount' });
    store.sessionRows.set(`nps:9${USER}`, { surveyId: 2 });
    await deleteMember(deps, USER);
    // The bot's conversation state of that Telegram user goes too; another user's stays.
    expect([...store.sessionRows.keys()]).toEqual([`nps:9${USER}`]);
    const erased = await store.members.findById(member.id);
    expect(erased).toMatchObject({ status: 'DELETED', telegramId: null, phone: null, name: null, birthday: null, balance: 0, notificationsEnabled: false });
    expect(store.entryRows.map((e) => [e.type, e.amount])).toEqual([
      ['BONUS', 100],
      ['CLOSE', -100],
    ]);
    // A later /start begins afresh.
    const again = await startRegistration(deps, { telegramId: USER, locale: 'ru', telegramName: null, payload: null });
    expect(again.member.id).not.toBe(member.id);
  });
});

describe('erasure fingerprints', () => {
  it('are keyed, irreversible digests: another key gives other digests, a phone never equals an id', () => {
    const other = keyedFingerprints('another-secret-of-at-least-32-characters', 730);
    const digest = TEST_FINGERPRINTS.digest('phone', '+79120000001');
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(digest).not.toBe(other.digest('phone', '+79120000001'));
    expect(TEST_FINGERPRINTS.digest('telegram', '79120000001')).not.toBe(TEST_FINGERPRINTS.digest('phone', '79120000001'));
    expect(() => keyedFingerprints('short', 730)).toThrow(/32 characters/);
  });

  it('are purged after the retention period, by the scheduled job', async () => {
    const erased = { telegramDigest: 'a', phoneDigest: null, rewardTakes: [], tasksRewarded: [] };
    await store.erasedIdentities.record({ ...erased, erasedAt: new Date(clock.now().getTime() - 731 * 86_400_000) });
    await store.erasedIdentities.record({ ...erased, erasedAt: new Date(clock.now().getTime() - 729 * 86_400_000) });
    expect(await fingerprintPurge.run({ domain: deps } as JobContext, {})).toEqual({ purged: 1 });
    expect(store.erasedRows).toHaveLength(1);
    expect(await fingerprintPurge.run({ domain: deps } as JobContext, {})).toEqual({ purged: 0 });
  });
});
