import { Prisma } from '../generated/prisma/client.js';

/** A unique-constraint violation, optionally on a given column. */
export const isUniqueViolation = (error: unknown, field?: string): boolean =>
  error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002' && (field === undefined || JSON.stringify(error.meta ?? {}).includes(field));

/**
 * The SQLSTATE of a failed raw query (P2010), e.g. one a function raised on purpose. Driver
 * adapters put it under meta.driverAdapterError.cause; Prisma's message also names it.
 */
export function sqlStateOf(error: unknown): string | undefined {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return undefined;
  const cause = (error.meta?.driverAdapterError as { cause?: { originalCode?: unknown; code?: unknown } } | undefined)?.cause;
  const code = cause?.originalCode ?? cause?.code;
  if (typeof code === 'string') return code;
  return /Code: `(\w{5})`/.exec(error.message)?.[1];
}
