import { LOCALES, type Locale } from '../domain/program.js';

/**
 * Callback data is `prefix:arg:arg`, at most 64 bytes (Telegram's limit). It is only a hint of
 * what was tapped: every handler re-checks the member, their state and ownership on the server.
 *
 * The dialogs' buttons are declared once here (`CALLBACKS`: route -> its arguments' kinds), and
 * are written with `encodeCallback` and read with `decodeCallback`: a route's handler receives
 * typed arguments, and data that does not match a declared route exactly decodes as unknown.
 */

/** The kinds of argument a button may carry, each with the exact shape it may have on the wire. */
const ARG_KINDS = {
  /** A language the bot speaks. */
  locale: { pattern: new RegExp(`^(${LOCALES.join('|')})$`), parse: (raw: string) => raw as Locale },
  /** An answer to a yes-or-no question. */
  yesNo: { pattern: /^(yes|no)$/, parse: (raw: string) => raw as 'yes' | 'no' },
  /** A dialog's or a confirmation screen's random id (dialogs.ts `newDialogId`). */
  dialog: { pattern: /^[A-Za-z0-9_-]{8}$/, parse: (raw: string) => raw },
  /** A spend request's id (domain/spending/spend-requests.ts). */
  request: { pattern: /^[A-Za-z0-9_-]{12}$/, parse: (raw: string) => raw },
  /** A coupon code as issued (upper-case letters and digits). */
  coupon: { pattern: /^[A-Z0-9]{12}$/, parse: (raw: string) => raw },
  /** A broadcast button's kind: a link, none, or a deep link into the bot. */
  buttonKind: { pattern: /^(url|none|rewards|card|balance)$/, parse: (raw: string) => raw },
  /** An audience filter's short code (features/broadcasts/wizard.ts NUMBERS, LISTS, FLAGS; x: clear). */
  filter: { pattern: /^(t|l|s|n|o|w|r|e|b|bd|np|x)$/, parse: (raw: string) => raw },
  /** A reward's code. */
  reward: { pattern: /^[a-z0-9_-]{1,32}$/, parse: (raw: string) => raw },
  /** A non-negative integer: a store id, points, a broadcast id. */
  int: { pattern: /^\d{1,9}$/, parse: (raw: string) => Number(raw) },
} as const;
type ArgKind = keyof typeof ARG_KINDS;
type ArgValue<K extends ArgKind> = ReturnType<(typeof ARG_KINDS)[K]['parse']>;

/** Every declared button: its prefix on the wire and the kinds of its arguments, in order. */
export const CALLBACKS = {
  // Registration (features/registration.ts): the language chosen, the consent given or declined.
  'reg:lang': ['locale'],
  'reg:consent': ['yesNo'],
  // Cashier (features/cashier): the dialog id, then what was chosen.
  'stf:st': ['dialog', 'int'],
  'stf:pts': ['dialog', 'int'],
  'stf:req': ['dialog'],
  'stf:chk': ['request'],
  'stf:rfull': ['dialog'],
  'stf:no': ['dialog'],
  'stf:ok': ['dialog'],
  // Coupon redemption (features/redeem): the code is only what was shown.
  'rdm:ok': ['coupon'],
  'rdm:no': [],
  // Broadcasts (features/broadcasts): the wizard id, then what was chosen; list screens take the broadcast id.
  // (The audience's list pickers are a @grammyjs/menu, `bc-pick/...`, with the menu's own format, as
  // are settings, `set/...`, and the rewards catalogue and take confirmation, `rw/...`, `rw-take/...`.)
  'bc:bt': ['dialog', 'buttonKind'],
  'bc:f': ['dialog', 'filter'],
  'bc:a': ['dialog'],
  'bc:pv': ['dialog'],
  'bc:cp': ['dialog'],
  'bc:vb': ['dialog'],
  'bc:vx': ['dialog'],
  'bc:of': ['dialog'],
  'bc:or': ['dialog', 'reward'],
  'bc:on': ['dialog'],
  'bc:go': ['dialog'],
  'bc:sc': ['dialog'],
  'bc:no': ['dialog'],
  'bc:nps': [],
  'bc:sv': ['dialog'],
  'bc:sg': ['dialog'],
  'bc:ls': [],
  'bc:x': ['int'],
  'bc:xy': ['int'],
  'bc:xn': [],
  // Admin's /adjust (features/admin/adjust.ts): the dialog's id.
  'adm:adj': ['dialog'],
  'adm:no': ['dialog'],
} as const satisfies Record<string, readonly ArgKind[]>;

export type CallbackRoute = keyof typeof CALLBACKS;
type ArgValues<T> = T extends readonly [infer H extends ArgKind, ...infer Rest] ? [ArgValue<H>, ...ArgValues<Rest>] : [];
export type CallbackArgs<R extends CallbackRoute> = ArgValues<(typeof CALLBACKS)[R]>;
export type DecodedCallback = { [R in CallbackRoute]: { route: R; args: CallbackArgs<R> } }[CallbackRoute] | { route: 'unknown' };

export const CALLBACK_DATA_MAX_BYTES = 64;

/**
 * Callback data of loose parts, for buttons not (yet) declared in `CALLBACKS`; the same 64-byte
 * check.
 */
export function callbackData(...parts: (string | number)[]): string {
  const data = parts.join(':');
  if (Buffer.byteLength(data, 'utf8') > CALLBACK_DATA_MAX_BYTES) throw new Error(`callback data over 64 bytes: ${data}`);
  return data;
}

/** The data of a declared button; an argument of the wrong shape is a programming error. */
export function encodeCallback<R extends CallbackRoute>(route: R, ...args: CallbackArgs<R>): string {
  const kinds: readonly ArgKind[] = CALLBACKS[route];
  if (args.length !== kinds.length) throw new Error(`callback ${route} takes ${kinds.length} arguments`);
  const raw = (args as readonly (string | number)[]).map(String);
  raw.forEach((value, index) => {
    if (!ARG_KINDS[kinds[index] as ArgKind].pattern.test(value)) throw new Error(`callback ${route}: argument ${index} malformed`);
  });
  return callbackData(route, ...raw);
}

const routes = new Map<string, CallbackRoute>(Object.keys(CALLBACKS).map((route) => [route, route as CallbackRoute]));

/**
 * What a tap's data claims, or `unknown` for anything that is not exactly a declared route with
 * well-formed arguments (forged, truncated, over-long, from an older release). Never trusted:
 * the handler still checks role, ownership and state.
 */
export function decodeCallback(data: string | undefined): DecodedCallback {
  if (data === undefined || Buffer.byteLength(data, 'utf8') > CALLBACK_DATA_MAX_BYTES) return { route: 'unknown' };
  const parts = data.split(':');
  // Routes are `feature:action`; the rest are arguments.
  const route = routes.get(parts.slice(0, 2).join(':'));
  if (!route) return { route: 'unknown' };
  const kinds: readonly ArgKind[] = CALLBACKS[route];
  const raw = parts.slice(2);
  if (raw.length !== kinds.length) return { route: 'unknown' };
  const args: unknown[] = [];
  for (const [index, kind] of kinds.entries()) {
    const value = raw[index] as string;
    if (!ARG_KINDS[kind].pattern.test(value)) return { route: 'unknown' };
    args.push(ARG_KINDS[kind].parse(value));
  }
  return { route, args } as unknown as DecodedCallback;
}

/** A filter for one route: the tap's data is exactly that route (see `callbackArgs`). */
export const isCallback =
  (...routes: CallbackRoute[]) =>
  (ctx: { callbackQuery?: { data?: string } }): boolean =>
    routes.includes(decodeCallback(ctx.callbackQuery?.data).route as CallbackRoute);

/** The arguments of a tap already matched by `isCallback(route)`. */
export function callbackArgs<R extends CallbackRoute>(ctx: { callbackQuery?: { data?: string } }, route: R): CallbackArgs<R> {
  const args = matchCallback(route, ctx.callbackQuery?.data);
  if (!args) throw new Error(`not a ${route} tap`);
  return args;
}

/** The route's arguments when `data` is exactly that route, else null. */
export function matchCallback<R extends CallbackRoute>(route: R, data: string | undefined): CallbackArgs<R> | null {
  const decoded = decodeCallback(data);
  return decoded.route === route ? (decoded as { route: R; args: CallbackArgs<R> }).args : null;
}
