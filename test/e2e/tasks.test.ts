import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { ManualClock } from '../../src/domain/clock.js';
import { deleteMember } from '../../src/domain/members/settings.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { takeReward } from '../../src/domain/rewards/take-reward.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi, type SentMessage } from '../support/fake-bot-api/server.js';
import { programWithTasks } from '../support/program.js';

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 81_000;
let receipt = 1;
// Monday 23 November 2026, 12:00 in Moscow.
const clock = new ManualClock(new Date('2026-11-23T09:00:00Z'));
const DAY = 86_400_000;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, program: programWithTasks(), clock });
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});
afterEach(() => expectNoViolations(fake));

const newUser = (firstName: string) => new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: 'en' });
const memberOf = (user: Conversation) => db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(user.user.id) } });

/** Registers in English, birthday skipped: 100 welcome points. */
async function register(user: Conversation, start = '/start') {
  await user.registers(start);
  return memberOf(user);
}

/**
 * Registers in English through the contact button with the given phone and a birthday (so the
 * profile task completes); returns the welcome text.
 */
async function join(user: Conversation, options: { start: string; phone: string }): Promise<string> {
  // Each step waits for its own prompt: notices the queue sends on its own may arrive in between.
  const hasButton = (data: string) => (m: SentMessage) => inlineButtons(m).some((b) => b.data === data);
  fake.sendText(user.user, options.start);
  await user.nextMessage(hasButton('reg:lang:en'));
  fake.tapButton(user.user, 'reg:lang:en');
  await user.nextMessage(hasButton('reg:consent:yes'));
  fake.tapButton(user.user, 'reg:consent:yes');
  await user.nextMessage((m) => /share your phone/.test(m.text ?? ''));
  fake.sendContact(user.user, { phone_number: options.phone, user_id: user.user.id });
  await user.nextMessage((m) => /What should we call you/.test(m.text ?? ''));
  fake.sendText(user.user, user.user.first_name);
  await user.nextMessage((m) => /birthday/i.test(m.text ?? ''));
  fake.sendText(user.user, '01.02.1990');
  return (await user.nextMessage((m) => /You are in/.test(m.text ?? ''))).text ?? '';
}

/** Every domain event handled by the task engine (registrations, purchases). */
const settled = () => eventually(async () => (await db.prisma.domainEvent.count({ where: { status: 'PENDING' } })) === 0, { what: 'the events handled' });

/** Why the member was given bonus points: `welcome`, `referral`, or `task:<code>`. */
async function bonusReasons(memberId: number): Promise<string[]> {
  const entries = await db.prisma.ledgerEntry.findMany({ where: { memberId, type: 'BONUS' }, orderBy: { id: 'asc' } });
  return entries.map((entry) => (entry.reason?.startsWith('task') ? `task:${taskCodeOf(entry.idempotencyKey)}` : (entry.reason ?? '')));
}
const taskCodeOf = (key: string) => key.split(':')[2] ?? key;

/** A purchase at the till, through the same use case the staff wizard and the API call. */
async function buy(user: Conversation, amountMinor: number, storeCode = 'msk-01') {
  const member = await memberOf(user);
  const store = await db.prisma.store.findUniqueOrThrow({ where: { code: storeCode } });
  const no = `E-${receipt++}`;
  return recordPurchase(app.domain, {
    memberId: member.id,
    storeId: store.id,
    receiptNo: no,
    amountMinor,
    pointsToSpend: 0,
    idempotencyKey: `e2e-${no}`,
    actor: { type: 'TILL', id: 'till-e2e' },
  });
}

/** A message the bot sends on its own (the delivery queue paces one per second per chat). */
const notice = (user: Conversation, pattern: RegExp) => fake.waitForMessageTo(user.user.id, (m) => pattern.test(m.text ?? ''), { timeoutMs: 20_000, after: 0 });

/**
 * Sends text and waits for the reply matching `pattern` (messages the queue sends on its own may
 * arrive in between).
 */
async function ask(user: Conversation, text: string, pattern: RegExp): Promise<SentMessage> {
  const before = fake.calls.length;
  fake.sendText(user.user, text);
  return fake.waitForMessageTo(user.user.id, (m) => pattern.test(plain(m.text)), { after: before, timeoutMs: 10_000 });
}

/** Text with the no-break spaces of formatted money as plain spaces. */
const plain = (text: string | undefined) => (text ?? '').replace(/[\u00a0\u202f]/g, ' ');

/** Taps a button whose answer is a popup and an edit of the screen; returns both. */
async function tapForPopup(user: Conversation, data: string, screen: RegExp): Promise<{ popup: string; edit: SentMessage }> {
  const before = fake.calls.length;
  const edit = await user.tapsAndSeesEdit(data, screen);
  const answer = fake.calls.slice(before).find((call) => call.method === 'answerCallbackQuery');
  return { popup: String(answer?.params.text ?? ''), edit };
}

describe('tasks', () => {
  it('a member checks in three days running and sees the streak', async () => {
    const start = clock.now();
    const ann = newUser('Ann');
    await register(ann);
    try {
      const screen = await ann.says('🎯 Tasks');
      expect(screen.text).toContain('🔥 Check-in streak: 0 days (best: 0 days)');
      expect(screen.text).toContain('3 purchases this month');
      expect(screen.text).toContain('▱▱▱ 0/3 · 7 days left');
      expect(inlineButtons(screen).map((b) => b.data ?? b.url)).toEqual(['tsk:in', 'tsk:ref', 'tsk:lb']);

      for (const day of [1, 2, 3]) {
        await ann.says('🎯 Tasks');
        const { popup, edit } = await tapForPopup(ann, 'tsk:in', new RegExp(`Check-in streak: (<b>)?${day} days?`));
        expect(popup).toContain(`Checked in! Streak: ${day} day`);
        expect(popup).toContain('+5 points');
        if (day === 3) expect(popup).toContain('3 days in a row: +20 points!');
        expect(edit.text).toContain('You have checked in today');
        expect(inlineButtons(edit).map((b) => b.data)).not.toContain('tsk:in');
        clock.advance(DAY);
      }
      // Tapping a stale button the same day again counts nothing.
      clock.advance(-DAY);
      expect(await ann.sendsCallback('tsk:in')).toContain('already checked in today');
      expect((await memberOf(ann)).balance).toBe(100 + 3 * 5 + 20);
      expect((await ann.says('🎯 Tasks')).text).toContain('🔥 Check-in streak: 3 days (best: 3 days)');
      const history = await ann.says('📜 History');
      expect(history.text).toMatch(/\+20 · streak bonus/);
      expect(history.text).toMatch(/\+5 · task reward/);
    } finally {
      clock.set(start);
    }
  });

  it('completes «3 purchases this month» and gets the points', async () => {
    const ben = newUser('Ben');
    await register(ben);
    await buy(ben, 10_000);
    expect(await notice(ben, /Task complete: «Your first purchase»/)).toMatchObject({
      text: expect.stringContaining('+100 points on your account.'),
    });
    await buy(ben, 10_000, 'msk-02');
    expect((await notice(ben, /Task complete: «Shop in two of our stores»/)).text).toContain('New badge: 🧭 Explorer');
    const halfway = await ask(ben, '🎯 Tasks', /^🎯 Tasks/);
    expect(halfway.text).toContain('▰▰▱ 2/3');
    await buy(ben, 10_000);
    const done = await notice(ben, /Task complete: «3 purchases this month»/);
    expect(done.text).toContain('+150 points on your account.');
    // 100 welcome + 3 × 2 earned (3 % of the 94.00 paid after the 6 % discount) + 100 first
    // purchase + 50 two stores + 150 three purchases
    await eventually(async () => (await memberOf(ben)).balance === 406, { what: 'the task rewards on the balance' });

    const screen = await ask(ben, '🎯 Tasks', /^🎯 Tasks/);
    expect(screen.text).toContain('✅ 3 purchases this month — done');
    expect(screen.text).toContain('🏅 Badges: 🛍 First purchase, 🧭 Explorer');
    expect(plain(screen.text)).toContain('▱▱▱▱▱▱▱▱▱▱ RUB 300 / RUB 5,000 · 7 days left');
  });

  it('invites a friend who registers through the link and buys: both are rewarded', async () => {
    const cat = newUser('Cat');
    const inviter = await register(cat);
    await cat.says('🎯 Tasks');
    const invite = await cat.tapsAndSeesEdit('tsk:ref', /Invite friends/);
    // The link carries an opaque token of its own, not the card code.
    const { referralToken: token } = await memberOf(cat);
    expect(token).toMatch(/^[0-9A-Za-z]{22}$/);
    const link = `https://t.me/loyalty_test_bot?start=ref_${token}`;
    expect(invite.text).toContain(`Your link: ${link}`);
    expect(invite.text).not.toContain(inviter.code);
    expect(invite.text).toContain('you get 300 points and your friend gets 200 points');
    expect(invite.text).toContain('👥 Friends: 0 friends joined, 0 bought');
    const share = inlineButtons(invite).find((b) => b.url?.startsWith('https://t.me/share/url?'));
    expect(new URL(share?.url as string).searchParams.get('url')).toBe(link);

    const dan = newUser('Dan');
    const friend = await register(dan, `/start ref_${token}`);
    const referral = await eventually(() => db.prisma.referral.findUnique({ where: { friendId: friend.id } }), { what: 'the pending referral' });
    expect(referral).toMatchObject({ referrerId: inviter.id, status: 'PENDING' });

    // Below the minimum (1 000 RUB): still pending.
    await buy(dan, 50_000);
    expect(await db.prisma.referral.findUnique({ where: { friendId: friend.id } })).toMatchObject({ status: 'PENDING' });
    await buy(dan, 120_000);
    expect((await notice(dan, /first purchase! Your bonus for joining through a friend/)).text).toContain('+200 points');
    expect((await notice(cat, /A friend you invited made their first purchase/)).text).toContain('+300 points');
    expect(await db.prisma.referral.findUnique({ where: { friendId: friend.id } })).toMatchObject({ status: 'CONVERTED', referrerRewarded: true });
    expect((await memberOf(cat)).balance).toBe(100 + 300);

    expect((await ask(cat, '🎯 Tasks', /^🎯 Tasks/)).text).toContain('👥 Friends: 1 friend joined, 1 bought');
    // A member can be referred once: the link again changes nothing.
    await ask(dan, `/start ref_${token}`, /You are already a member/);
    expect(await db.prisma.referral.count({ where: { friendId: friend.id } })).toBe(1);
  });

  it('a rotated link credits nobody through its old token, nor does an old ref_<card code> link', async () => {
    const eva = newUser('Eva');
    const inviter = await register(eva);
    await eva.says('🎯 Tasks');
    await eva.tapsAndSeesEdit('tsk:ref', /Invite friends/);
    const { referralToken: old } = await memberOf(eva);
    // «New link» asks first, then replaces the token; the screen shows the new link.
    await eva.tapsAndSeesEdit('tsk:ref:new', /The old link will stop working/);
    const { popup, edit } = await tapForPopup(eva, 'tsk:ref:new:yes', /Invite friends/);
    expect(popup).toBe('Your new link is ready. The old one no longer works.');
    const { referralToken: fresh } = await memberOf(eva);
    expect(fresh).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(fresh).not.toBe(old);
    expect(edit.text).toContain(`Your link: https://t.me/loyalty_test_bot?start=ref_${fresh}`);

    const byOldToken = await register(newUser('Fay'), `/start ref_${old}`);
    const byCardCode = await register(newUser('Gil'), `/start ref_${inviter.code}`);
    await settled();
    expect(await db.prisma.referral.findMany({ where: { friendId: { in: [byOldToken.id, byCardCode.id] } } })).toEqual([]);
    expect(await db.prisma.referral.count({ where: { referrerId: inviter.id } })).toBe(0);
  });

  it('erasing the account and joining again farms nothing: no welcome bonus, referral, profile reward or second «once per 30 days» coupon', async () => {
    const gus = newUser('Gus');
    await register(gus);
    await gus.says('🎯 Tasks');
    await gus.tapsAndSeesEdit('tsk:ref', /Invite friends/);
    const { referralToken: token } = await memberOf(gus);
    const hal = newUser('Hal');
    const phone = `7913${String(hal.user.id).padStart(7, '0')}`;

    // The first time: welcome bonus, profile reward, referral on the first purchase, a coffee.
    expect(await join(hal, { start: `/start ref_${token}`, phone })).toContain('Welcome bonus: 100 points');
    const first = await memberOf(hal);
    await settled();
    expect(await bonusReasons(first.id)).toEqual(expect.arrayContaining(['welcome', 'task:profile']));
    await buy(hal, 120_000);
    await notice(gus, /A friend you invited made their first purchase/);
    expect(await db.prisma.referral.findUnique({ where: { friendId: first.id } })).toMatchObject({ status: 'CONVERTED', referrerRewarded: true });
    await takeReward(app.domain, { telegramId: hal.user.id, rewardCode: 'free-coffee', idempotencyKey: 'hal-1' });
    await settled();
    const inviterBalance = (await memberOf(gus)).balance;
    expect(inviterBalance).toBe(100 + 300);

    // Erased, then the same Telegram account and phone join again through the same link.
    await deleteMember(app.domain, hal.user.id);
    const welcomeBack = await join(hal, { start: `/start ref_${token}`, phone });
    expect(welcomeBack).toContain('You are in, Hal!');
    expect(welcomeBack).not.toContain('Welcome bonus');
    const second = await memberOf(hal);
    expect(second.id).not.toBe(first.id);
    expect(second).toMatchObject({ returning: true, balance: 0 });
    await buy(hal, 120_000);
    await settled();
    expect(await db.prisma.referral.findUnique({ where: { friendId: second.id } })).toBeNull();
    expect(await bonusReasons(second.id)).toEqual([]);
    expect((await memberOf(gus)).balance).toBe(inviterBalance);
    await expect(takeReward(app.domain, { telegramId: hal.user.id, rewardCode: 'free-coffee', idempotencyKey: 'hal-2' })).rejects.toMatchObject({
      code: 'LIMIT_REACHED',
    });

    // Erased again; a new Telegram account shares the same phone: still the same person.
    await deleteMember(app.domain, hal.user.id);
    const halAgain = newUser('Hal');
    expect(await join(halAgain, { start: `/start ref_${token}`, phone })).not.toContain('Welcome bonus');
    const third = await memberOf(halAgain);
    expect(third).toMatchObject({ returning: true, balance: 0, phone: `+${phone}`, phoneVerified: true });
    await buy(halAgain, 120_000);
    await settled();
    expect(await db.prisma.referral.findUnique({ where: { friendId: third.id } })).toBeNull();
    expect(await bonusReasons(third.id)).toEqual([]);
    expect((await memberOf(gus)).balance).toBe(inviterBalance);
    await expect(takeReward(app.domain, { telegramId: halAgain.user.id, rewardCode: 'free-coffee', idempotencyKey: 'hal-3' })).rejects.toMatchObject({
      code: 'LIMIT_REACHED',
    });
    // What erasure kept: digests only, never the number or the Telegram id.
    const kept = await db.prisma.erasedIdentity.findMany();
    expect(JSON.stringify(kept)).not.toContain(phone);
    expect(JSON.stringify(kept)).not.toContain(String(hal.user.id));
  });

  it('counts a store visit by its QR link once a day, also when it started the registration', async () => {
    const eva = newUser('Eva');
    await register(eva, '/start s_msk-02');
    expect((await notice(eva, /Task complete: «Drop by our Arbat store»/)).text).toContain('+10 points');
    expect(await db.prisma.storeVisit.count({ where: { member: { telegramId: BigInt(eva.user.id) } } })).toBe(1);
    await ask(eva, '/start s_msk-02', /Your visit to Arbat 12 is already counted today/);
    await ask(eva, '/start s_nowhere', /There is no such active store/);
    const start = clock.now();
    try {
      clock.advance(DAY);
      await ask(eva, '/start s_msk-02', /Welcome to Arbat 12! Your visit is counted\./);
    } finally {
      clock.set(start);
    }
  });

  it('joins the leaderboard with the name shown as chosen', async () => {
    const fox = newUser('Fox Mulder');
    await register(fox);
    await fox.says('🎯 Tasks');
    const board = await fox.tapsAndSeesEdit('tsk:lb', /Leaderboard/);
    expect(board.text).toContain('You are not on the leaderboard');
    const joined = await fox.tapsAndSeesEdit('tsk:lb:on', /Your place/);
    expect(joined.text).toMatch(/👉 \d+\. F\. M\. — \d+ points/);
    expect(joined.text).toContain('Shown as: initials');
    const first = await fox.tapsAndSeesEdit('tsk:lb:n:FIRST_NAME', /Shown as: first name/);
    expect(first.text).toMatch(/👉 \d+\. Fox — /);
    // Forged data is checked on the server.
    expect(await fox.sendsCallback('tsk:claim:three-purchases:2026-11')).toContain('not completed');
  });
});
