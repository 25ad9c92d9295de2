import { createHmac } from 'node:crypto';
import type { DomainDeps } from '../ports.js';
import type { RewardTake } from './member.js';

/**
 * Erasure keeps a pseudonymous fingerprint of the person, and nothing else that identifies them:
 * a keyed HMAC-SHA256 of the Telegram id and of the verified phone. Without the server's secret
 * (FINGERPRINT_SECRET) a digest cannot be reversed, nor tested against guessed phone numbers;
 * with it, a later registration of the same Telegram account or the same phone is recognised as
 * a returning person, who gets no one-time reward again (welcome bonus, referral, tasks already
 * rewarded) and whose per-member reward limits still count the erased account's takes.
 * The lawful basis is fraud prevention; the rows are purged after `retentionDays`.
 */

export type FingerprintKind = 'telegram' | 'phone';

export interface Fingerprints {
  /** The keyed digest of a Telegram id or an E.164 phone (hex). */
  digest(kind: FingerprintKind, value: string): string;
  /** How long erasure fingerprints are kept (FINGERPRINT_RETENTION_DAYS). */
  retentionDays: number;
}

export function keyedFingerprints(secret: string, retentionDays: number): Fingerprints {
  if (secret.length < 32) throw new Error('the fingerprint secret must have at least 32 characters');
  return {
    // The kind is part of the hashed input: a phone's digest never equals a Telegram id's.
    digest: (kind, value) => createHmac('sha256', secret).update(`${kind}:${value}`).digest('hex'),
    retentionDays,
  };
}

/** A task reward already paid, as an erased account's history keeps it. */
export interface TaskRewarded {
  task: string;
  period: string;
}

export interface ErasedIdentity {
  id: number;
  telegramDigest: string;
  phoneDigest: string | null;
  erasedAt: Date;
  rewardTakes: RewardTake[];
  tasksRewarded: TaskRewarded[];
}

export interface ErasedIdentityRepository {
  record(value: Omit<ErasedIdentity, 'id'>): Promise<void>;
  /** Every kept fingerprint matching the Telegram digest or (when given) the phone digest. */
  findMatching(digests: { telegram: string; phone: string | null }): Promise<ErasedIdentity[]>;
  /** Deletes the fingerprints of erasures before `cutoff`; returns how many. */
  purgeErasedBefore(cutoff: Date): Promise<number>;
}

/** The digests of a person: the Telegram id always, the phone only when it is verified. */
export function digestsOf(fingerprints: Fingerprints, person: { telegramId: number; phone: string | null; phoneVerified: boolean }) {
  return {
    telegram: fingerprints.digest('telegram', String(person.telegramId)),
    // A typed (unverified) phone may be someone else's: it neither marks nor matches anyone.
    phone: person.phone && person.phoneVerified ? fingerprints.digest('phone', person.phone) : null,
  };
}

const DAY_MS = 86_400_000;

/** The scheduled purge: fingerprints older than the retention period go. Idempotent. */
export async function purgeFingerprints(deps: DomainDeps): Promise<{ purged: number }> {
  const cutoff = new Date(deps.clock.now().getTime() - deps.fingerprints.retentionDays * DAY_MS);
  return { purged: await deps.repos.erasedIdentities.purgeErasedBefore(cutoff) };
}
