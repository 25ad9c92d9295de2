import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { dbTest as test } from '../support/fixtures.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { ledgerStep, runLedgerSteps } from '../support/ledger-steps.js';
import { MemoryStore } from '../support/memory.js';

/**
 * The ledger property of test/unit/ledger-properties.test.ts on real PostgreSQL, through
 * PrismaLedgerRepository and `ledger_post`: any credit/debit/replay sequence keeps every
 * invariant the SQL checks know (balance = entries = lot remainders >= 0, allocations, ...),
 * and does exactly what the same sequence does on the in-memory fake under the domain's posting
 * rules, lot by lot. Fewer runs than in memory: each step is a round trip.
 */
describe('the ledger on PostgreSQL, under random command sequences', () => {
  test('keeps every invariant and agrees with the domain posting rules step by step and lot by lot', async ({ db, h }) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(ledgerStep, { maxLength: 25 }), async (steps) => {
        run += 1;
        // A member per run: runs (and fast-check's shrinking) never see each other's lots.
        const member = await h.member(900_000 + run);
        const onPostgres = await runLedgerSteps(h.deps.repos.ledger, member.id, steps, `prop${run}`);

        const memory = new MemoryStore();
        const twin = await memory.members.create({ telegramId: 1, code: 'AAAA', locale: 'en', name: null, startPayload: null });
        const inMemory = await runLedgerSteps(memory.ledger, twin?.id as number, steps, `prop${run}`);
        expect(onPostgres).toEqual(inMemory);

        const lots = await db.prisma.pointLot.findMany({ where: { memberId: member.id }, orderBy: { id: 'asc' } });
        expect(lots.map((lot) => lot.remaining)).toEqual(memory.lotRows.map((lot) => lot.remaining));
        expect(await ledgerViolations(db.prisma)).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });
});
