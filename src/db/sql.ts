import { Prisma } from '../generated/prisma/client.js';

/**
 * Timestamps are stored as `timestamp(3)` in UTC (Prisma's convention). Parameters are passed
 * as UTC text and cast, so that no comparison depends on the session's time zone.
 */
export const ts = (date: Date) => Prisma.sql`${date.toISOString().replace('T', ' ').replace('Z', '')}::timestamp`;

/** `ts` for a nullable timestamp. */
export const tsOrNull = (date: Date | null) => (date ? ts(date) : Prisma.sql`NULL::timestamp`);
