export type EntryType = 'EARN' | 'BONUS' | 'SPEND' | 'REFUND' | 'REVERSE' | 'ADJUST' | 'EXPIRE' | 'CLOSE' | 'DONATION';
export type ActorType = 'MEMBER' | 'STAFF' | 'TILL' | 'JOB' | 'ADMIN' | 'SYSTEM';

/** Who or what caused an entry. `id` is a staff/till/job identifier, never personal data. */
export interface Actor {
  type: ActorType;
  id?: string | null;
}

interface CommandBase {
  memberId: number;
  /** Positive; the direction comes from the command kind. */
  amount: number;
  /** Replaying a key returns the first result and writes nothing. */
  idempotencyKey: string;
  actor: Actor;
  reason?: string | null;
  storeId?: number | null;
  purchaseId?: number | null;
}

/** Adds points as a new lot that expires at `expiresAt` (null: never). */
export interface CreditCommand extends CommandBase {
  kind: 'credit';
  type: 'EARN' | 'BONUS' | 'REFUND' | 'ADJUST';
  expiresAt: Date | null;
}

/**
 * Takes points from the oldest-expiring lots. Refused when the balance is short, unless
 * `upToBalance` is set (returns, account closure): then it takes what there is, possibly 0.
 */
export interface DebitCommand extends CommandBase {
  kind: 'debit';
  type: 'SPEND' | 'REVERSE' | 'ADJUST' | 'EXPIRE' | 'CLOSE' | 'DONATION';
  upToBalance?: boolean;
}

export type LedgerCommand = CreditCommand | DebitCommand;

export interface LedgerEntry {
  id: number;
  memberId: number;
  type: EntryType;
  /** Signed: positive credits, negative debits. */
  amount: number;
  balanceAfter: number;
  idempotencyKey: string;
  actorType: ActorType;
  actorId: string | null;
  reason: string | null;
  storeId: number | null;
  storeName?: string | null;
  purchaseId: number | null;
  createdAt: Date;
  /** In the history: what the tier discount saved on the purchase this entry belongs to (shown once per purchase). */
  savingMinor?: number | null;
}

export interface PostResult {
  entry: LedgerEntry;
  /** True when the key had been used before and nothing was written now. */
  replayed: boolean;
}

export interface OpenLot {
  id: number;
  remaining: number;
  expiresAt: Date | null;
}

export interface LotAllocation {
  lotId: number;
  amount: number;
}
