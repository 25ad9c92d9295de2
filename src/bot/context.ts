import type { Context } from 'grammy';
import type { Logger } from 'pino';
import type { Member } from '../domain/members/member.js';
import type { DomainDeps, MemberStanding } from '../domain/ports.js';
import type { Locale } from '../domain/program.js';
import type { OperationsStatus } from '../jobs/status.js';
import type { UpdateSessions } from './chat-sessions.js';
import type { Formatter } from './format.js';
import type { I18n, Translate } from './i18n.js';

/**
 * Conversation state that must outlive one update (a wizard halfway through), kept outside the
 * process so that restarts and other instances carry on. Same shape as grammY's StorageAdapter.
 */
export interface SessionStore {
  read(key: string): Promise<unknown>;
  /** Several rows in one query; keys without a row are absent from the map. */
  readMany(keys: string[]): Promise<Map<string, unknown>>;
  write(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

/** What the bot's features are built with; wired once in the entry point. */
export interface BotDeps {
  domain: DomainDeps;
  i18n: I18n;
  logger: Logger;
  defaultLocale: Locale;
  sessions: SessionStore;
  /** The operator view of queues and scheduled jobs (admins' /queues). */
  operations: { status(): Promise<OperationsStatus> };
}

export interface BotContextFlavor {
  /** The member behind this update, loaded once per update; null before /start. */
  member: Member | null;
  /** The member's Balance standing, read with the member when the update asks for Balance (middleware.ts). */
  standing: MemberStanding | undefined;
  locale: Locale;
  t: Translate;
  fmt: Formatter;
  log: Logger;
  /** Conversation state of the user behind this update (see chat-sessions.ts). */
  sessions: UpdateSessions;
  /** The feature handling this update, for the metrics (update-metrics.ts); unset: the update's kind. */
  metricsFeature?: string;
}

export type BotContext = Context & BotContextFlavor;
