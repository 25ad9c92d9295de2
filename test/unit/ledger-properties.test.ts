import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ledgerStep, runLedgerSteps } from '../support/ledger-steps.js';
import { MemoryStore } from '../support/memory.js';

/**
 * The ledger's invariants under any command sequence, on the in-memory fake (which posts under
 * the domain's own rules, ledger/posting.ts): balance = sum of entries = sum of lot remainders,
 * never negative, every lot within 0..its amount, replays write nothing. The same sequences run
 * on PostgreSQL in test/db/ledger-properties.test.ts. A failure prints fast-check's seed and
 * path: pass them to fc.assert ({ seed, path }) to replay it.
 */

async function checkInvariants(store: MemoryStore, memberId: number): Promise<void> {
  const member = store.memberRows.get(memberId);
  const entries = store.entryRows.filter((e) => e.memberId === memberId);
  const lots = store.lotRows.filter((l) => l.memberId === memberId);
  expect(member?.balance).toBeGreaterThanOrEqual(0);
  expect(entries.reduce((sum, e) => sum + e.amount, 0)).toBe(member?.balance);
  expect(lots.reduce((sum, l) => sum + l.remaining, 0)).toBe(member?.balance);
  for (const lot of lots) {
    expect(lot.remaining).toBeGreaterThanOrEqual(0);
    expect(lot.remaining).toBeLessThanOrEqual(lot.amount);
  }
  // One entry per key: replays wrote nothing.
  expect(new Set(entries.map((e) => e.idempotencyKey)).size).toBe(entries.length);
}

async function memberIn(store: MemoryStore): Promise<number> {
  const member = await store.members.create({ telegramId: 1, code: 'AAAA', locale: 'en', name: null, startPayload: null });
  return (member as { id: number }).id;
}

describe('the ledger (in memory, under the domain posting rules)', () => {
  it('keeps balance = entries = lot remainders >= 0 after every step of any credit/debit/replay sequence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ledgerStep, { maxLength: 40 }), async (steps) => {
        const store = new MemoryStore();
        const memberId = await memberIn(store);
        // Checked after every step, so that a failure names the first step that broke one.
        await runLedgerSteps(store.ledger, memberId, steps, 'k', () => checkInvariants(store, memberId));
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with a model of the balance, replays included, and a capped debit of everything empties every lot', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ledgerStep, { maxLength: 40 }), async (steps) => {
        const store = new MemoryStore();
        const memberId = await memberIn(store);
        await runLedgerSteps(store.ledger, memberId, steps, 'k');
        await checkInvariants(store, memberId);
        await store.ledger.post({
          kind: 'debit',
          type: 'CLOSE',
          memberId,
          amount: 1_000_000,
          upToBalance: true,
          idempotencyKey: 'close',
          actor: { type: 'SYSTEM' },
        });
        expect(store.lotRows.every((lot) => lot.remaining === 0)).toBe(true);
        await checkInvariants(store, memberId);
      }),
      { numRuns: 200 },
    );
  });
});
