import type { SessionStore } from './context.js';

/**
 * Every feature that keeps conversation state between updates. A user's state for a feature is
 * the ChatSession row `<feature>:<telegramId>` (the domain deletes them all with the member).
 * 'dialogs' holds every @grammyjs/conversations dialog of the user (dialogs.ts: the cashier's
 * purchase and return, the coupon code, the broadcast's compose step, /adjust).
 * 'charity' remembers the cause whose amount may be typed (features/charity). 'broadcast' is the
 * broadcast wizard.
 */
export const SESSION_FEATURES = ['dialogs', 'broadcast', 'nps', 'charity'] as const;
export type SessionFeature = (typeof SESSION_FEATURES)[number];

export const sessionKey = (feature: SessionFeature, telegramId: number) => `${feature}:${telegramId}`;

/**
 * The conversation state of the user behind one update. Free text is offered to several wizards in
 * turn (staff, coupon code, NPS comment, broadcast), each asking whether it is open: the first
 * read loads every feature's row in one query, and the rest are answered from that copy. Writes
 * go to the store at once and keep the copy in step. Updates that never ask cost nothing.
 */
export class UpdateSessions {
  private rows: Promise<Map<string, unknown>> | undefined;

  constructor(
    private readonly store: SessionStore,
    private readonly telegramId: number,
  ) {}

  async read(feature: SessionFeature): Promise<unknown> {
    this.rows ??= this.store.readMany(SESSION_FEATURES.map((name) => sessionKey(name, this.telegramId)));
    return (await this.rows).get(sessionKey(feature, this.telegramId));
  }

  async write(feature: SessionFeature, value: unknown): Promise<void> {
    const key = sessionKey(feature, this.telegramId);
    await this.store.write(key, value);
    if (this.rows) (await this.rows).set(key, value);
  }

  async delete(feature: SessionFeature): Promise<void> {
    const key = sessionKey(feature, this.telegramId);
    await this.store.delete(key);
    if (this.rows) (await this.rows).delete(key);
  }
}
