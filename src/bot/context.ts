import type { Context } from 'grammy';
import type { Logger } from 'pino';
import type { Member } from '../domain/members/member.js';
import type { DomainDeps } from '../domain/ports.js';
import type { Locale } from '../domain/program.js';
import type { Formatter } from './format.js';
import type { I18n, Translate } from './i18n.js';

/** What the bot's features are built with; wired once in the entry point. */
export interface BotDeps {
  domain: DomainDeps;
  i18n: I18n;
  logger: Logger;
  defaultLocale: Locale;
}

export interface BotContextFlavor {
  /** The member behind this update, loaded once per update; null before /start. */
  member: Member | null;
  locale: Locale;
  t: Translate;
  fmt: Formatter;
  log: Logger;
}

export type BotContext = Context & BotContextFlavor;
