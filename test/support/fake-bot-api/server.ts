// In-process fake of the Telegram Bot API for end-to-end tests: a real HTTP
// server on 127.0.0.1 speaking the Bot API wire format, checking every call
// against shared/telegram/bot-api.json.
//
// Usage:
//   const fake = await FakeBotApi.start();
//   const bot = new Bot(fake.token, { client: { apiRoot: fake.apiRoot } });
//   void bot.start();
//   fake.sendText(user, '/start');
//   const reply = await fake.waitForMessageTo(user.id);
//   expect(fake.violations).toEqual([]);
//   await bot.stop(); await fake.close();
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Message, Update } from 'grammy/types';
import { type Formatted, ParseEntitiesError, parseFormatted } from './formatting.js';
import { boundaryOf, MultipartError, parseMultipart, type UploadedFile } from './multipart.js';
import { coerceValue, findMethod, loadSpec, type SpecMethod, validateParams } from './spec.js';

export type { UploadedFile } from './multipart.js';

export interface FakeUser {
  id: number;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
  /** Uploaded files, keyed by the parameter that references them (e.g. `photo`), else by attach name. */
  files: Record<string, UploadedFile>;
  at: number;
  chatId?: number;
  ok: boolean;
  errorCode?: number;
  description?: string;
  result?: unknown;
}

export interface SentMessage {
  chatId: number;
  messageId: number;
  /** The method that created the message (edits do not change it). */
  method: string;
  text?: string;
  caption?: string;
  /** Entities of the text or caption, after parse_mode parsing. */
  entities?: unknown[];
  /** reply_markup as sent (any keyboard kind), after the latest edit. */
  // biome-ignore lint/suspicious/noExplicitAny: keyboards are inspected freely by tests.
  replyMarkup?: any;
  photo?: UploadedFile | string;
  document?: UploadedFile | string;
  /** Parameters of the call that produced the current state (send or latest edit). */
  params: Record<string, unknown>;
  edited: boolean;
}

export interface BotInfo {
  id: number;
  is_bot: true;
  first_name: string;
  username: string;
  can_join_groups: boolean;
  can_read_all_group_messages: boolean;
  supports_inline_queries: boolean;
  can_connect_to_business: boolean;
  has_main_web_app: boolean;
}

export interface FakeBotApiOptions {
  token?: string;
  botUsername?: string;
  globalPerSecond?: number;
  perChatPerSecond?: number;
}

type Json = Record<string, unknown>;

interface StoredMessage {
  message: Json;
  fromBot: boolean;
  sent?: SentMessage;
  replyMarkup?: unknown;
  media?: { kind: 'photo' | 'document'; input: UploadedFile | string };
}

interface ChatState {
  id: number;
  info: Json;
  user?: FakeUser;
  nextMessageId: number;
  messages: Map<number, StoredMessage>;
  // Every message the bot sent, as sent, for waitForMessageTo.
  sentLog: { message: SentMessage; callIndex: number }[];
  cursor: number;
}

interface StoredFile {
  fileId: string;
  uniqueId: string;
  kind: 'photo' | 'document' | 'other';
  data?: UploadedFile;
  path: string;
  photo?: Json[];
  document?: Json;
}

interface CallContext {
  method: string;
  params: Json;
  /** Multipart file parts by part name (what attach:// refers to). */
  attachments: Record<string, UploadedFile>;
  formatted: { text?: Formatted; caption?: Formatted };
  chatId?: number;
  res: ServerResponse;
}

type PollEnd = 'update' | 'timeout' | 'closed' | 'aborted' | 'superseded';

interface Poller {
  end: (reason: PollEnd) => void;
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly retryAfter?: number,
  ) {
    super(description);
  }
}

// Thrown by getUpdates when the client went away: nothing to answer or record.
const ABORTED = Symbol('aborted');

const DEFAULT_TOKEN = '123456:TEST-TOKEN';
const MAX_BODY = 60 * 1024 * 1024;
const DEFAULT_EXCLUDED_UPDATES = ['chat_member', 'message_reaction', 'message_reaction_count'];
const INLINE_BUTTON_ACTIONS = [
  'url',
  'callback_data',
  'web_app',
  'login_url',
  'switch_inline_query',
  'switch_inline_query_current_chat',
  'switch_inline_query_chosen_chat',
  'copy_text',
  'callback_game',
  'pay',
];
const NOT_MODIFIED =
  'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';
const RATE_LIMITED = /^(send(?!ChatAction$)\w+|copyMessages?|forwardMessages?)$/;
const BLOCKABLE = /^(send\w+|copyMessages?|forwardMessages?|editMessage\w+)$/;
// Parameters that do not describe message content (for generic send* methods).
const NON_CONTENT_PARAMS = new Set([
  'business_connection_id',
  'chat_id',
  'message_thread_id',
  'direct_messages_topic_id',
  'disable_notification',
  'protect_content',
  'allow_paid_broadcast',
  'message_effect_id',
  'suggested_post_parameters',
  'reply_parameters',
  'reply_markup',
  'caption',
  'parse_mode',
  'caption_entities',
  'show_caption_above_media',
  'has_spoiler',
]);
const MIME_BY_EXT: Record<string, string> = {
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  zip: 'application/zip',
  svg: 'image/svg+xml',
};

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compact<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) {
    if (obj[key] === undefined) delete obj[key];
  }
  return obj;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function inlineMarkup(markup: unknown): Json | undefined {
  return isObject(markup) && Array.isArray(markup.inline_keyboard) ? markup : undefined;
}

function nonEmpty<T>(list: T[] | undefined): T[] | undefined {
  return list && list.length > 0 ? list : undefined;
}

/** Reads width/height of PNG and JPEG uploads so photo sizes look plausible. */
function imageSize(data: Buffer): { width: number; height: number } | undefined {
  if (data.length > 24 && data.readUInt32BE(0) === 0x89504e47) {
    return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  if (data.length > 4 && data[0] === 0xff && data[1] === 0xd8) {
    let i = 2;
    while (i + 9 < data.length && data[i] === 0xff) {
      const marker = data[i + 1] ?? 0;
      const len = data.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: data.readUInt16BE(i + 7), height: data.readUInt16BE(i + 5) };
      }
      i += 2 + len;
    }
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new ApiError(413, 'Request Entity Too Large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('client closed the request'));
    });
  });
}

function collectAttachRefs(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') {
    if (value.startsWith('attach://')) out.add(value.slice('attach://'.length));
  } else if (Array.isArray(value)) {
    for (const v of value) collectAttachRefs(v, out);
  } else if (isObject(value)) {
    for (const v of Object.values(value)) collectAttachRefs(v, out);
  }
}

function inlineButtons(value: unknown, out: Json[]): void {
  if (Array.isArray(value)) {
    for (const v of value) inlineButtons(v, out);
  } else if (isObject(value)) {
    if (Array.isArray(value.inline_keyboard)) {
      for (const row of value.inline_keyboard) {
        if (Array.isArray(row)) for (const b of row) if (isObject(b)) out.push(b);
      }
    }
    for (const [k, v] of Object.entries(value)) if (k !== 'inline_keyboard') inlineButtons(v, out);
  }
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? '' : '_') + c.toLowerCase());
}

export class FakeBotApi {
  readonly apiRoot: string;
  readonly token: string;
  readonly botInfo: BotInfo;
  readonly calls: RecordedCall[] = [];
  readonly violations: string[] = [];

  private readonly server: Server;
  private readonly chats = new Map<number, ChatState>();
  private queue: Json[] = [];
  private nextUpdateId = 1;
  private allowedUpdates: string[] = [];
  private readonly pollers = new Set<Poller>();
  private readonly blocked = new Set<number>();
  private readonly failures = new Map<string, { error: ApiError; chatId?: number }[]>();
  private limits: { globalPerSecond?: number; perChatPerSecond?: number } = {};
  private globalSends: number[] = [];
  private readonly chatSends = new Map<number, number[]>();
  private tooMany = 0;
  private readonly callbackQueries = new Map<string, { chatId: number; answered: boolean }>();
  private nextCallbackId = 1;
  private readonly files = new Map<string, StoredFile>();
  private nextFileNo = 1;
  private readonly commands = new Map<string, unknown>();
  private readonly menuButtons = new Map<string, unknown>();
  private readonly botTexts = new Map<string, string>();
  private webhookUrl = '';
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(server: Server, port: number, opts: FakeBotApiOptions) {
    this.server = server;
    this.apiRoot = `http://127.0.0.1:${port}`;
    this.token = opts.token ?? DEFAULT_TOKEN;
    this.botInfo = {
      id: Number(this.token.split(':')[0]),
      is_bot: true,
      first_name: 'Test Bot',
      username: opts.botUsername ?? 'test_bot',
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    };
    this.setLimits({ globalPerSecond: opts.globalPerSecond, perChatPerSecond: opts.perChatPerSecond });
  }

  static async start(opts: FakeBotApiOptions = {}): Promise<FakeBotApi> {
    if (opts.token !== undefined && !/^\d+:[\w-]+$/.test(opts.token)) {
      throw new Error(`FakeBotApi: "${opts.token}" does not look like a bot token (digits:secret)`);
    }
    loadSpec(); // fail fast if the spec file is missing
    let fake: FakeBotApi | undefined;
    const server = createServer((req, res) => {
      if (fake) void fake.onRequest(req, res);
      else res.destroy();
    });
    // Long polls last up to `timeout` seconds and grammY keeps sockets alive.
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 125_000;
    server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    fake = new FakeBotApi(server, (server.address() as AddressInfo).port, opts);
    return fake;
  }

  get tooManyRequests(): number {
    return this.tooMany;
  }

  // --- sending updates as a user -------------------------------------------

  sendText(user: FakeUser, text: string): Update {
    const entities: Json[] = [];
    if (text.startsWith('/')) {
      const command = /^\/\S+/.exec(text)?.[0] ?? '/';
      entities.push({ type: 'bot_command', offset: 0, length: command.length });
    }
    const message = this.addUserMessage(user, { text, entities: nonEmpty(entities) });
    return this.enqueue({ message: clone(message) });
  }

  /**
   * Text from the user in a group (negative chat id; below -1e12 a supergroup), e.g. a command
   * typed where others read along. Commands carry their bot_command entity as in a private chat.
   */
  sendTextInGroup(user: FakeUser, groupId: number, text: string): Update {
    if (groupId >= 0) throw new Error('sendTextInGroup: a group id is negative');
    const chat = this.getChat(groupId);
    const command = text.startsWith('/') ? (/^\/\S+/.exec(text)?.[0] ?? '/') : null;
    const message = compact({
      message_id: chat.nextMessageId++,
      from: this.userObject(user),
      chat: clone(chat.info),
      date: nowSeconds(),
      text,
      entities: command ? [{ type: 'bot_command', offset: 0, length: command.length }] : undefined,
    });
    chat.messages.set(message.message_id, { message, fromBot: false });
    return this.enqueue({ message: clone(message) });
  }

  /** A callback query from a button on a message in a group (forged: the message need not exist). */
  sendCallbackQueryInGroup(user: FakeUser, groupId: number, data: string): Update {
    const chat = this.getChat(groupId);
    const id = `${this.botInfo.id}${String(this.nextCallbackId++).padStart(6, '0')}`;
    this.callbackQueries.set(id, { chatId: chat.id, answered: false });
    const message = { message_id: chat.nextMessageId++, chat: clone(chat.info), date: nowSeconds(), text: '…' };
    return this.enqueue({ callback_query: { id, from: this.userObject(user), message, chat_instance: `ci${chat.id}`, data } });
  }

  /** Text with formatting, as a Telegram client sends it: the entities the user's formatting made. */
  sendFormattedText(user: FakeUser, text: string, entities: Json[]): Update {
    const message = this.addUserMessage(user, { text, entities: nonEmpty(entities) });
    return this.enqueue({ message: clone(message) });
  }

  /** A photo from the user, with an optional caption; the bot may send it on by its file_id. */
  sendUserPhoto(user: FakeUser, opts: { caption?: string; caption_entities?: Json[] } = {}): Update {
    const photo = this.photoSizes({ ref: 'user-upload' });
    const message = this.addUserMessage(user, { photo, caption: opts.caption, caption_entities: nonEmpty(opts.caption_entities) });
    return this.enqueue({ message: clone(message) });
  }

  sendContact(user: FakeUser, contact: { phone_number: string; first_name?: string; user_id?: number }): Update {
    const message = this.addUserMessage(user, {
      contact: compact({
        phone_number: contact.phone_number,
        first_name: contact.first_name ?? user.first_name,
        user_id: contact.user_id,
      }),
    });
    return this.enqueue({ message: clone(message) });
  }

  tapButton(user: FakeUser, callbackData: string, opts: { messageId?: number } = {}): Update {
    const chat = this.chats.get(user.id);
    const candidates = chat
      ? [...chat.messages.values()].filter((s) => s.fromBot && (opts.messageId === undefined || s.message.message_id === opts.messageId)).reverse()
      : [];
    const hit = candidates.find((s) => {
      const buttons: Json[] = [];
      inlineButtons(inlineMarkup(s.message.reply_markup), buttons);
      return buttons.some((b) => b.callback_data === callbackData);
    });
    if (!hit) {
      const latest = candidates[0];
      const available: Json[] = [];
      inlineButtons(latest ? inlineMarkup(latest.message.reply_markup) : undefined, available);
      const where = opts.messageId === undefined ? `any message in chat ${user.id}` : `message ${opts.messageId}`;
      throw new Error(
        `tapButton: no inline button with callback_data ${JSON.stringify(callbackData)} in ${where}; ` +
          `buttons of the latest message: ${JSON.stringify(available.map((b) => b.callback_data ?? b.text))}`,
      );
    }
    return this.enqueueCallback(user, callbackData, clone(hit.message));
  }

  sendCallbackQuery(user: FakeUser, data: string, messageId?: number): Update {
    const chat = this.chatOfUser(user);
    let message: Json | undefined;
    if (messageId !== undefined) {
      const stored = chat.messages.get(messageId);
      // Unknown ids look like an old message the bot can no longer access.
      message = stored ? clone(stored.message) : { chat: clone(chat.info), message_id: messageId, date: 0 };
    } else {
      const latest = [...chat.messages.values()].filter((s) => s.fromBot).pop();
      message = latest ? clone(latest.message) : undefined;
    }
    return this.enqueueCallback(user, data, message);
  }

  /** Also blocks ('kicked') or unblocks ('member') the user, as Telegram does. */
  sendMyChatMember(user: FakeUser, status: 'member' | 'kicked'): Update {
    const chat = this.chatOfUser(user);
    if (status === 'kicked') this.blocked.add(user.id);
    else this.blocked.delete(user.id);
    const bot = this.botUser();
    const member = (s: string): Json => (s === 'kicked' ? { status: s, user: bot, until_date: 0 } : { status: s, user: bot });
    return this.enqueue({
      my_chat_member: {
        chat: clone(chat.info),
        from: this.userObject(user),
        date: nowSeconds(),
        old_chat_member: member(status === 'kicked' ? 'member' : 'kicked'),
        new_chat_member: member(status),
      },
    });
  }

  enqueueUpdate(partial: Omit<Update, 'update_id'>): Update {
    return this.enqueue(clone(partial) as Json);
  }

  // --- observing ---------------------------------------------------------------

  messagesTo(chatId: number): SentMessage[] {
    const chat = this.chats.get(chatId);
    if (!chat) return [];
    return [...chat.messages.values()]
      .filter((s): s is StoredMessage & { sent: SentMessage } => s.fromBot && s.sent !== undefined)
      .sort((a, b) => (a.message.message_id as number) - (b.message.message_id as number))
      .map((s) => s.sent);
  }

  lastMessageTo(chatId: number): SentMessage | undefined {
    return this.messagesTo(chatId).pop();
  }

  async waitFor<T>(predicate: () => T | undefined | false | null, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = predicate();
        if (value !== undefined && value !== false && value !== null) return value;
      } catch (err) {
        // Allows expect()-style predicates: keep polling, report the last failure.
        lastError = err;
      }
      if (Date.now() >= deadline) throw new Error(this.timeoutMessage(opts.what ?? 'condition', timeoutMs, lastError));
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Resolves with the first message the bot sends (not edits) to the chat that
   * this method has not returned before; `after` restricts it to messages sent by
   * calls at index >= after in `calls`.
   */
  waitForMessageTo(chatId: number, predicate?: (m: SentMessage) => boolean, opts: { timeoutMs?: number; after?: number } = {}): Promise<SentMessage> {
    return this.waitFor(
      () => {
        const chat = this.chats.get(chatId);
        if (!chat) return undefined;
        const from = opts.after === undefined ? chat.cursor : 0;
        for (let i = from; i < chat.sentLog.length; i++) {
          const entry = chat.sentLog[i];
          if (!entry || (opts.after !== undefined && entry.callIndex < opts.after)) continue;
          if (!predicate || predicate(entry.message)) {
            chat.cursor = Math.max(chat.cursor, i + 1);
            return entry.message;
          }
        }
        return undefined;
      },
      {
        timeoutMs: opts.timeoutMs,
        what: `a new message to chat ${chatId}${predicate ? ' matching the predicate' : ''}`,
      },
    );
  }

  // --- failure injection ---------------------------------------------------------

  blockUser(userId: number): void {
    this.blocked.add(userId);
  }

  unblockUser(userId: number): void {
    this.blocked.delete(userId);
  }

  /**
   * The next call of `method` fails (with `chatId`: the next call to that chat only); 429 gets
   * parameters.retry_after, other codes a description.
   */
  failNext(method: string, errorCode: number, retryAfterOrDescription?: number | string, options: { chatId?: number } = {}): void {
    let error: ApiError;
    if (errorCode === 429) {
      const retryAfter = typeof retryAfterOrDescription === 'number' ? retryAfterOrDescription : 1;
      error = new ApiError(429, `Too Many Requests: retry after ${retryAfter}`, retryAfter);
    } else {
      const description = typeof retryAfterOrDescription === 'string' ? retryAfterOrDescription : `Injected error ${errorCode}`;
      error = new ApiError(errorCode, description);
    }
    const name = findMethod(method)?.name ?? method;
    const list = this.failures.get(name) ?? [];
    list.push(compact({ error, chatId: options.chatId }));
    this.failures.set(name, list);
  }

  /** Whether it answers 429 to a second message to one chat within a second (as Telegram does). */
  get limitsPerChat(): boolean {
    return this.limits.perChatPerSecond !== undefined;
  }

  setLimits(limits: { globalPerSecond?: number; perChatPerSecond?: number }): void {
    this.limits = { ...this.limits, ...compact({ ...limits }) };
  }

  /** Clears calls, violations and the 429 counter; chats, messages and queued updates stay. */
  resetRecords(): void {
    this.calls.length = 0;
    this.violations.length = 0;
    this.tooMany = 0;
    for (const chat of this.chats.values()) {
      for (const entry of chat.sentLog) entry.callIndex = -1;
    }
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const p of [...this.pollers]) p.end('closed');
    this.closing = new Promise<void>((resolve) => {
      // Let the answers to ended long polls reach the socket before cutting connections.
      setImmediate(() => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    });
    return this.closing;
  }

  // --- HTTP --------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = await readBody(req);
      const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
      if (file) {
        this.serveFile(file[1] ?? '', decodeURIComponent(file[2] ?? ''), res);
        return;
      }
      const m = /^\/bot([^/]*)\/([^/]*)$/.exec(url.pathname);
      if (!m) {
        this.violations.push(`unexpected request ${req.method ?? ''} ${url.pathname}`);
        this.respond(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
        return;
      }
      await this.handleCall(m[1] ?? '', m[2] ?? '', req, url, body, res, at);
    } catch (err) {
      const code = err instanceof ApiError ? err.code : 500;
      const description = err instanceof Error ? err.message : String(err);
      this.respond(res, code, { ok: false, error_code: code, description });
    }
  }

  private respond(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return;
    const payload = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  }

  private serveFile(token: string, path: string, res: ServerResponse): void {
    const stored = [...this.files.values()].find((f) => f.path === path);
    if (token !== this.token || !stored?.data) {
      res.writeHead(404).end('Not Found');
      return;
    }
    res.writeHead(200, { 'content-type': stored.data.contentType }).end(stored.data.data);
  }

  private parseBody(req: IncomingMessage, url: URL, body: Buffer): { raw: Json; attachments: Record<string, UploadedFile>; form: boolean } {
    const raw: Json = Object.fromEntries(url.searchParams);
    let attachments: Record<string, UploadedFile> = {};
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    let form = url.searchParams.size > 0;
    if (body.length === 0) return { raw, attachments, form };
    if (type.startsWith('application/json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new ApiError(400, "Bad Request: can't parse JSON body");
      }
      if (!isObject(parsed)) throw new ApiError(400, 'Bad Request: JSON body must be an object');
      Object.assign(raw, parsed);
    } else if (type.startsWith('application/x-www-form-urlencoded')) {
      Object.assign(raw, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
      form = true;
    } else if (type.startsWith('multipart/form-data')) {
      const boundary = boundaryOf(req.headers['content-type'] ?? '');
      if (!boundary) throw new ApiError(400, 'Bad Request: multipart boundary missing');
      try {
        const parts = parseMultipart(body, boundary);
        Object.assign(raw, parts.fields);
        attachments = parts.files;
      } catch (err) {
        if (err instanceof MultipartError) throw new ApiError(400, `Bad Request: ${err.message}`);
        throw err;
      }
      form = true;
    } else {
      throw new ApiError(400, `Bad Request: unsupported content type "${type}"`);
    }
    return { raw, attachments, form };
  }

  private async handleCall(token: string, methodName: string, req: IncomingMessage, url: URL, body: Buffer, res: ServerResponse, at: number): Promise<void> {
    const spec = findMethod(methodName);
    const method = spec?.name ?? methodName;
    const call: RecordedCall = { method, params: {}, files: {}, at, ok: false };
    const fail = (err: ApiError, violations: string[] = []): void => {
      for (const v of violations) this.violations.push(`${method}: ${v}`);
      call.errorCode = err.code;
      call.description = err.description;
      this.calls.push(compact(call));
      const parameters = err.retryAfter !== undefined ? { retry_after: err.retryAfter } : undefined;
      this.respond(res, err.code, compact({ ok: false, error_code: err.code, description: err.description, parameters }));
    };

    let parsed: ReturnType<FakeBotApi['parseBody']>;
    try {
      parsed = this.parseBody(req, url, body);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      fail(err, [err.description]);
      return;
    }
    const ctx: CallContext = { method, params: {}, attachments: parsed.attachments, formatted: {}, res };
    this.prepareParams(spec, parsed.raw, parsed.attachments, parsed.form, ctx, call);

    if (token !== this.token) {
      fail(new ApiError(401, 'Unauthorized'), [`wrong bot token "${token}"`]);
      return;
    }
    if (!spec) {
      fail(new ApiError(404, 'Not Found'), [`unknown method "${methodName}"`]);
      return;
    }
    const problems = validateParams(spec, ctx.params, new Set(Object.keys(ctx.attachments)));
    if (problems.length === 0) problems.push(...this.checkContent(ctx));
    if (problems.length > 0) {
      fail(new ApiError(400, `Bad Request: ${problems[0]}`), problems);
      return;
    }

    let result: unknown;
    try {
      this.preflight(ctx);
      const handler = this.handlers[method];
      const out = handler ? handler(ctx) : this.defaultResult(spec, ctx);
      result = out instanceof Promise ? await out : out;
    } catch (err) {
      if (err === ABORTED) return;
      if (!(err instanceof ApiError)) throw err;
      if (err.code === 429) this.tooMany++;
      call.chatId ??= ctx.chatId;
      fail(err);
      return;
    }
    call.chatId ??= ctx.chatId;
    call.ok = true;
    call.result = result;
    this.calls.push(compact(call));
    this.respond(res, 200, { ok: true, result });
  }

  /** Coerces raw values per spec types, resolves attachments and fills the call record. */
  private prepareParams(
    spec: SpecMethod | undefined,
    raw: Json,
    attachments: Record<string, UploadedFile>,
    form: boolean,
    ctx: CallContext,
    call: RecordedCall,
  ): void {
    const fields = new Map((spec?.fields ?? []).map((f) => [f.name, f]));
    for (const [key, value] of Object.entries(raw)) {
      if (value === null || value === undefined) continue;
      const field = fields.get(key);
      if (field) ctx.params[key] = coerceValue(value, field.types);
      else if (form && typeof value === 'string') ctx.params[key] = coerceValue(value, ['Integer', 'Float', 'Boolean', 'Json']);
      else ctx.params[key] = value;
    }
    const referenced = new Set<string>();
    collectAttachRefs(ctx.params, referenced);
    for (const name of Object.keys(attachments)) {
      // A file part nobody references is the parameter itself (plain upload).
      if (!referenced.has(name) && ctx.params[name] === undefined) ctx.params[name] = `attach://${name}`;
    }
    const files: Record<string, UploadedFile> = {};
    const byParam = new Set<string>();
    for (const [key, value] of Object.entries(ctx.params)) {
      if (typeof value === 'string' && value.startsWith('attach://')) {
        const file = attachments[value.slice('attach://'.length)];
        if (file) {
          files[key] = file;
          byParam.add(value.slice('attach://'.length));
        }
      }
    }
    for (const [name, file] of Object.entries(attachments)) if (!byParam.has(name)) files[name] = file;
    call.params = ctx.params;
    call.files = files;
    const chatId = ctx.params.chat_id;
    if (typeof chatId === 'number') {
      ctx.chatId = chatId;
      call.chatId = chatId;
    }
  }

  /** Checks Telegram enforces beyond the parameter types. */
  private checkContent(ctx: CallContext): string[] {
    const { method, params } = ctx;
    const problems: string[] = [];
    const parseMode = params.parse_mode as string | undefined;
    if (parseMode !== undefined && !['html', 'markdown', 'markdownv2'].includes(parseMode.toLowerCase())) {
      problems.push(`unsupported parse_mode "${parseMode}"`);
      return problems;
    }
    const parse = (text: string, entities: unknown): Formatted | undefined => {
      if (Array.isArray(entities)) return { text, entities: entities as Formatted['entities'] };
      try {
        return parseFormatted(text, parseMode);
      } catch (err) {
        if (!(err instanceof ParseEntitiesError)) throw err;
        problems.push(`can't parse entities: ${err.message}`);
        return undefined;
      }
    };
    if (method.startsWith('editMessage') && method !== 'editMessageLiveLocation') {
      if (params.inline_message_id === undefined && (params.chat_id === undefined || params.message_id === undefined)) {
        problems.push('message identifier is not specified');
      }
    }
    if (method === 'sendMessage' || method === 'editMessageText') {
      if (typeof params.text === 'string') {
        const f = parse(params.text, params.entities);
        if (f) {
          ctx.formatted.text = f;
          if (f.text.trim().length === 0) problems.push('message text is empty');
          else if (f.text.length > 4096) problems.push(`message is too long (${f.text.length} > 4096 characters)`);
        }
      } else if (method === 'editMessageText' && params.rich_message === undefined) {
        problems.push('message text is empty');
      }
    }
    if (typeof params.caption === 'string') {
      const f = parse(params.caption, params.caption_entities);
      if (f) {
        ctx.formatted.caption = f;
        if (f.text.length > 1024) problems.push(`message caption is too long (${f.text.length} > 1024 characters)`);
      }
    }
    const buttons: Json[] = [];
    inlineButtons(params, buttons);
    for (const b of buttons) {
      if (b.callback_data !== undefined) {
        const bytes = Buffer.byteLength(String(b.callback_data), 'utf8');
        if (bytes < 1 || bytes > 64) {
          problems.push(`BUTTON_DATA_INVALID: callback_data must be 1-64 bytes, got ${bytes} (${JSON.stringify(b.callback_data)})`);
        }
      }
      if (!INLINE_BUTTON_ACTIONS.some((a) => b[a] !== undefined)) {
        problems.push(`text buttons are unallowed in the inline keyboard (button ${JSON.stringify(b.text)})`);
      }
    }
    if (method === 'setMyCommands' && Array.isArray(params.commands)) {
      for (const c of params.commands as Json[]) {
        if (!/^[a-z0-9_]{1,32}$/.test(String(c.command))) problems.push(`BOT_COMMAND_INVALID: ${JSON.stringify(c.command)}`);
        const desc = String(c.description);
        if (desc.length < 1 || desc.length > 256) problems.push(`command description must be 1-256 characters: ${JSON.stringify(c.command)}`);
      }
    }
    return problems;
  }

  /** Injected failures, blocked users and rate limits, in that order. */
  private preflight(ctx: CallContext): void {
    const injected = this.failures.get(ctx.method) ?? [];
    const hit = injected.findIndex((failure) => failure.chatId === undefined || failure.chatId === ctx.chatId);
    if (hit >= 0) throw injected.splice(hit, 1)[0]?.error;
    const chatId = ctx.chatId;
    if (chatId !== undefined && this.blocked.has(chatId) && BLOCKABLE.test(ctx.method)) {
      throw new ApiError(403, 'Forbidden: bot was blocked by the user');
    }
    if (!RATE_LIMITED.test(ctx.method)) return;
    const now = Date.now();
    this.globalSends = this.globalSends.filter((t) => now - t < 1000);
    const perChat = chatId !== undefined ? (this.chatSends.get(chatId) ?? []).filter((t) => now - t < 1000) : [];
    const { globalPerSecond, perChatPerSecond } = this.limits;
    let oldest: number | undefined;
    if (globalPerSecond !== undefined && this.globalSends.length >= globalPerSecond) oldest = this.globalSends[0];
    if (perChatPerSecond !== undefined && chatId !== undefined && perChat.length >= perChatPerSecond) {
      oldest = Math.max(oldest ?? 0, perChat[0] ?? 0);
    }
    if (oldest !== undefined) {
      const retryAfter = Math.max(1, Math.ceil((oldest + 1000 - now) / 1000));
      throw new ApiError(429, `Too Many Requests: retry after ${retryAfter}`, retryAfter);
    }
    this.globalSends.push(now);
    if (chatId !== undefined) {
      perChat.push(now);
      this.chatSends.set(chatId, perChat);
    }
  }

  /** Methods without a dedicated handler: send* create a message, everything else answers true. */
  private defaultResult(spec: SpecMethod, ctx: CallContext): unknown {
    if (spec.name.startsWith('send') && spec.returns.includes('Message')) return this.genericSend(ctx);
    return true;
  }

  // --- method handlers -------------------------------------------------------------

  private readonly handlers: Record<string, (ctx: CallContext) => unknown> = {
    getMe: () => ({ ...this.botInfo }),
    getUpdates: (ctx) => this.getUpdates(ctx),
    setWebhook: (ctx) => {
      this.webhookUrl = String(ctx.params.url);
      if (ctx.params.drop_pending_updates === true) this.queue = [];
      return true;
    },
    deleteWebhook: (ctx) => {
      this.webhookUrl = '';
      if (ctx.params.drop_pending_updates === true) this.queue = [];
      return true;
    },
    getWebhookInfo: () => ({ url: this.webhookUrl, has_custom_certificate: false, pending_update_count: this.queue.length }),
    logOut: () => true,
    close: () => true,
    sendMessage: (ctx) => {
      const f = ctx.formatted.text ?? { text: String(ctx.params.text), entities: [] };
      return this.addBotMessage(ctx, { text: f.text, entities: nonEmpty(f.entities) }).message;
    },
    sendPhoto: (ctx) => {
      const input = this.resolveInputFile(ctx, 'photo');
      const photo = this.photoSizes(input);
      return this.addBotMessage(
        ctx,
        {
          photo,
          ...this.captionContent(ctx),
          has_spoiler: ctx.params.has_spoiler === true ? true : undefined,
        },
        { kind: 'photo', input: input.upload ?? input.ref },
      ).message;
    },
    sendDocument: (ctx) => {
      const input = this.resolveInputFile(ctx, 'document');
      return this.addBotMessage(
        ctx,
        { document: this.documentOf(input), ...this.captionContent(ctx) },
        {
          kind: 'document',
          input: input.upload ?? input.ref,
        },
      ).message;
    },
    sendMediaGroup: (ctx) => this.sendMediaGroup(ctx),
    sendChatAction: () => true,
    copyMessage: (ctx) => ({ message_id: this.copy(ctx, Number(ctx.params.message_id), false).message.message_id }),
    copyMessages: (ctx) => this.copyMany(ctx, false).map((s) => ({ message_id: s.message.message_id })),
    forwardMessage: (ctx) => this.copy(ctx, Number(ctx.params.message_id), true).message,
    forwardMessages: (ctx) => this.copyMany(ctx, true).map((s) => ({ message_id: s.message.message_id })),
    editMessageText: (ctx) => {
      const stored = this.editTarget(ctx);
      if (!stored) return true;
      const msg = stored.message;
      if (msg.text === undefined) throw new ApiError(400, 'Bad Request: there is no text in the message to edit');
      const f = ctx.formatted.text ?? { text: String(ctx.params.text ?? ''), entities: [] };
      const markup = inlineMarkup(ctx.params.reply_markup);
      if (msg.text === f.text && sameJson(msg.entities, nonEmpty(f.entities)) && sameJson(msg.reply_markup, markup)) {
        throw new ApiError(400, NOT_MODIFIED);
      }
      return this.applyEdit(ctx, stored, { text: f.text, entities: nonEmpty(f.entities), reply_markup: markup });
    },
    editMessageCaption: (ctx) => {
      const stored = this.editTarget(ctx);
      if (!stored) return true;
      const msg = stored.message;
      if (!['photo', 'document', 'video', 'audio', 'animation', 'voice'].some((k) => msg[k] !== undefined)) {
        throw new ApiError(400, 'Bad Request: there is no caption in the message to edit');
      }
      const f = ctx.formatted.caption;
      const caption = f && f.text.length > 0 ? f.text : undefined;
      const entities = nonEmpty(f?.entities);
      const markup = inlineMarkup(ctx.params.reply_markup);
      if (msg.caption === caption && sameJson(msg.caption_entities, entities) && sameJson(msg.reply_markup, markup)) {
        throw new ApiError(400, NOT_MODIFIED);
      }
      return this.applyEdit(ctx, stored, { caption, caption_entities: entities, reply_markup: markup });
    },
    editMessageReplyMarkup: (ctx) => {
      const stored = this.editTarget(ctx);
      if (!stored) return true;
      const markup = inlineMarkup(ctx.params.reply_markup);
      if (sameJson(stored.message.reply_markup, markup)) throw new ApiError(400, NOT_MODIFIED);
      return this.applyEdit(ctx, stored, { reply_markup: markup });
    },
    editMessageMedia: (ctx) => {
      const stored = this.editTarget(ctx);
      if (!stored) return true;
      const media = ctx.params.media as Json;
      const kind = media.type === 'photo' ? 'photo' : 'document';
      const input = this.resolveInputFile(ctx, 'media', media.media);
      const caption = typeof media.caption === 'string' ? this.safeFormat(media.caption, media.parse_mode) : undefined;
      const content: Json = {
        photo: undefined,
        document: undefined,
        [kind]: kind === 'photo' ? this.photoSizes(input) : this.documentOf(input),
        caption: caption?.text || undefined,
        caption_entities: nonEmpty(caption?.entities),
        reply_markup: inlineMarkup(ctx.params.reply_markup),
      };
      stored.media = { kind, input: input.upload ?? input.ref };
      return this.applyEdit(ctx, stored, content);
    },
    deleteMessage: (ctx) => {
      const chat = this.chatFor(ctx.params.chat_id);
      if (!chat.messages.delete(Number(ctx.params.message_id))) {
        throw new ApiError(400, 'Bad Request: message to delete not found');
      }
      return true;
    },
    deleteMessages: (ctx) => {
      const chat = this.chatFor(ctx.params.chat_id);
      for (const id of ctx.params.message_ids as number[]) chat.messages.delete(id);
      return true;
    },
    answerCallbackQuery: (ctx) => {
      const query = this.callbackQueries.get(String(ctx.params.callback_query_id));
      if (query) ctx.chatId = query.chatId;
      if (!query || query.answered) {
        throw new ApiError(400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
      }
      query.answered = true;
      return true;
    },
    getChat: (ctx) => ({
      ...clone(this.chatFor(ctx.params.chat_id).info),
      accent_color_id: 0,
      max_reaction_count: 11,
      accepted_gift_types: { unlimited_gifts: true, limited_gifts: true, unique_gifts: true, premium_subscription: true, gifts_from_channels: true },
    }),
    getChatMember: (ctx) => {
      const userId = Number(ctx.params.user_id);
      if (userId === this.botInfo.id) return { status: 'member', user: this.botUser() };
      const user = this.chats.get(userId)?.user;
      return { status: 'member', user: user ? this.userObject(user) : { id: userId, is_bot: false, first_name: `User ${userId}` } };
    },
    getFile: (ctx) => {
      const stored = this.files.get(String(ctx.params.file_id));
      if (!stored) throw new ApiError(400, 'Bad Request: invalid file_id');
      return compact({
        file_id: stored.fileId,
        file_unique_id: stored.uniqueId,
        file_size: stored.data?.data.length,
        file_path: stored.path,
      });
    },
    setMyCommands: (ctx) => {
      this.commands.set(this.commandsKey(ctx.params), clone(ctx.params.commands));
      return true;
    },
    deleteMyCommands: (ctx) => {
      this.commands.delete(this.commandsKey(ctx.params));
      return true;
    },
    getMyCommands: (ctx) => this.commands.get(this.commandsKey(ctx.params)) ?? [],
    setChatMenuButton: (ctx) => {
      this.menuButtons.set(String(ctx.params.chat_id ?? ''), clone(ctx.params.menu_button ?? { type: 'default' }));
      return true;
    },
    getChatMenuButton: (ctx) => this.menuButtons.get(String(ctx.params.chat_id ?? '')) ?? this.menuButtons.get('') ?? { type: 'commands' },
    setMyName: (ctx) => this.setBotText('name', ctx),
    getMyName: (ctx) => ({ name: this.botTexts.get(`name:${ctx.params.language_code ?? ''}`) ?? this.botInfo.first_name }),
    setMyDescription: (ctx) => this.setBotText('description', ctx),
    getMyDescription: (ctx) => ({ description: this.botTexts.get(`description:${ctx.params.language_code ?? ''}`) ?? '' }),
    setMyShortDescription: (ctx) => this.setBotText('short_description', ctx),
    getMyShortDescription: (ctx) => ({
      short_description: this.botTexts.get(`short_description:${ctx.params.language_code ?? ''}`) ?? '',
    }),
  };

  private async getUpdates(ctx: CallContext): Promise<unknown> {
    if (this.webhookUrl) {
      throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const p = ctx.params;
    if (typeof p.offset === 'number') {
      const offset = p.offset;
      // Negative offsets keep only the last -offset updates and forget the rest.
      if (offset < 0) this.queue = this.queue.slice(offset);
      else if (offset > 0) this.queue = this.queue.filter((u) => (u.update_id as number) >= offset);
    }
    if (Array.isArray(p.allowed_updates)) this.allowedUpdates = p.allowed_updates as string[];
    const limit = Math.min(100, Math.max(1, typeof p.limit === 'number' ? p.limit : 100));
    const timeout = Math.max(0, typeof p.timeout === 'number' ? p.timeout : 0);
    // Like Telegram, a new getUpdates request terminates a pending one.
    for (const poller of [...this.pollers]) poller.end('superseded');
    let batch = this.takeUpdates(limit);
    if (batch.length > 0 || timeout === 0 || this.closed) return batch;
    const reason = await this.waitForUpdates(ctx.res, timeout);
    if (reason === 'aborted') throw ABORTED;
    if (reason === 'superseded') {
      throw new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
    }
    if (reason === 'closed') return [];
    batch = this.takeUpdates(limit);
    return batch;
  }

  private waitForUpdates(res: ServerResponse, timeoutSeconds: number): Promise<PollEnd> {
    return new Promise<PollEnd>((resolve) => {
      let done = false;
      const finish = (reason: PollEnd): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pollers.delete(poller);
        res.off('close', onClose);
        resolve(reason);
      };
      const onClose = (): void => finish('aborted');
      const poller: Poller = {
        end: (reason) => {
          if (reason !== 'superseded') {
            finish(reason);
            return;
          }
          // A client that aborted its poll and immediately polls again races with
          // the close event of the old socket; give that a moment so no bogus 409 is recorded.
          this.pollers.delete(poller);
          setTimeout(() => finish(res.destroyed || res.writableEnded ? 'aborted' : 'superseded'), 5);
        },
      };
      const timer = setTimeout(() => finish('timeout'), timeoutSeconds * 1000);
      res.on('close', onClose);
      this.pollers.add(poller);
    });
  }

  private takeUpdates(limit: number): Json[] {
    const allowed = this.allowedUpdates.length > 0 ? new Set(this.allowedUpdates) : undefined;
    // Telegram never stores updates of types the bot did not ask for.
    this.queue = this.queue.filter((u) => {
      const kind = Object.keys(u).find((k) => k !== 'update_id') ?? '';
      return allowed ? allowed.has(kind) : !DEFAULT_EXCLUDED_UPDATES.includes(kind);
    });
    return this.queue.slice(0, limit);
  }

  private enqueue(partial: Json): Update {
    const update = { update_id: this.nextUpdateId++, ...partial };
    this.queue.push(update);
    for (const poller of [...this.pollers]) poller.end('update');
    return clone(update) as unknown as Update;
  }

  private enqueueCallback(user: FakeUser, data: string, message: Json | undefined): Update {
    const chat = this.chatOfUser(user);
    const id = `${this.botInfo.id}${String(this.nextCallbackId++).padStart(6, '0')}`;
    this.callbackQueries.set(id, { chatId: chat.id, answered: false });
    return this.enqueue({
      callback_query: compact({
        id,
        from: this.userObject(user),
        message,
        chat_instance: `ci${chat.id}`,
        data,
      }),
    });
  }

  // --- chats and messages --------------------------------------------------------

  private botUser(): Json {
    return { id: this.botInfo.id, is_bot: true, first_name: this.botInfo.first_name, username: this.botInfo.username };
  }

  private userObject(user: FakeUser): Json {
    return compact({
      id: user.id,
      is_bot: false,
      first_name: user.first_name,
      last_name: user.last_name,
      username: user.username,
      language_code: user.language_code,
    });
  }

  private getChat(id: number): ChatState {
    let chat = this.chats.get(id);
    if (!chat) {
      const info: Json =
        id > 0 ? { id, type: 'private', first_name: `User ${id}` } : { id, type: id < -1_000_000_000_000 ? 'supergroup' : 'group', title: `Chat ${id}` };
      chat = { id, info, nextMessageId: 1, messages: new Map(), sentLog: [], cursor: 0 };
      this.chats.set(id, chat);
    }
    return chat;
  }

  private chatOfUser(user: FakeUser): ChatState {
    const chat = this.getChat(user.id);
    chat.user = { ...user };
    chat.info = compact({
      id: user.id,
      type: 'private',
      first_name: user.first_name,
      last_name: user.last_name,
      username: user.username,
    });
    return chat;
  }

  /** Resolves a chat_id parameter; numeric ids get a chat on first use. */
  private chatFor(chatId: unknown): ChatState {
    if (typeof chatId === 'number') return this.getChat(chatId);
    if (typeof chatId === 'string' && chatId.startsWith('@')) {
      const name = chatId.slice(1).toLowerCase();
      for (const chat of this.chats.values()) {
        if (String(chat.info.username ?? '').toLowerCase() === name) return chat;
      }
    }
    throw new ApiError(400, 'Bad Request: chat not found');
  }

  private addUserMessage(user: FakeUser, content: Json): Json {
    const chat = this.chatOfUser(user);
    const message = compact({
      message_id: chat.nextMessageId++,
      from: this.userObject(user),
      chat: clone(chat.info),
      date: nowSeconds(),
      ...content,
    });
    chat.messages.set(message.message_id, { message, fromBot: false });
    return message;
  }

  private addBotMessage(ctx: CallContext, content: Json, media?: StoredMessage['media'], chat: ChatState = this.chatFor(ctx.params.chat_id)): StoredMessage {
    const message: Json = compact({
      message_id: chat.nextMessageId,
      from: this.botUser(),
      chat: clone(chat.info),
      date: nowSeconds(),
      reply_to_message: this.replyTarget(chat, ctx.params.reply_parameters),
      ...content,
      reply_markup: inlineMarkup(ctx.params.reply_markup),
    });
    chat.nextMessageId++;
    const stored: StoredMessage = { message, fromBot: true, replyMarkup: ctx.params.reply_markup, media };
    stored.sent = this.toSent(chat.id, stored, ctx.method, ctx.params, false);
    chat.messages.set(message.message_id as number, stored);
    // Handlers run synchronously, so this call will be recorded at index calls.length.
    chat.sentLog.push({ message: stored.sent, callIndex: this.calls.length });
    return stored;
  }

  private replyTarget(chat: ChatState, replyParameters: unknown): Json | undefined {
    if (!isObject(replyParameters)) return undefined;
    const target = chat.messages.get(Number(replyParameters.message_id));
    if (!target) {
      if (replyParameters.allow_sending_without_reply === true) return undefined;
      throw new ApiError(400, 'Bad Request: message to be replied not found');
    }
    const copy = clone(target.message);
    delete copy.reply_to_message;
    return copy;
  }

  private toSent(chatId: number, stored: StoredMessage, method: string, params: Json, edited: boolean): SentMessage {
    const msg = stored.message;
    const entities = (msg.entities ?? msg.caption_entities) as unknown[] | undefined;
    return compact({
      chatId,
      messageId: msg.message_id as number,
      method,
      text: msg.text as string | undefined,
      caption: msg.caption as string | undefined,
      entities,
      replyMarkup: stored.replyMarkup,
      photo: stored.media?.kind === 'photo' ? stored.media.input : undefined,
      document: stored.media?.kind === 'document' ? stored.media.input : undefined,
      params,
      edited,
    });
  }

  private editTarget(ctx: CallContext): StoredMessage | undefined {
    if (ctx.params.inline_message_id !== undefined) return undefined;
    const chat = this.chatFor(ctx.params.chat_id);
    const stored = chat.messages.get(Number(ctx.params.message_id));
    if (!stored) throw new ApiError(400, 'Bad Request: message to edit not found');
    if (!stored.fromBot) throw new ApiError(400, "Bad Request: message can't be edited");
    return stored;
  }

  private applyEdit(ctx: CallContext, stored: StoredMessage, changes: Json): Json {
    const msg = stored.message;
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) delete msg[key];
      else msg[key] = value;
    }
    msg.edit_date = nowSeconds();
    stored.replyMarkup = ctx.params.reply_markup;
    const method = stored.sent?.method ?? ctx.method;
    stored.sent = this.toSent(Number((msg.chat as Json).id), stored, method, ctx.params, true);
    return clone(msg);
  }

  private captionContent(ctx: CallContext): Json {
    const f = ctx.formatted.caption;
    return {
      caption: f && f.text.length > 0 ? f.text : undefined,
      caption_entities: nonEmpty(f?.entities),
      show_caption_above_media: ctx.params.show_caption_above_media === true ? true : undefined,
    };
  }

  private safeFormat(text: string, parseMode: unknown): Formatted {
    try {
      return parseFormatted(text, typeof parseMode === 'string' ? parseMode : undefined);
    } catch (err) {
      if (err instanceof ParseEntitiesError) throw new ApiError(400, `Bad Request: can't parse entities: ${err.message}`);
      throw err;
    }
  }

  private copy(ctx: CallContext, messageId: number, forward: boolean): StoredMessage {
    const from = this.chatFor(ctx.params.from_chat_id);
    const source = from.messages.get(messageId);
    if (!source) throw new ApiError(400, `Bad Request: message to ${forward ? 'forward' : 'copy'} not found`);
    const content = clone(source.message);
    for (const key of ['message_id', 'from', 'chat', 'date', 'edit_date', 'reply_to_message', 'reply_markup']) {
      delete content[key];
    }
    if (!forward && ctx.params.caption !== undefined) Object.assign(content, this.captionContent(ctx));
    if (forward) {
      content.forward_origin = source.fromBot
        ? { type: 'user', sender_user: this.botUser(), date: source.message.date }
        : { type: 'user', sender_user: source.message.from, date: source.message.date };
    }
    return this.addBotMessage(ctx, content, source.media);
  }

  private copyMany(ctx: CallContext, forward: boolean): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const id of ctx.params.message_ids as number[]) {
      try {
        out.push(this.copy(ctx, id, forward));
      } catch (err) {
        // Telegram silently skips messages it cannot find.
        if (!(err instanceof ApiError)) throw err;
      }
    }
    if (out.length === 0) throw new ApiError(400, `Bad Request: messages to ${forward ? 'forward' : 'copy'} not found`);
    return out;
  }

  private sendMediaGroup(ctx: CallContext): Json[] {
    const chat = this.chatFor(ctx.params.chat_id);
    const groupId = `${Date.now()}${chat.nextMessageId}`;
    const messages: Json[] = [];
    for (const item of ctx.params.media as Json[]) {
      const input = this.resolveInputFile(ctx, 'media', item.media);
      const caption = typeof item.caption === 'string' ? this.safeFormat(item.caption, item.parse_mode) : undefined;
      const kind = String(item.type);
      const body = kind === 'photo' ? this.photoSizes(input) : kind === 'document' ? this.documentOf(input) : this.fileObject(input);
      const stored = this.addBotMessage(
        ctx,
        {
          media_group_id: groupId,
          [kind]: body,
          caption: caption?.text || undefined,
          caption_entities: nonEmpty(caption?.entities),
        },
        kind === 'photo' || kind === 'document' ? { kind, input: input.upload ?? input.ref } : undefined,
        chat,
      );
      messages.push(stored.message);
    }
    return messages;
  }

  // Approximate message for send* methods without a dedicated handler (sendContact → contact, …).
  private genericSend(ctx: CallContext): Json {
    const key = snakeCase(ctx.method.slice('send'.length));
    const payload: Json = {};
    for (const [k, v] of Object.entries(ctx.params)) {
      if (NON_CONTENT_PARAMS.has(k)) continue;
      payload[k] = typeof v === 'string' && v.startsWith('attach://') ? this.fileObject(this.resolveInputFile(ctx, k)) : v;
    }
    return this.addBotMessage(ctx, { [key]: payload, ...this.captionContent(ctx) }).message;
  }

  // --- files -------------------------------------------------------------------------

  private resolveInputFile(ctx: CallContext, field: string, value: unknown = ctx.params[field]): { upload?: UploadedFile; ref: string; stored?: StoredFile } {
    if (typeof value === 'string' && value.startsWith('attach://')) {
      const upload = ctx.attachments[value.slice('attach://'.length)];
      if (upload) return { upload, ref: value };
    } else if (typeof value === 'string' && /^https?:\/\//i.test(value)) {
      return { ref: value };
    } else if (typeof value === 'string' && this.files.has(value)) {
      return { ref: value, stored: this.files.get(value) };
    }
    throw new ApiError(400, 'Bad Request: wrong file identifier/HTTP URL specified');
  }

  private newFile(kind: StoredFile['kind'], data: UploadedFile | undefined, ext: string): StoredFile {
    const n = this.nextFileNo++;
    const prefix = kind === 'photo' ? 'AgAC' : kind === 'document' ? 'BQAC' : 'CAAC';
    const file: StoredFile = {
      fileId: `${prefix}AgIAAxkDAAI${String(n).padStart(6, '0')}fake`,
      uniqueId: `AQAD${String(n).padStart(6, '0')}`,
      kind,
      data,
      path: `${kind === 'photo' ? 'photos' : 'documents'}/file_${n}.${ext}`,
    };
    this.files.set(file.fileId, file);
    return file;
  }

  private photoSizes(input: { upload?: UploadedFile; ref: string; stored?: StoredFile }): Json[] {
    if (input.stored) {
      if (!input.stored.photo) throw new ApiError(400, `Bad Request: can't use file of type ${input.stored.kind} as Photo`);
      return clone(input.stored.photo);
    }
    const size = input.upload ? imageSize(input.upload.data) : undefined;
    const width = size?.width || 800;
    const height = size?.height || 600;
    const longest = Math.max(width, height);
    const targets = [90, 320, 800, 1280].filter((t) => t < longest);
    targets.push(Math.min(longest, 2560));
    const sizes = targets.map((t) => {
      const file = this.newFile('photo', input.upload, 'jpg');
      const scale = t / longest;
      return compact({
        file_id: file.fileId,
        file_unique_id: file.uniqueId,
        width: Math.max(1, Math.round(width * scale)),
        height: Math.max(1, Math.round(height * scale)),
        file_size: input.upload?.data.length,
      });
    });
    for (const s of sizes) {
      const stored = this.files.get(s.file_id as string);
      if (stored) stored.photo = sizes;
    }
    return sizes;
  }

  private documentOf(input: { upload?: UploadedFile; ref: string; stored?: StoredFile }): Json {
    if (input.stored) {
      return clone(input.stored.document ?? this.fileObject(input));
    }
    const name = input.upload?.filename ?? decodeURIComponent(input.ref.split('/').pop() ?? 'file');
    const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? 'dat';
    const mime =
      MIME_BY_EXT[ext] ?? (input.upload && input.upload.contentType !== 'application/octet-stream' ? input.upload.contentType : 'application/octet-stream');
    const file = this.newFile('document', input.upload, ext);
    file.document = compact({
      file_id: file.fileId,
      file_unique_id: file.uniqueId,
      file_name: name,
      mime_type: mime,
      file_size: input.upload?.data.length,
    });
    return clone(file.document);
  }

  private fileObject(input: { upload?: UploadedFile; ref: string; stored?: StoredFile }): Json {
    const file = input.stored ?? this.newFile('other', input.upload, 'dat');
    return compact({ file_id: file.fileId, file_unique_id: file.uniqueId, file_size: file.data?.data.length });
  }

  // --- misc ----------------------------------------------------------------------------

  private commandsKey(params: Json): string {
    return JSON.stringify([params.scope ?? { type: 'default' }, params.language_code ?? '']);
  }

  private setBotText(kind: string, ctx: CallContext): true {
    const key = `${kind}:${ctx.params.language_code ?? ''}`;
    const value = ctx.params[kind];
    if (typeof value === 'string' && value.length > 0) this.botTexts.set(key, value);
    else this.botTexts.delete(key);
    return true;
  }

  private timeoutMessage(what: string, timeoutMs: number, lastError: unknown): string {
    const lines = [`FakeBotApi: timed out after ${timeoutMs}ms waiting for ${what}.`];
    if (lastError !== undefined) {
      lines.push(`Last predicate error: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
    }
    if (this.violations.length > 0) lines.push(`Violations:\n  ${this.violations.join('\n  ')}`);
    const recent = this.calls.filter((c) => c.method !== 'getUpdates' || (Array.isArray(c.result) && c.result.length > 0));
    const start = Math.max(0, recent.length - 15);
    lines.push(`Recent calls (${recent.length} excluding empty getUpdates):`);
    for (const c of recent.slice(start)) {
      const text = (c.params.text ?? c.params.caption ?? c.params.callback_query_id) as string | undefined;
      const status = c.ok ? 'ok' : `ERR ${c.errorCode} ${c.description ?? ''}`;
      const chat = c.chatId !== undefined ? ` chat=${c.chatId}` : '';
      lines.push(`  ${c.method}${chat} ${status}${text !== undefined ? ` ${JSON.stringify(String(text).slice(0, 80))}` : ''}`);
    }
    return lines.join('\n');
  }
}

export type { Message, Update };
