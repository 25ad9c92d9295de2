import pg from 'pg';
import { Prisma } from '../generated/prisma/client.js';

/** A unique-constraint violation, optionally on a given column. */
export const isUniqueViolation = (error: unknown, field?: string): boolean =>
  error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002' && (field === undefined || JSON.stringify(error.meta ?? {}).includes(field));

/**
 * The SQLSTATE of a failed raw query (P2010), e.g. one a function raised on purpose. Driver
 * adapters put it under meta.driverAdapterError.cause; Prisma's message also names it. A hot
 * statement run on the pool itself (hot-sql.ts) fails with pg's own error.
 */
export function sqlStateOf(error: unknown): string | undefined {
  if (error instanceof pg.DatabaseError) return error.code;
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return undefined;
  const cause = (error.meta?.driverAdapterError as { cause?: { originalCode?: unknown; code?: unknown } } | undefined)?.cause;
  const code = cause?.originalCode ?? cause?.code;
  if (typeof code === 'string') return code;
  return /Code: `(\w{5})`/.exec(error.message)?.[1];
}

// Prisma: can't reach / timed out / server closed the connection / pool timeout.
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
// The driver adapter's kinds for the same (see @prisma/adapter-pg convertDriverError).
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
// PostgreSQL: connection exceptions (08xxx), shutting down (57P01-57P03), too many connections.
const SQLSTATES = /^(08...|57P0[123]|53300)$/;
// Node sockets.
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// node-postgres says these in words only.
const PG_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

/**
 * The database cannot be reached or dropped the connection (down, restarting, unreachable, out of
 * connections), as opposed to refusing this query. Such a failure is worth retrying later; the
 * transports say so (HTTP 503 + Retry-After, a "try again in a minute" in the chat) instead of
 * reporting a bug. The one place that knows the drivers' ways of saying it: Prisma's codes, the
 * driver adapter's kinds, SQLSTATEs, socket codes and node-postgres' messages, anywhere along
 * the error's causes.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    if (current instanceof Prisma.PrismaClientInitializationError) return true;
    const { code, kind, originalCode, message, cause, meta } = current as Record<string, unknown>;
    if (typeof code === 'string' && (PRISMA_CODES.has(code) || SOCKET_CODES.has(code) || SQLSTATES.test(code))) return true;
    if (typeof originalCode === 'string' && SQLSTATES.test(originalCode)) return true;
    if (typeof kind === 'string' && ADAPTER_KINDS.has(kind)) return true;
    if (typeof message === 'string' && PG_MESSAGES.test(message)) return true;
    pending.push(cause, (meta as Record<string, unknown> | undefined)?.driverAdapterError);
    if (current instanceof AggregateError) pending.push(...current.errors);
  }
  return false;
}
