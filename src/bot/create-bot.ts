import { autoRetry } from '@grammyjs/auto-retry';
import { sequentialize } from '@grammyjs/runner';
import { type Api, Bot, type BotConfig, Composer } from 'grammy';
import type { UserFromGetMe } from 'grammy/types';
import { isDatabaseUnavailable } from '../db/errors.js';
import { LOCALES } from '../domain/program.js';
import type { Metrics } from '../metrics.js';
import { Buttons } from './buttons.js';
import type { BotContext, BotDeps } from './context.js';
import { Dialogs } from './dialogs.js';
import { accountFeature, asksForBalance } from './features/account.js';
import { adminFeature } from './features/admin.js';
import { broadcastFeatures } from './features/broadcasts/index.js';
import { cashierFeatures } from './features/cashier/index.js';
import { charityAdminFeature, charityFeature } from './features/charity/index.js';
import { fallbackFeature } from './features/fallback.js';
import { npsFeatures } from './features/nps.js';
import { redeemFeatures } from './features/redeem/index.js';
import { registrationFeature } from './features/registration.js';
import { rewardsFeature } from './features/rewards/index.js';
import { rewardsAdminFeature } from './features/rewards-admin.js';
import { settingsFeature } from './features/settings.js';
import { spendingFeature } from './features/spending.js';
import { statsFeature } from './features/stats.js';
import { tasksFeature } from './features/tasks/index.js';
import { detectLocale } from './i18n.js';
import { contextMiddleware, domainErrorReplies } from './middleware.js';
import { harmlessEdits, oddUpdates } from './odd-updates.js';
import { privateChatsOnly } from './private-chats.js';
import { Routes } from './routing.js';
import { Screens } from './screens.js';
import { apiClientOptions } from './telegram-fetch.js';
import { updateMetrics } from './update-metrics.js';
import { type UserRateLimiter, userRateLimit } from './user-rate-limit.js';

export interface CreateBotOptions {
  apiRoot: string;
  /** Skips getMe at start-up when known (tests, benchmarks). */
  botInfo?: UserFromGetMe;
  /** Per-user allowance of updates (see user-rate-limit.ts); absent: nobody is limited. */
  rateLimiter?: UserRateLimiter;
  /** Where updates are counted and timed (update-metrics.ts); absent: not measured. */
  metrics?: Pick<Metrics, 'updates' | 'updateSeconds'>;
}

/**
 * A direct reply that meets Telegram's flood limit (429) waits `retry_after` and goes again until
 * it is delivered: the user is waiting for it, and a reply given up on is a silent stall. The wait
 * holds only its own chat (its place in `sequentialize`) and one runner slot; other chats go on.
 * Telegram's per-chat and per-bot waits are seconds to tens of seconds; a wait over a minute
 * means something else is wrong, and the error boundary logs it.
 */
export const REPLY_RETRY = { maxRetryAttempts: 10, maxDelaySeconds: 60 } as const;

/** Calls retried with no one waiting on the other end to see the error: each failure is logged. */
const RETRIED_QUIETLY = new Set(['getUpdates', 'getMe']);

export function createBot(token: string, deps: BotDeps, options: CreateBotOptions): Bot<BotContext> {
  const config: BotConfig<BotContext> = { client: apiClientOptions(options.apiRoot) };
  if (options.botInfo) config.botInfo = options.botInfo;
  const bot = new Bot<BotContext>(token, config);
  bot.api.config.use(async (prev, method, payload, signal) => {
    let result: Awaited<ReturnType<typeof prev>>;
    try {
      result = await prev(method, payload, signal);
    } catch (error) {
      // The runner retries polls with backoff, and auto-retry the start-up's getMe: an outage,
      // or a machine that cannot reach Telegram, shows in the log (scrubbed of the token)
      // instead of a start that seems to hang. (An aborted poll is the runner stopping.)
      if (RETRIED_QUIETLY.has(method) && !signal?.aborted) deps.logger.warn({ err: error }, `${method} failed; retrying`);
      throw error;
    }
    // Telegram's own refusals of getMe that auto-retry waits out (flood wait, server errors);
    // any other (a wrong token) ends the start with its error.
    if (method === 'getMe' && !result.ok && (result.error_code === 429 || result.error_code >= 500)) {
      deps.logger.warn({ errorCode: result.error_code, description: result.description }, 'getMe failed; retrying');
    }
    return result;
  });
  // Messages that are not replies go through the delivery queue, which has its own limits.
  bot.api.config.use(autoRetry(REPLY_RETRY));
  bot.api.config.use(harmlessEdits(deps.logger));

  // Outermost: every update is counted and timed, a flooder's dropped ones included.
  if (options.metrics) bot.use(updateMetrics(options.metrics, METRIC_COMMANDS));
  // First, before any session or database work and before sequentialize: a flooder's excess is
  // dropped here, so it never waits on its chat's lock holding a runner slot others need.
  if (options.rateLimiter) bot.use(userRateLimit(options.rateLimiter, deps));
  // One update at a time per chat (per user outside chats): two taps of one user never race.
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString() ?? ctx.from?.id.toString()));
  bot.use(contextMiddleware(deps, asksForBalance(deps.i18n)));
  bot.use(oddUpdates());
  bot.use(domainErrorReplies(deps));
  // Who answers what is decided by stage (routing.ts), not by the order of the lines below.
  const routes = new Routes();
  // Reply-keyboard buttons (most updates) by one lookup of their label; each feature registers
  // its buttons while it is built.
  const buttons = new Buttons(deps.i18n);
  routes.add('buttons', buttons.middleware());
  // Every multi-step dialog (@grammyjs/conversations) behind one mount; each feature registers
  // its dialogs and wraps the handlers where they matter while it is built (dialogs.ts).
  const dialogs = new Dialogs();
  // Screens a deep link can open; each feature registers its own while it is built.
  const screens = new Screens();

  // Built in the order their dialogs have always been registered (the plugin's order on the mount).
  const { cashier, staffHint } = cashierFeatures(deps, buttons, dialogs);
  const redeem = redeemFeatures(deps, buttons, dialogs);
  const { broadcasts, broadcastAnswers, broadcastInput } = broadcastFeatures(deps, dialogs);
  const { nps, npsInput } = npsFeatures(deps);
  routes.add(
    'commands',
    // Broadcasts first here for one shared command: /cancel ends an open broadcast wizard before
    // it ends a cashier's dialog (features/cashier), as it always did. The other features' commands,
    // /start payloads (invite and card QR: cashier; coupon QR: redeem) and callback prefixes are
    // their own; what is not theirs goes on to the customers' /start, /rewards and /charity.
    broadcasts,
    redeem,
    cashier,
    adminFeature(deps, dialogs),
    statsFeature(deps),
    // A member's Yes/No to a spend request reaches the use case whatever their chat state.
    spendingFeature(deps),
    // NPS survey and alert buttons (alerts in a manager group), and the marketers' /nps.
    nps,
    rewardsAdminFeature(deps),
    // Admins' /charity [YYYY-MM] (report + CSV); anyone else's /charity goes on to the members' screen.
    charityAdminFeature(deps),
  );
  routes.add(
    'openAnswers',
    // Each takes only what its own open state asks for: the broadcast wizard's step (its session
    // row), then any open dialog (the dialogs row: cashier, coupon code, /adjust).
    broadcastAnswers,
    dialogAnswers(dialogs, (ctx) => ctx.member?.status !== 'ACTIVE'),
  );
  routes.add('hints', staffHint);
  // The customer features run in private chats only; in groups a customer command gets at most
  // a button to the private chat (private-chats.ts): personal screens are never posted there.
  routes.add(
    'customers',
    privateChatsOnly(
      CUSTOMER_COMMANDS,
      screens,
      // Registration first: a registering member's every message is the answer to their step.
      registrationFeature(deps, screens),
      accountFeature(deps, screens, buttons),
      settingsFeature(deps, buttons),
      rewardsFeature(deps, screens, buttons),
      tasksFeature(deps, screens, buttons),
      charityFeature(deps, screens, buttons),
    ),
  );
  routes.add(
    'memberAnswers',
    // An open dialog first (a cashier who is also a customer), then an NPS comment being typed,
    // then a broadcast wizard's step.
    dialogAnswers(dialogs, (ctx) => ctx.member?.status === 'ACTIVE'),
    npsInput,
    broadcastInput,
  );
  routes.add('fallback', fallbackFeature(deps));
  bot.use(routes.middleware());

  // The error boundary: the log gets the stack, the user a short apology in their language. An
  // unreachable database is an outage, not a bug: a warning, and "try again in a minute".
  bot.catch(async ({ ctx, error }) => {
    const log = ctx.log ?? deps.logger.child({ updateId: ctx.update.update_id });
    const unavailable = isDatabaseUnavailable(error);
    if (unavailable) log.warn({ err: error }, 'database unavailable; asked the user to try again');
    else log.error({ err: error }, 'update failed');
    // Without the member (loading it may be what failed), the language their Telegram uses.
    const t = ctx.t ?? deps.i18n.t(detectLocale(ctx.from?.language_code) ?? deps.defaultLocale);
    const text = t(unavailable ? 'common.unavailable' : 'common.error');
    try {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text, show_alert: true });
      else if (ctx.chat) await ctx.reply(text);
    } catch (replyError) {
      log.warn({ err: replyError }, 'could not apologise');
    }
  });

  return bot;
}

/** Typed answers and photos of `who`, offered to the open dialog, whichever it is; without one they pass on untouched. */
function dialogAnswers(dialogs: Dialogs, who: (ctx: BotContext) => boolean): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  composer
    .chatType('private')
    .filter(who)
    .on(
      ['message:text', 'message:photo'],
      dialogs.around((_ctx, next) => next()),
    );
  return composer;
}

const COMMANDS = ['start', 'balance', 'card', 'rewards', 'coupons', 'tasks', 'history', 'settings', 'help'] as const;
/** The customers' commands (the command menu's, and /charity): in groups they only point to the private chat. */
export const CUSTOMER_COMMANDS: readonly string[] = [...COMMANDS, 'charity'];
/** Commands the metrics name (any other is counted as a `message`: labels stay a bounded set). */
const METRIC_COMMANDS: readonly string[] = [
  ...COMMANDS,
  'purchase',
  'return',
  'staff',
  'apikey',
  'apikey_revoke',
  'apikey_rotate',
  'nps',
  'broadcast',
  'redeem',
  'stats',
  'charity',
  'cancel',
];

/** The command menu in each language, and the default language's for everyone else; /charity when the program has causes. */
export async function registerCommands(api: Api, deps: BotDeps): Promise<void> {
  const commands: readonly string[] = deps.domain.program.charity?.causes.some((cause) => cause.open) ? [...COMMANDS, 'charity'] : COMMANDS;
  const commandsIn = (locale: (typeof LOCALES)[number]) => commands.map((command) => ({ command, description: deps.i18n.t(locale)(`commands.${command}`) }));
  for (const locale of LOCALES) await api.setMyCommands(commandsIn(locale), { language_code: locale });
  await api.setMyCommands(commandsIn(deps.defaultLocale));
}
