import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { ManualClock } from '../../src/domain/clock.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi, type SentMessage } from '../support/fake-bot-api/server.js';
import { MemberSeeder } from '../support/members.js';

/**
 * The broadcast wizard's experiment in the chat: a marketer sets the control group and composes
 * a variant B; the broadcast holds both, the control group gets nothing and every treated member
 * gets their own variant. Taps on those buttons by anyone else change nothing.
 * (The test program's default control group is 0 %, test/support/program.ts.)
 */

const ADMIN = 952_001;
const MARKETER = 952_002;
const CASHIER = 952_003;
const FIRST_TELEGRAM_ID = 962_000;

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
const clock = new ManualClock(new Date('2026-11-23T09:00:00Z'));
const members = new MemberSeeder(
  () => db.prisma,
  FIRST_TELEGRAM_ID,
  () => clock.now(),
);

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, clock, env: { ADMIN_TELEGRAM_IDS: String(ADMIN) } });
  await app.domain.repos.staff.upsert({ telegramId: MARKETER, role: 'MARKETER', storeId: null, name: 'Mia' });
  const store = await app.domain.repos.stores.findByCode('msk-01');
  await app.domain.repos.staff.upsert({ telegramId: CASHIER, role: 'STAFF', storeId: store?.id ?? null, name: 'Carl' });
});
afterEach(() => expectNoViolations(fake));
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

const mia = () => new Conversation(fake, { id: MARKETER, first_name: 'Mia', language_code: 'en' });

function data(message: SentMessage, prefix: string): string {
  const found = inlineButtons(message).find((b) => b.data?.startsWith(prefix));
  if (!found?.data) throw new Error(`no button ${prefix}… in ${JSON.stringify(inlineButtons(message))}`);
  return found.data;
}
const labels = (message: SentMessage) => inlineButtons(message).map((b) => b.text);

/** /broadcast, message A as text, no button: the audience screen and the wizard's id. */
async function openWizard(marketer: Conversation, text: string): Promise<{ id: string; audience: SentMessage }> {
  // Wait for the prompt itself: an earlier broadcast's final report may reach the chat in between.
  fake.sendText(marketer.user, '/broadcast');
  await marketer.nextMessage((m) => /New broadcast/.test(m.text ?? ''));
  fake.sendText(marketer.user, text);
  const askButton = await marketer.nextMessage((m) => /Add a button/.test(m.text ?? ''));
  const id = data(askButton, 'bc:bt:').split(':')[2] as string;
  const audience = await marketer.taps(`bc:bt:${id}:none`);
  return { id, audience };
}

describe('the control group and variant B in the chat', () => {
  it('a marketer sets 20 % and a variant B (photo, formatting, a button): the broadcast holds them; the control group gets nothing, treated members their own variant', async () => {
    const seeded = await members.add(40, { tier: 'gold', locale: 'en' });
    const marketer = mia();
    const textA = 'Variant A: winter sale';
    const { id, audience } = await openWizard(marketer, textA);
    expect(audience.text).toContain('Audience: 40 members');
    // The program's default first (0 % in the test program), then the cycle 5 → 10 → 20.
    expect(labels(audience)).toContain('🧪 Control group: 0 %');
    expect(audience.text).not.toContain('Control group');
    await marketer.tapsAndSeesEdit(`bc:cp:${id}`, /Control group: 5 %/);
    await marketer.tapsAndSeesEdit(`bc:cp:${id}`, /Control group: 10 %/);
    const twenty = await marketer.tapsAndSeesEdit(`bc:cp:${id}`, /Control group: 20 %/);
    expect(twenty.text).toContain('Control group: 20 %, about 8 members held back');
    expect(labels(twenty)).toContain('🧪 Control group: 20 %');

    // Variant B: a photo with a formatted caption and a link button, checked like message A.
    expect((await marketer.taps(`bc:vb:${id}`)).text).toContain('Variant B');
    expect((await marketer.says('   ')).text).toContain('Please send a text message');
    expect((await marketer.says('x'.repeat(4097))).text).toContain('at most 4096 fit here');
    const caption = 'Variant B: winter sale, 30% off';
    const captionEntities = [{ type: 'bold', offset: 0, length: 9 }];
    fake.sendUserPhoto(marketer.user, { caption, caption_entities: captionEntities });
    const askButton = await marketer.nextMessage();
    expect(askButton.text).toContain('Add a button');
    expect((await marketer.taps(`bc:bt:${id}:url`)).text).toContain('Send the link');
    expect((await marketer.says('https://example.com/b')).text).toContain('Send the text of the button');
    const withB = await marketer.says('Shop B');
    expect(withB.text).toContain('A/B test');
    expect(withB.text).toContain('Control group: 20 %');
    expect(labels(withB)).toContain('🅱️ Remove variant B');

    // The preview shows both messages as members get them, and what is held back.
    const previewA = await marketer.taps(`bc:pv:${id}`);
    expect(previewA.text).toBe(textA);
    expect(inlineButtons(previewA)).toEqual([]);
    const previewB = await marketer.nextMessage();
    expect(previewB.method).toBe('sendPhoto');
    expect(previewB.caption).toBe(caption);
    expect(previewB.entities).toEqual(captionEntities);
    expect(inlineButtons(previewB)).toEqual([{ text: 'Shop B', url: 'https://example.com/b' }]);
    const control = await marketer.nextMessage();
    expect(control.text).toContain('variant A, then variant B');
    expect(control.text).toContain('It goes to 32 members');
    expect(control.text).toContain('About 8 members (20 %) are held back as a control group');

    const started = await marketer.taps(`bc:go:${id}`);
    const broadcastId = Number(/#(\d+)/.exec(started.text ?? '')?.[1]);
    const row = await db.prisma.broadcast.findUniqueOrThrow({ where: { id: broadcastId } });
    expect(row.controlPercent).toBe(20);
    expect(row.variantB).toMatchObject({ text: caption, entities: captionEntities, button: { text: 'Shop B', url: 'https://example.com/b' } });
    expect((row.variantB as { photoFileId: string | null }).photoFileId).toEqual(expect.any(String));

    await eventually(async () => ((await db.prisma.broadcast.findUniqueOrThrow({ where: { id: broadcastId } })).status === 'DONE' ? true : null));
    // Its report reaches this chat: read it here, not as a later test's reply.
    await marketer.nextMessage((m) => new RegExp(`Broadcast #${broadcastId} is done`).test(m.text ?? ''));
    const holdouts = new Set((await db.prisma.broadcastHoldout.findMany({ where: { broadcastId } })).map((h) => h.memberId));
    const deliveries = await db.prisma.delivery.findMany({ where: { broadcastId } });
    const variantOf = new Map(deliveries.map((d) => [d.memberId, (d.payload as { variant?: string }).variant]));
    expect(holdouts.size).toBeGreaterThan(0);
    expect(holdouts.size + deliveries.length).toBe(seeded.length);
    expect(new Set(variantOf.values())).toEqual(new Set(['A', 'B']));
    for (const member of seeded) {
      const calls = fake.calls.filter((call) => call.chatId === member.chatId);
      if (holdouts.has(member.id)) {
        expect(calls).toEqual([]);
        continue;
      }
      const copies = fake.messagesTo(member.chatId);
      expect(copies).toHaveLength(1);
      const [copy] = copies as [SentMessage];
      if (variantOf.get(member.id) === 'B') {
        expect([copy.method, copy.caption, copy.entities, inlineButtons(copy)]).toEqual(['sendPhoto', caption, captionEntities, inlineButtons(previewB)]);
      } else {
        expect([copy.method, copy.text]).toEqual(['sendMessage', textA]);
      }
    }
  });

  it('removing variant B and cycling past 50 % back to 0: a plain broadcast with no control group', async () => {
    const marketer = mia();
    const { id } = await openWizard(marketer, 'Plain message');
    await marketer.taps(`bc:vb:${id}`);
    await marketer.says('Second thoughts');
    await marketer.taps(`bc:bt:${id}:none`);
    for (const percent of [5, 10, 20, 50]) await marketer.tapsAndSeesEdit(`bc:cp:${id}`, new RegExp(`Control group: ${percent} %`));
    // Back to none: the screen no longer speaks of a control group.
    const back = await marketer.tapsAndSeesEdit(`bc:cp:${id}`, /^(?![\s\S]*Control group)[\s\S]*A\/B test/);
    expect(labels(back)).toContain('🧪 Control group: 0 %');
    const removed = await marketer.tapsAndSeesEdit(`bc:vx:${id}`, /Audience/);
    expect(removed.text).not.toContain('A/B test');
    expect(labels(removed)).toContain('🅱️ Add variant B');
    await marketer.taps(`bc:pv:${id}`);
    expect((await marketer.nextMessage()).text).not.toContain('variant B');
    const started = await marketer.taps(`bc:go:${id}`);
    const broadcastId = Number(/#(\d+)/.exec(started.text ?? '')?.[1]);
    expect(await db.prisma.broadcast.findUniqueOrThrow({ where: { id: broadcastId } })).toMatchObject({ controlPercent: 0, variantB: null });
    // Its report reaches this chat when it is done: read it here, not as a later test's reply.
    await marketer.nextMessage((m) => new RegExp(`Broadcast #${broadcastId} is done`).test(m.text ?? ''));
  });
});

describe('who may set them', () => {
  it("a non-marketer's forged taps on the experiment buttons are refused and change nothing; another marketer's act on nothing", async () => {
    const marketer = mia();
    const { id } = await openWizard(marketer, 'Only for Mia');
    await marketer.tapsAndSeesEdit(`bc:cp:${id}`, /Control group: 5 %/);
    const before = await db.prisma.chatSession.findMany({ where: { key: { contains: String(MARKETER) } } });
    const forbidden = 'Broadcasts are only for marketers and administrators.';
    for (const user of [
      new Conversation(fake, { id: CASHIER, first_name: 'Carl', language_code: 'en' }),
      new Conversation(fake, { id: FIRST_TELEGRAM_ID - 1, first_name: 'Stranger', language_code: 'en' }),
    ]) {
      // Refused first in words (and this gives the forged taps a message of the bot's to sit on).
      expect((await user.says('/broadcast')).text).toBe(forbidden);
      for (const forged of [`bc:cp:${id}`, `bc:vb:${id}`, `bc:vx:${id}`, 'bc:cp:AAAAAAAA']) {
        expect([forged, await user.sendsCallback(forged)]).toEqual([forged, forbidden]);
      }
    }
    // The admin may broadcast, but Mia's wizard is not theirs: the buttons are stale for them.
    const boss = new Conversation(fake, { id: ADMIN, first_name: 'Boss', language_code: 'en' });
    for (const forged of [`bc:cp:${id}`, `bc:vb:${id}`]) expect(await boss.sendsCallback(forged)).toBe('This button is no longer active.');
    expect(await db.prisma.chatSession.findMany({ where: { key: { contains: String(MARKETER) } } })).toEqual(before);
    // Mia's wizard carries on where she left it.
    expect((await marketer.tapsAndSeesEdit(`bc:cp:${id}`, /Control group: 10 %/)).text).toContain('Audience');
  });
});

describe('the compose step as a dialog (@grammyjs/conversations over the session store)', () => {
  const dialogRow = () => db.prisma.chatSession.findUnique({ where: { key: `dialogs:${MARKETER}` } });

  it('lives in the session store: a restarted bot takes the message where the old one asked for it, and the dialog ends with the step', async () => {
    fake.sendText(mia().user, '/broadcast');
    await mia().nextMessage((m) => /New broadcast/.test(m.text ?? ''));
    await eventually(async () => ((await dialogRow()) !== null ? true : null));

    // Another process (a restart, or another instance) gets the answer.
    await app.stop();
    app = await startTestApp({ fake, databaseUrl: db.url, clock, env: { ADMIN_TELEGRAM_IDS: String(ADMIN) } });
    fake.sendText(mia().user, 'After the restart');
    const askButton = await mia().nextMessage((m) => /Add a button/.test(m.text ?? ''));
    const id = data(askButton, 'bc:bt:').split(':')[2] as string;
    // The plugin writes its state when the update's middleware ends, after the reply.
    await eventually(async () => ((await dialogRow()) === null ? true : null));
    const preview = await mia()
      .taps(`bc:bt:${id}:none`)
      .then(() => mia().taps(`bc:pv:${id}`));
    expect(preview.text).toBe('After the restart');
  });

  it('a marketer who is also an active customer composes through the same dialog (their text also passes the redeem dialog mount)', async () => {
    const [member] = await members.add(1, { tier: 'gold', locale: 'en' });
    if (!member) throw new Error('no member');
    await app.domain.repos.staff.upsert({ telegramId: member.chatId, role: 'MARKETER', storeId: null, name: 'Cy' });
    const cy = new Conversation(fake, { id: member.chatId, first_name: 'Cy', language_code: 'en' });
    fake.sendText(cy.user, '/broadcast');
    await cy.nextMessage((m) => /New broadcast/.test(m.text ?? ''));
    const askButton = await cy.says('From a customer-marketer');
    const id = data(askButton, 'bc:bt:').split(':')[2] as string;
    expect((await cy.taps(`bc:bt:${id}:url`)).text).toContain('Send the link');
    expect((await cy.says('https://example.com/c')).text).toContain('Send the text of the button');
    expect((await cy.says('Go')).text).toContain('Audience');
    await cy.taps(`bc:vb:${id}`);
    expect((await cy.says('Variant B from Cy')).text).toContain('Add a button');
  });

  it('times out by the injected clock: an answer after the wizard expired is not taken as the message', async () => {
    const marketer = mia();
    fake.sendText(marketer.user, '/broadcast');
    await marketer.nextMessage((m) => /New broadcast/.test(m.text ?? ''));
    await eventually(async () => ((await dialogRow()) !== null ? true : null));
    clock.advance(61 * 60_000);
    const reply = await marketer.says('Much later');
    expect(reply.text).not.toContain('Add a button');
    // The dialog ends at that answer (its row is written when the update's middleware ends, after the reply).
    await eventually(async () => ((await dialogRow()) === null ? true : null));
    expect(await db.prisma.chatSession.findUnique({ where: { key: `broadcast:${MARKETER}` } })).toMatchObject({ value: { step: 'compose' } });
    // Within the hour it is taken.
    fake.sendText(marketer.user, '/broadcast');
    await marketer.nextMessage((m) => /New broadcast/.test(m.text ?? ''));
    clock.advance(59 * 60_000);
    expect((await marketer.says('Just in time')).text).toContain('Add a button');
  });
});
