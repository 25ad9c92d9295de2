import { type Conversation, inlineButtons } from './conversation.js';
import type { SentMessage } from './fake-bot-api/server.js';

/**
 * The cashier in the chat, shared by the scenario helpers (till-scenario.ts, program-scenario.ts)
 * and the staff tests: the admin's invite, and a sale typed into the purchase dialog.
 */

/** The admin invites `cashier` to `storeCode` (/invite staff) and the cashier opens the link. */
export async function hireCashier(admin: Conversation, cashier: Conversation, storeCode: string): Promise<Conversation> {
  const invite = await admin.says(`/invite staff ${storeCode}`);
  const payload = /start=(inv_[\w-]+)/.exec(invite.text ?? '')?.[1];
  if (!payload) throw new Error(`no invite link in ${invite.text}`);
  await cashier.says(`/start ${payload}`);
  return cashier;
}

/** The callback data of the inline button whose data starts with `prefix`. */
export function buttonData(message: SentMessage, prefix: string): string {
  const found = inlineButtons(message).find((b) => b.data?.startsWith(prefix));
  if (!found?.data) throw new Error(`no button ${prefix}… in ${JSON.stringify(inlineButtons(message))}`);
  return found.data;
}

/**
 * A sale without points through the cashier's purchase dialog: card code, amount, receipt, "No"
 * when asked about points. Returns the confirmation screen and the result after "Confirm".
 */
export async function sellWithoutPoints(cashier: Conversation, cardCode: string, amount: string, receipt: string) {
  await cashier.says('🧾 New purchase');
  await cashier.says(cardCode);
  await cashier.says(amount);
  let confirm = await cashier.says(receipt);
  if (inlineButtons(confirm).some((b) => b.data?.startsWith('stf:pts:'))) confirm = await cashier.taps(buttonData(confirm, 'stf:pts:'));
  const done = await cashier.taps(buttonData(confirm, 'stf:ok:'));
  return { confirm, done };
}
