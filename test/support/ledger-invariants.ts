import type { PrismaClient } from '../../src/generated/prisma/client.js';

/**
 * The ledger's invariants as SQL, so that tests and the benchmark can check a whole database
 * after any amount of concurrent work without trusting the code that wrote it:
 *
 *   balance = SUM(entries) = SUM(lot remainders) = the last entry's balanceAfter, never negative;
 *   every entry moves the lots by exactly its amount (a credit opens a lot of that size, a debit
 *   draws -amount through its allocations); every lot's remainder is its amount minus what was
 *   drawn from it; nothing crosses from one member to another.
 *
 * Each check is a query that yields one human-readable line per violation. The running-balance
 * check orders a member's entries by id: the repository locks the member row before it inserts,
 * so ids of one member's entries follow commit order.
 */
const CHECKS: readonly { name: string; sql: string }[] = [
  {
    name: 'negative balance',
    sql: `SELECT format('member %s: balance %s is negative', id, balance) AS violation
          FROM "Member" WHERE balance < 0`,
  },
  {
    name: 'balance vs entries',
    sql: `SELECT format('member %s: balance %s but its entries sum to %s', m.id, m.balance, COALESCE(e.total, 0)) AS violation
          FROM "Member" m
          LEFT JOIN (SELECT "memberId", SUM(amount) AS total FROM "LedgerEntry" GROUP BY "memberId") e ON e."memberId" = m.id
          WHERE m.balance <> COALESCE(e.total, 0)`,
  },
  {
    name: 'balance vs lots',
    sql: `SELECT format('member %s: balance %s but its lots hold %s', m.id, m.balance, COALESCE(l.total, 0)) AS violation
          FROM "Member" m
          LEFT JOIN (SELECT "memberId", SUM(remaining) AS total FROM "PointLot" GROUP BY "memberId") l ON l."memberId" = m.id
          WHERE m.balance <> COALESCE(l.total, 0)`,
  },
  {
    name: 'last balanceAfter',
    sql: `SELECT format('member %s: balance %s but its last entry %s has balanceAfter %s', m.id, m.balance, last.id, last."balanceAfter") AS violation
          FROM "Member" m
          JOIN LATERAL (SELECT id, "balanceAfter" FROM "LedgerEntry" WHERE "memberId" = m.id ORDER BY id DESC LIMIT 1) last ON true
          WHERE last."balanceAfter" <> m.balance`,
  },
  {
    name: 'running balance',
    sql: `SELECT format('entry %s of member %s: balanceAfter %s but the running total is %s', id, "memberId", "balanceAfter", running) AS violation
          FROM (SELECT id, "memberId", "balanceAfter", SUM(amount) OVER (PARTITION BY "memberId" ORDER BY id) AS running FROM "LedgerEntry") s
          WHERE "balanceAfter" <> running`,
  },
  {
    name: 'lot bounds',
    sql: `SELECT format('lot %s: remaining %s outside 0..%s', id, remaining, amount) AS violation
          FROM "PointLot" WHERE amount <= 0 OR remaining < 0 OR remaining > amount`,
  },
  {
    name: 'lot vs its allocations',
    sql: `SELECT format('lot %s: remaining %s but amount %s minus allocations %s is %s', l.id, l.remaining, l.amount, COALESCE(a.drawn, 0), l.amount - COALESCE(a.drawn, 0)) AS violation
          FROM "PointLot" l
          LEFT JOIN (SELECT "lotId", SUM(amount) AS drawn FROM "LotAllocation" GROUP BY "lotId") a ON a."lotId" = l.id
          WHERE l.remaining <> l.amount - COALESCE(a.drawn, 0)`,
  },
  {
    name: 'lot belongs to a credit of the same size',
    sql: `SELECT format('lot %s (amount %s, member %s) comes from entry %s (%s %s, member %s)', l.id, l.amount, l."memberId", e.id, e.type, e.amount, e."memberId") AS violation
          FROM "PointLot" l JOIN "LedgerEntry" e ON e.id = l."entryId"
          WHERE e.amount <> l.amount OR e."memberId" <> l."memberId"`,
  },
  {
    name: 'debit allocations',
    sql: `SELECT format('debit entry %s (%s %s): allocations sum to %s, expected %s', e.id, e.type, e.amount, COALESCE(a.drawn, 0), -e.amount) AS violation
          FROM "LedgerEntry" e
          LEFT JOIN (SELECT "entryId", SUM(amount) AS drawn FROM "LotAllocation" GROUP BY "entryId") a ON a."entryId" = e.id
          WHERE e.amount <= 0 AND COALESCE(a.drawn, 0) <> -e.amount`,
  },
  {
    // A credit either opens a lot or gives points back to existing lots (negative allocations).
    name: 'credit moves its lots',
    sql: `SELECT format('credit entry %s (%s %s): its lot adds %s and its allocations give back %s', e.id, e.type, e.amount, COALESCE(l.amount, 0), -COALESCE(a.drawn, 0)) AS violation
          FROM "LedgerEntry" e
          LEFT JOIN "PointLot" l ON l."entryId" = e.id
          LEFT JOIN (SELECT "entryId", SUM(amount) AS drawn FROM "LotAllocation" GROUP BY "entryId") a ON a."entryId" = e.id
          WHERE e.amount > 0 AND COALESCE(l.amount, 0) - COALESCE(a.drawn, 0) <> e.amount`,
  },
  {
    name: 'allocation direction and owner',
    sql: `SELECT format('allocation of entry %s (%s %s, member %s) on lot %s (member %s): amount %s', e.id, e.type, e.amount, e."memberId", l.id, l."memberId", a.amount) AS violation
          FROM "LotAllocation" a JOIN "LedgerEntry" e ON e.id = a."entryId" JOIN "PointLot" l ON l.id = a."lotId"
          WHERE a.amount = 0 OR e."memberId" <> l."memberId" OR (e.amount < 0 AND a.amount < 0) OR (e.amount > 0 AND a.amount > 0) OR e.amount = 0`,
  },
];

/** Anything that runs raw SQL: the root client or an open transaction. */
export type RawSql = Pick<PrismaClient, '$queryRawUnsafe'>;

/**
 * Every broken ledger invariant in the database, one line each (at most `limitPerCheck` lines
 * per check, then a count of the rest); empty when all hold.
 */
export async function ledgerViolations(prisma: RawSql, options: { limitPerCheck?: number } = {}): Promise<string[]> {
  const limit = options.limitPerCheck ?? 20;
  const violations: string[] = [];
  // One check at a time: inside a transaction the client cannot run queries in parallel.
  for (const check of CHECKS) {
    const rows = await prisma.$queryRawUnsafe<{ violation: string; total: number }[]>(
      `SELECT violation, (COUNT(*) OVER ())::int AS total FROM (${check.sql}) AS v LIMIT $1`,
      limit,
    );
    for (const row of rows) violations.push(`${check.name}: ${row.violation}`);
    const total = rows[0]?.total ?? 0;
    if (total > rows.length) violations.push(`${check.name}: ... and ${total - rows.length} more`);
  }
  return violations;
}
