import type { Qualification } from '../domain/ports.js';
import { Prisma } from '../generated/prisma/client.js';
import { tsOrNull } from './sql.js';

/**
 * What counts toward a tier, as one scalar expression (bigint): purchases minus returns, or
 * points credited by EARN minus REVERSE, since `since`. Written once in SQL, as the
 * `qualifying_total` function (prisma/migrations/20261124020000_record_purchase): the Balance
 * screen, a return's tier re-evaluation and the purchase's plan and its execution all use it.
 */
export function qualifyingTotalSql(memberId: number, { metric, since }: Qualification): Prisma.Sql {
  return Prisma.sql`qualifying_total(${memberId}::int, ${metric}::text, ${tsOrNull(since)})`;
}
