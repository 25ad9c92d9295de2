import type { Qualification } from '../domain/ports.js';
import { Prisma } from '../generated/prisma/client.js';
import { ts } from './sql.js';

/**
 * What counts toward a tier, as one scalar subquery (bigint): purchases minus returns, or
 * points credited by EARN minus REVERSE, since `since`. The one place this is written in SQL:
 * the tier re-evaluation after a purchase and the Balance screen both use it.
 */
export function qualifyingTotalSql(memberId: number, { metric, since }: Qualification): Prisma.Sql {
  if (metric === 'spend') {
    return Prisma.sql`(SELECT COALESCE(SUM(p."amountMinor" - p."returnedMinor"), 0)::bigint FROM "Purchase" p
      WHERE p."memberId" = ${memberId}${since ? Prisma.sql` AND p."createdAt" >= ${ts(since)}` : Prisma.empty})`;
  }
  return Prisma.sql`(SELECT COALESCE(SUM(e.amount), 0)::bigint FROM "LedgerEntry" e
    WHERE e."memberId" = ${memberId} AND e.type IN ('EARN', 'REVERSE')${since ? Prisma.sql` AND e."createdAt" >= ${ts(since)}` : Prisma.empty})`;
}
