import { spawn } from 'node:child_process';
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
 */
export async function seedFillerMembers(db: RawSql, count: number, firstTelegramId: number): Promise<void> {
  if (count <= 0) return;
  await db.$executeRawUnsafe(
    `INSERT INTO "Member" ("telegramId", code, locale, status, "registrationStep", name, tier, balance, "registeredAt", "createdAt", "updatedAt")
     SELECT $1::bigint + g, 'F' || lpad(g::text, 10, '0'), 'en', 'ACTIVE', NULL, 'Filler', 'basic', 1, now(), now(), now()
     FROM generate_series(0, $2::int - 1) g`,
    firstTelegramId,
    count,
  );
  await db.$executeRawUnsafe(
    `WITH e AS (
       INSERT INTO "LedgerEntry" ("memberId", type, amount, "balanceAfter", "idempotencyKey", "actorType", "createdAt")
       SELECT id, 'BONUS', 1, 1, 'bench-filler:' || id, 'SYSTEM', now() - interval '1 day' FROM "Member" WHERE code LIKE 'F%' AND name = 'Filler'
       RETURNING id, "memberId", "createdAt"
     )
     INSERT INTO "PointLot" ("memberId", "entryId", amount, remaining, "expiresAt", "createdAt")
     SELECT e."memberId", e.id, 1, 1, e."createdAt" + interval '365 days', e."createdAt" FROM e`,
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
