import fc from 'fast-check';
import { DomainError } from '../../src/domain/errors.js';
import type { CreditCommand, DebitCommand, LedgerCommand } from '../../src/domain/ledger/types.js';
import type { LedgerRepository } from '../../src/domain/ports.js';

/**
 * Random command sequences for the ledger's property tests (test/unit/ledger-properties and
 * test/db/ledger-properties): credits into lots with a few expiry dates, plain and capped debits,
 * and replays of earlier commands under their original key, all on one member.
 */
export type LedgerStep =
  | { op: 'credit'; type: CreditCommand['type']; amount: number; expiry: number | null }
  | { op: 'debit'; type: DebitCommand['type']; amount: number; upToBalance: boolean }
  /** Posts the `pick % n`-th earlier command again, same key: a retry after a timeout. */
  | { op: 'replay'; pick: number };

// Few distinct dates, so that lots often share one and the id tie-break matters too. Far in the
// future, so that no adapter could treat a lot as expired.
const EXPIRY_DATES = [new Date('2030-01-01T00:00:00Z'), new Date('2030-02-01T00:00:00Z'), new Date('2030-03-01T00:00:00Z')];

// Amounts of the same order as balances, so that debits are refused and capped often enough.
const amount = fc.integer({ min: 1, max: 300 });

export const ledgerStep: fc.Arbitrary<LedgerStep> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('credit' as const),
      type: fc.constantFrom('EARN', 'BONUS', 'REFUND', 'ADJUST'),
      amount,
      expiry: fc.option(fc.nat({ max: EXPIRY_DATES.length - 1 }), { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('debit' as const),
      type: fc.constantFrom('SPEND', 'REVERSE', 'ADJUST', 'EXPIRE', 'CLOSE'),
      amount,
      upToBalance: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replay' as const), pick: fc.nat() }) },
);

/** What one step did, in adapter-neutral terms (entry ids differ between adapters). */
export type StepOutcome = { outcome: 'written' | 'replayed'; amount: number; balanceAfter: number } | { outcome: 'refused'; code: string };

/**
 * Runs the steps against `ledger` for `memberId`, checking each result against a model of the
 * balance that knows nothing of lots: a credit adds, a debit takes its amount (or, capped, what
 * there is), a plain debit beyond the balance is refused, a replay of a written command returns
 * that command's entry. Throws on the first disagreement; returns every step's outcome.
 * `afterStep` runs after each step (invariant checks that should name the first bad step).
 */
export async function runLedgerSteps(
  ledger: LedgerRepository,
  memberId: number,
  steps: readonly LedgerStep[],
  keyPrefix: string,
  afterStep: () => Promise<void> = async () => {},
): Promise<StepOutcome[]> {
  const commands: LedgerCommand[] = [];
  const firstEntry = new Map<string, { id: number; amount: number }>();
  const outcomes: StepOutcome[] = [];
  let balance = 0;
  for (const step of steps) {
    await runStep(step);
    await afterStep();
  }
  return outcomes;

  async function runStep(step: LedgerStep): Promise<void> {
    let command: LedgerCommand;
    if (step.op === 'replay') {
      if (commands.length === 0) return;
      command = commands[step.pick % commands.length] as LedgerCommand;
    } else {
      const base = { memberId, amount: step.amount, idempotencyKey: `${keyPrefix}:${commands.length}`, actor: { type: 'SYSTEM' as const } };
      command =
        step.op === 'credit'
          ? { ...base, kind: 'credit', type: step.type, expiresAt: step.expiry === null ? null : (EXPIRY_DATES[step.expiry] as Date) }
          : { ...base, kind: 'debit', type: step.type, upToBalance: step.upToBalance };
      commands.push(command);
    }
    const first = firstEntry.get(command.idempotencyKey);
    try {
      const { entry, replayed } = await ledger.post(command);
      if (first) {
        expectTrue(
          replayed && entry.id === first.id && entry.amount === first.amount,
          `replay of ${command.idempotencyKey} returned entry ${entry.id}, first was ${first.id}`,
        );
        outcomes.push({ outcome: 'replayed', amount: entry.amount, balanceAfter: entry.balanceAfter });
        return;
      }
      expectTrue(!replayed, `first post of ${command.idempotencyKey} reported as a replay`);
      const take = command.kind === 'credit' ? command.amount : command.upToBalance ? Math.min(command.amount, balance) : command.amount;
      expectTrue(command.kind === 'credit' || take <= balance, `debit of ${take} written against a balance of ${balance}`);
      balance += command.kind === 'credit' ? take : -take;
      expectTrue(entry.amount === (command.kind === 'credit' ? take : -take), `entry amount ${entry.amount}, expected ${take}`);
      expectTrue(entry.balanceAfter === balance, `balanceAfter ${entry.balanceAfter}, expected ${balance}`);
      firstEntry.set(command.idempotencyKey, { id: entry.id, amount: entry.amount });
      outcomes.push({ outcome: 'written', amount: entry.amount, balanceAfter: entry.balanceAfter });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // Only a plain debit beyond the balance may be refused, and a refusal writes nothing.
      const overdraw = command.kind === 'debit' && !command.upToBalance && command.amount > balance && !first;
      expectTrue(overdraw, `${command.idempotencyKey} refused with ${error.code} (balance ${balance})`);
      outcomes.push({ outcome: 'refused', code: error.code });
    }
  }
}

function expectTrue(condition: boolean, message: string): void {
  if (!condition) throw new Error(`ledger property: ${message}`);
}
