import type { BotContext } from './context.js';

export type Screen = (ctx: BotContext) => Promise<unknown>;

/**
 * Screens that a deep link can open for an active member (`/start rewards`, e.g. the button of a
 * broadcast). Features register their screens when they are built; /start looks them up.
 */
export class Screens {
  private readonly byName = new Map<string, Screen>();

  register(name: string, screen: Screen): void {
    this.byName.set(name, screen);
  }

  get(name: string | null): Screen | undefined {
    return name ? this.byName.get(name) : undefined;
  }
}
