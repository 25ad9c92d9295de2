import { Prisma } from '../generated/prisma/client.js';

/** A unique-constraint violation, optionally on a given column. */
export const isUniqueViolation = (error: unknown, field?: string): boolean =>
  error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002' && (field === undefined || JSON.stringify(error.meta ?? {}).includes(field));
