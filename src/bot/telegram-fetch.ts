import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { ApiClientOptions } from 'grammy';

/**
 * The `fetch` grammY calls the Bot API with (its client option `fetch`), straight on node:http
 * (issue 12). grammY's default, node-fetch, wraps every call in WHATWG Request, Headers and Body
 * objects, an abort shim and a body stream of its own: after the member read was batched, that
 * layer was the largest single share of a Balance tap's CPU besides the socket writes themselves.
 * grammY needs little of it: it POSTs a JSON string or a multipart stream with its own headers,
 * aborts through its signal, and reads the answer with `json()` whatever the status (the Bot API
 * answers errors in JSON too). Network failures reject, and grammY turns them into HttpError as
 * before; a body that is not JSON rejects from `json()` as node-fetch's does.
 */
export interface TelegramFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Readable;
  signal?: AbortSignalLike | null;
  /** grammY's keep-alive agent for the API root (its baseFetchConfig). */
  agent?: HttpAgent;
}

/** The signal grammY passes (its abort-controller shim, or a native AbortSignal). */
interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface TelegramResponse {
  ok: boolean;
  status: number;
  statusText: string;
  json(): Promise<unknown>;
}

interface Target {
  https: boolean;
  options: Pick<RequestOptions, 'hostname' | 'port' | 'path'>;
}

/** Parsed URLs: one per Bot API method called (a bounded set); past the bound, parsed each time. */
const targets = new Map<string, Target>();
const MAX_TARGETS = 500;

function targetOf(url: string): Target {
  let target = targets.get(url);
  if (target) return target;
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`unsupported protocol ${parsed.protocol}`);
  target = {
    https: parsed.protocol === 'https:',
    options: {
      // node:http wants an IPv6 literal without its brackets.
      hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
      ...(parsed.port ? { port: Number(parsed.port) } : {}),
      path: `${parsed.pathname}${parsed.search}`,
    },
  };
  if (targets.size < MAX_TARGETS) targets.set(url, target);
  return target;
}

const defaultHttpAgent = new HttpAgent({ keepAlive: true });
const defaultHttpsAgent = new HttpsAgent({ keepAlive: true });

const abortError = () => Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });

export function telegramFetch(url: string, init: TelegramFetchInit = {}): Promise<TelegramResponse> {
  return new Promise<TelegramResponse>((resolve, reject) => {
    const target = targetOf(url);
    const { signal, body } = init;
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const headers: Record<string, string> = { ...init.headers };
    if (typeof body === 'string') headers['content-length'] = String(Buffer.byteLength(body));
    const request = (target.https ? httpsRequest : httpRequest)({
      ...target.options,
      method: init.method ?? 'GET',
      headers,
      agent: init.agent ?? (target.https ? defaultHttpsAgent : defaultHttpAgent),
    });
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      reject(error);
    };
    const onAbort = () => request.destroy(abortError());
    signal?.addEventListener('abort', onAbort);
    request.once('error', fail);
    request.once('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', fail);
      response.once('end', () => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8');
        const status = response.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, statusText: response.statusMessage ?? '', json: async () => JSON.parse(text) });
      });
      // Closed before its end (the connection dropped mid-answer).
      response.once('close', () => fail(new Error('the Bot API response ended early')));
    });
    if (body === undefined || typeof body === 'string') request.end(body);
    else {
      body.once('error', (error) => request.destroy(error));
      body.pipe(request);
    }
  });
}

/** grammY's client options for the Bot API at `apiRoot`, called through `telegramFetch`. */
export function apiClientOptions(apiRoot: string): ApiClientOptions {
  return { apiRoot, fetch: telegramFetch as unknown as NonNullable<ApiClientOptions['fetch']> };
}
