import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { generateMemberCode } from '../src/domain/codes.js';
import { hashSpendCode } from '../src/domain/spending/spend-codes.js';
import { hashApiKey } from '../src/domain/staff/api-keys.js';
import type { FakeApiIn, FakeApiOut } from './fake-api-process.js';
// Shared pieces for the benchmarks in bench/: the shape every benchmark has, a failure type
// that run.ts reports without a stack, and small helpers for statistics and tables.

export interface BenchResult {
  /** What to print: usually a table made with formatTable. */
  report: string;
  /** Headline numbers for the summary at the end of `npm run bench` (name -> value). */
  headline?: Record<string, string>;
}

export interface Benchmark {
  /** Short kebab-case name; `npm run bench -- <text>` runs those whose name contains the text. */
  name: string;
  description: string;
  run(): Promise<BenchResult>;
}

/** An expected way for a benchmark to fail (no reply in time, wrong reply): printed as is, exit code 1. */
export class BenchFailure extends Error {
  override name = 'BenchFailure';
}

export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new BenchFailure(`${name} must be an integer >= ${min}, got "${raw}"`);
  return value;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

export function ratio(numerator: number, denominator: number, digits = 2): string {
  return denominator > 0 && Number.isFinite(numerator / denominator) ? `${(numerator / denominator).toFixed(digits)}x` : '-';
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The most events within any `windowMs` sliding window, given sorted timestamps. */
export function peakWithin(times: readonly number[], windowMs: number): number {
  let peak = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while ((times[end] as number) - (times[start] as number) >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

/** Runs a command (pgbench, psql) to its end and collects its output. */
export function runProcess(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new BenchFailure(`${command} not found on PATH (install the PostgreSQL client tools)`) : error),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What the seeders below need of a database client (Prisma's raw SQL). */
interface RawSql {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

/**
 * `count` more active members, set-based, each with one ledger entry and its open lot (balance 1),
 * consistent with the ledger invariants: the tables a growing program has, beside the members a
 * bench measures. Telegram ids from `firstTelegramId`, codes 'F' + 10 digits (never a real code).
 * `firstIndex`: how many this bench seeded before (the next call grows the same program). One
 * statement (members, entries, lots chained through RETURNING): a million takes about a minute.
 */
export async function seedFillerMembers(db: RawSql, count: number, firstTelegramId: number, firstIndex = 0): Promise<void> {
  if (count <= 0) return;
  await db.$executeRawUnsafe(
    `WITH m AS (
       INSERT INTO "Member" ("telegramId", code, locale, status, "registrationStep", name, tier, balance, "registeredAt", "createdAt", "updatedAt")
       SELECT $1::bigint + g, 'F' || lpad(g::text, 10, '0'), 'en', 'ACTIVE', NULL, 'Filler', 'basic', 1, now(), now(), now()
       FROM generate_series($3::int, $3::int + $2::int - 1) g
       RETURNING id
     ), e AS (
       INSERT INTO "LedgerEntry" ("memberId", type, amount, "balanceAfter", "idempotencyKey", "actorType", "createdAt")
       SELECT id, 'BONUS', 1, 1, 'bench-filler:' || id, 'SYSTEM', now() - interval '1 day' FROM m
       RETURNING id, "memberId", "createdAt"
     )
     INSERT INTO "PointLot" ("memberId", "entryId", amount, remaining, "expiresAt", "createdAt")
     SELECT e."memberId", e.id, 1, 1, e."createdAt" + interval '365 days', e."createdAt" FROM e`,
    firstTelegramId,
    count,
    firstIndex,
  );
  await db.$executeRawUnsafe('ANALYZE');
}

/**
 * `entries` ledger entries of 1 point each (each an open lot) for every member in `memberIds`
 * who has none yet, set-based, before any other entry of theirs: a long history, consistent
 * with the ledger invariants (balance = entries = lots, running balanceAfter).
 */
export async function seedHistories(db: RawSql, memberIds: readonly number[], entries: number): Promise<void> {
  if (entries <= 0 || memberIds.length === 0) return;
  await db.$executeRawUnsafe(
    `WITH e AS (
       INSERT INTO "LedgerEntry" ("memberId", type, amount, "balanceAfter", "idempotencyKey", "actorType", "createdAt")
       SELECT m, 'BONUS', 1, n, 'bench-history:' || m || ':' || n, 'SYSTEM', now() - ($2::int - n) * interval '1 minute'
       FROM unnest($1::int[]) AS m, generate_series(1, $2::int) AS n
       ORDER BY m, n
       RETURNING id, "memberId", "createdAt"
     )
     INSERT INTO "PointLot" ("memberId", "entryId", amount, remaining, "expiresAt", "createdAt")
     SELECT e."memberId", e.id, 1, 1, e."createdAt" + interval '365 days', e."createdAt" FROM e`,
    memberIds,
    entries,
  );
  await db.$executeRawUnsafe(`UPDATE "Member" SET balance = balance + $2::int WHERE id = ANY($1::int[])`, memberIds, entries);
}

// --- processes ---------------------------------------------------------------------------------

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

/**
 * The fields of /proc/<pid>/stat after the command name (so field 3, the state, is [0]): user
 * and system CPU are [11] and [12], those of reaped children [13] and [14], the parent [1].
 */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

/** User + system CPU of process `pid` so far, in milliseconds. */
export function processCpuMs(pid: number): number {
  const fields = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** The PostgreSQL server's processes on this machine now, by pid (see databaseCpuMs). */
function postgresProcesses(): Map<number, { parent: number; own: number; reaped: number }> {
  const postgres = new Map<number, { parent: number; own: number; reaped: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (!stat.includes(' (postgres) ')) continue;
    const fields = statFields(stat);
    postgres.set(Number(entry), {
      parent: Number(fields[1]),
      own: Number(fields[11]) + Number(fields[12]),
      reaped: Number(fields[13]) + Number(fields[14]),
    });
  }
  return postgres;
}

/**
 * CPU used so far by the PostgreSQL server on this machine, in milliseconds: every `postgres`
 * process (postmaster, backends, checkpointer, WAL writer, ...) plus the postmaster's reaped
 * children (backends that exited). NaN when no such process is readable (a remote server): then
 * the database's share of a request cannot be told from here.
 *
 * A backend reaped while /proc is read (after the postmaster's entry, before its own) is counted
 * nowhere: read it when no backend is ending (see untilEnded).
 */
export function databaseCpuMs(): number {
  const postgres = postgresProcesses();
  if (postgres.size === 0) return Number.NaN;
  let ticks = 0;
  for (const server of postgres.values()) {
    ticks += server.own;
    // The postmaster (its parent is no postgres process) carries the CPU of backends that ended.
    if (!postgres.has(server.parent)) ticks += server.reaped;
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** The pids of the PostgreSQL server's processes now. */
export function postgresPids(): number[] {
  return [...postgresProcesses().keys()];
}

/**
 * Waits (at most `timeoutMs`) until the given PostgreSQL processes are gone from /proc, that is
 * ended and reaped: their CPU is then in the postmaster's reaped total. The backends of a client
 * that just quit (pgbench) are still ending when it exits; a databaseCpuMs read then missed some
 * of them whole (once: 0.01 ms per pgbench transaction instead of 0.13-0.15).
 */
export async function untilEnded(pids: readonly number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const alive = () => pids.filter((pid) => existsSync(`/proc/${pid}`));
  while (alive().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Resident memory of process `pid` now, in bytes (from /proc). */
export function processRssBytes(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_SIZE;
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `path` on `port` answers 2xx. */
export async function waitForHealth(port: number, path: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new BenchFailure(`nothing answered ${path} on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// --- till purchases (POST /v1/purchases) ---------------------------------------------------------

/** The app's spend-code key in a till run (SPEND_CODE_SECRET), so that seeds can store codes' hashes. */
export const SPEND_CODE_SECRET = 'bench-spend-code-secret-0123456789';

/**
 * The spend code of a member's `use`-th purchase. Paying with points needs the member's consent
 * (a one-time code from their Card screen); seedPurchasers stores a number of them per member,
 * the first use's newest, so that each purchase consumes the current one and the next becomes
 * current: what a member showing a fresh code for every purchase makes the till do, without the
 * member's own Card taps in the measured loop.
 */
export const spendCodeFor = (use: number) => String(use).padStart(6, '0');

/**
 * `count` active members without a chat who buy at the till, set-based: a card code each,
 * `history` older entries (seedHistories), then 1,000,000 points through ledger_post (balances,
 * entries and lots agree as the invariants demand), and `codesPerMember` spend codes each.
 */
export async function seedPurchasers(
  db: RawSql & { $queryRawUnsafe<T>(query: string, ...values: unknown[]): Promise<T> },
  count: number,
  options: { history: number; codesPerMember: number; name?: string },
): Promise<{ ids: number[]; codes: string[] }> {
  const wanted = Array.from({ length: count }, () => generateMemberCode());
  const rows = await db.$queryRawUnsafe<{ id: number; code: string }[]>(
    `INSERT INTO "Member" (code, locale, status, "registrationStep", name, tier, "registeredAt", "createdAt", "updatedAt")
     SELECT c, 'en', 'ACTIVE', NULL, $2, 'basic', now(), now(), now() FROM unnest($1::text[]) AS c
     RETURNING id, code`,
    wanted,
    options.name ?? 'Bench',
  );
  rows.sort((a, b) => a.id - b.id);
  const ids = rows.map((row) => row.id);
  // A long history first (older entries), then the points the purchases spend.
  await seedHistories(db, ids, options.history);
  await db.$executeRawUnsafe(
    `SELECT ledger_post(id, 'credit', 'BONUS', 1000000, false, 'bench:' || id, 'SYSTEM', NULL, NULL, NULL, NULL, NULL, now()::timestamp(3))
     FROM "Member" WHERE id = ANY($1::int[]) ORDER BY id`,
    ids,
  );
  const memberIds: number[] = [];
  const hashes: string[] = [];
  // Newest first use: ids grow as rows go in, and the current code is the member's newest unused.
  for (let use = options.codesPerMember - 1; use >= 0; use--) {
    for (const id of ids) {
      memberIds.push(id);
      hashes.push(hashSpendCode({ spendCodeKey: SPEND_CODE_SECRET }, spendCodeFor(use)));
    }
  }
  await db.$executeRawUnsafe(
    `INSERT INTO "SpendCode" ("memberId", "codeHash", "createdAt", "expiresAt")
     SELECT m, h, now(), now() + interval '1 hour' FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS t(m, h, n) ORDER BY n`,
    memberIds,
    hashes,
  );
  return { ids, codes: rows.map((row) => row.code) };
}

/** `count` API keys of tills (store given per request), in the shape createApiKey issues (lk_<8 hex>_<32 base64url>); only the hash is stored. */
export async function seedApiKeys(db: RawSql, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, () => `lk_${randomBytes(4).toString('hex')}_${randomBytes(24).toString('base64url')}`);
  await db.$executeRawUnsafe(
    `INSERT INTO "ApiKey" (name, prefix, hash, "storeId") SELECT 'bench till', substr(k, 4, 8), h, NULL FROM unnest($1::text[], $2::text[]) AS t(k, h)`,
    keys,
    keys.map(hashApiKey),
  );
  return keys;
}

export interface DriveOptions {
  /** Keep-alive connections, each sending its next request when the last was answered. */
  clients: number;
  seconds: number;
  warmupMs: number;
  /** Requests at most, warm-up included (e.g. the spend codes seeded): the row ends early when reached. */
  maxRequests?: number;
  /** Runs once the warm-up is over, before anything is measured (the load goes on meanwhile). */
  afterWarmup?: () => Promise<unknown>;
}

/**
 * An `afterWarmup` for purchase benches: ANALYZE the database. Production's autovacuum analyzes
 * a table as it grows; this machine's PostgreSQL runs without it, so the plans the app's
 * connections cached during the warm-up were made for the empty Purchase and LookupThrottle
 * tables the seed leaves: sequential scans of tables that then grew by thousands of rows a
 * second, which doubled the database's CPU per purchase (2.0-2.3 against 1.0-1.2 ms, measured).
 * ANALYZE invalidates those plans.
 */
export const analyzeAfterWarmup = (db: RawSql) => () => db.$executeRawUnsafe('ANALYZE');

export interface Driven {
  label: string;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  firstError?: string;
  /** CPU of the server process per request (ms); NaN for pgbench. */
  serverCpuMsPerReq: number;
  /** CPU of the PostgreSQL server per request (ms; databaseCpuMs), NaN when it cannot be read. */
  databaseCpuMsPerReq: number;
  serverRssBytes: number;
  /** 1-minute load average at the end of the row. */
  load: number;
}

/**
 * Closed loop of POST /v1/purchases over `clients` keep-alive connections: warm-up, then
 * `seconds` measured (201s only; anything else is an error). `body(seq)` gives each request's
 * API key, JSON and idempotency key; `pid` is the server's, for its CPU.
 */
export async function drivePurchases(
  label: string,
  port: number,
  options: DriveOptions,
  body: (seq: number) => { key: string; json: string; idempotencyKey: string },
  pid: number,
): Promise<Driven> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients });
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  let seq = 0;
  let measuring = false;
  let stop = false;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let reachedMax: () => void = () => undefined;
  const exhausted = new Promise<void>((resolve) => {
    reachedMax = resolve;
  });
  const send = (seqNo: number) =>
    new Promise<void>((resolve) => {
      const { key, json, idempotencyKey } = body(seqNo);
      const started = performance.now();
      const request = http.request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/purchases',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(json),
            authorization: `Bearer ${key}`,
            'idempotency-key': idempotencyKey,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            if (measuring) {
              if (response.statusCode === 201) latencies.push(performance.now() - started);
              else {
                errors++;
                firstError ??= `${response.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`;
              }
            }
            resolve();
          });
        },
      );
      request.on('error', (error) => {
        if (measuring) {
          errors++;
          firstError ??= error.message;
        }
        resolve();
      });
      request.end(json);
    });
  const loop = async () => {
    while (!stop) {
      if (seq >= maxRequests) {
        reachedMax();
        return;
      }
      await send(seq++);
    }
  };
  const loops = Array.from({ length: options.clients }, loop);
  await Promise.race([new Promise((resolve) => setTimeout(resolve, options.warmupMs)), exhausted]);
  await options.afterWarmup?.();
  const cpuBefore = processCpuMs(pid);
  const databaseBefore = databaseCpuMs();
  measuring = true;
  const started = performance.now();
  await Promise.race([new Promise((resolve) => setTimeout(resolve, options.seconds * 1000)), exhausted.then(() => Promise.all(loops))]);
  measuring = false;
  const wallS = (performance.now() - started) / 1000;
  const cpuMs = processCpuMs(pid) - cpuBefore;
  const databaseMs = databaseCpuMs() - databaseBefore;
  stop = true;
  await Promise.all(loops);
  agent.destroy();
  return {
    label,
    requests: latencies.length,
    rps: latencies.length / wallS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    ...(firstError ? { firstError } : {}),
    serverCpuMsPerReq: cpuMs / Math.max(1, latencies.length),
    databaseCpuMsPerReq: databaseMs / Math.max(1, latencies.length),
    serverRssBytes: processRssBytes(pid),
    load: loadavg()[0] as number,
  };
}

// --- the fake Bot API in its own process (bench/fake-api-process.ts) --------------------------------

export interface Reply {
  chatId: number;
  text: string;
  ok: boolean;
  latencyMs: number;
}

/** The fake Bot API in its own process (bench/fake-api-process.ts), driven over IPC. */
export class FakeApiProcess {
  private readonly waiting = new Map<number, ((reply: Reply) => void)[]>();
  private polled = false;
  onReply: ((reply: Reply) => void) | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly ready: Extract<FakeApiOut, { type: 'ready' }>,
  ) {
    child.on('message', (message: FakeApiOut) => {
      if (message.type === 'polled') this.polled = true;
      if (message.type !== 'reply') return;
      this.onReply?.(message);
      this.waiting.get(message.chatId)?.shift()?.(message);
    });
  }

  static async start(): Promise<FakeApiProcess> {
    const child = fork('bench/fake-api-process.ts', { execArgv: ['--import', 'tsx'], env: { ...process.env, NODE_ENV: 'production' } });
    const ready = await new Promise<Extract<FakeApiOut, { type: 'ready' }>>((resolve, reject) => {
      child.once('message', (message: FakeApiOut) =>
        message.type === 'ready' ? resolve(message) : reject(new BenchFailure('fake API: unexpected first message')),
      );
      child.once('exit', (code) => reject(new BenchFailure(`fake API process exited with ${code}`)));
    });
    return new FakeApiProcess(child, ready);
  }

  /** For startBotProcess: true once a bot has polled after this was first called. */
  hasPolled(): boolean {
    if (!this.polled) this.post({ type: 'watchPoll' });
    return this.polled;
  }

  send(userId: number, text: string): void {
    this.post({ type: 'send', userId, text });
  }

  /** Sends and resolves with the reply to this chat (the chat's next one). */
  ask(userId: number, text: string, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new BenchFailure(`no reply to user ${userId} within ${timeoutMs} ms`)), timeoutMs);
      const queue = this.waiting.get(userId) ?? [];
      this.waiting.set(userId, queue);
      queue.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.send(userId, text);
    });
  }

  stop(): void {
    this.child.disconnect();
  }

  private post(message: FakeApiIn): void {
    this.child.send(message);
  }
}

/** Throws a BenchFailure unless the reply is the expected one. */
export function checkReply(reply: Reply, expected: RegExp | string): void {
  const good = reply.ok && (typeof expected === 'string' ? reply.text === expected : expected.test(reply.text));
  if (!good) throw new BenchFailure(`wrong reply to ${reply.chatId}: ${JSON.stringify(reply.text.slice(0, 120))}`);
}

/** Each user sends `text` `taps` times, the next when the last was answered: latencies as the fake saw them. */
export async function closedLoop(fake: FakeApiProcess, userIds: readonly number[], taps: number, text: string, expected: RegExp | string, timeoutMs: number) {
  const latencies: number[] = [];
  await Promise.all(
    userIds.map(async (id) => {
      for (let i = 0; i < taps; i++) {
        const reply = await fake.ask(id, text, timeoutMs);
        checkReply(reply, expected);
        latencies.push(reply.latencyMs);
      }
    }),
  );
  return { sent: userIds.length * taps, latencies };
}
