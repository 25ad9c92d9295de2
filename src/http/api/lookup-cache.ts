import type { ApiKeyRecord, DomainDeps, Store } from '../../domain/ports.js';
import type { LookupGuard } from './lookup-limit.js';

/**
 * How long the till API may trust what it read about an API key or a store (issue 12). Every
 * till request needs both, and they change rarely, so a few seconds in process memory save two
 * of a purchase's round trips. The price is staleness, bounded by the TTL: a revoked key is
 * still accepted for at most `ttlMs` after the revocation (per process), a renamed or closed
 * store is seen within `ttlMs`. Correctness does not rest on it: a purchase re-checks that its
 * store is active in the same statement that records it. Misses (unknown key, unknown store)
 * are not cached, so a new key or store works at once. Members are never cached: their balance
 * and status change with every purchase.
 */
export interface LookupCacheOptions {
  /** 0 turns the cache off. */
  ttlMs: number;
  /** Milliseconds, for the TTL only (not a rule's time): injectable so a test can step past the TTL. */
  now?: () => number;
}

/** Keys are bounded by the keys and stores that exist; the cap only guards against a flood. */
const MAX_ENTRIES = 10_000;

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly now: () => number;

  constructor(
    private readonly ttlMs: number,
    now: () => number = Date.now,
  ) {
    this.now = now;
  }

  /** The cached value, or what `load` finds (cached only when found). */
  async get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const hit = this.entries.get(key);
    const now = this.now();
    if (hit && hit.until > now) return hit.value;
    if (hit) this.entries.delete(key);
    const value = await load();
    if (value !== null && this.ttlMs > 0) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, { value, until: now + this.ttlMs });
    }
    return value;
  }
}

/**
 * Hashes of keys this process found valid: a key whose cache entry ran out is looked up again
 * without the lookup limit's two Redis calls (reserve, then give back), since that limit is for
 * made-up keys and these are not. A till that sends a request every few seconds misses the
 * cache on most of them, so this is most tills' path. A lookup that finds the key unknown or
 * revoked forgets it: at most one lookup per revoked key and process goes uncounted.
 */
class KnownKeys {
  private readonly hashes = new Set<string>();
  has(hash: string): boolean {
    return this.hashes.has(hash);
  }
  remember(hash: string, usable: boolean): void {
    if (!usable) {
      this.hashes.delete(hash);
      return;
    }
    if (this.hashes.size >= MAX_ENTRIES) this.hashes.clear();
    this.hashes.add(hash);
  }
}

/** The API key and store lookups of the till API, through one TTL cache each. */
export interface TillLookups {
  /** `guard`: what a cache miss must pass before the database is asked (lookup-limit.ts). */
  apiKeyByHash(hash: string, guard?: LookupGuard): Promise<ApiKeyRecord | null>;
  storeById(id: number): Promise<Store | null>;
  storeByCode(code: string): Promise<Store | null>;
}

export function tillLookups(deps: DomainDeps, options: LookupCacheOptions = { ttlMs: 0 }): TillLookups {
  const keys = new TtlCache<ApiKeyRecord>(options.ttlMs, options.now);
  const stores = new TtlCache<Store>(options.ttlMs, options.now);
  const known = new KnownKeys();
  const usable = (record: ApiKeyRecord | null) => record !== null && !record.revokedAt;
  return {
    apiKeyByHash: (hash, guard) =>
      keys.get(hash, async () => {
        const load = () => deps.repos.apiKeys.findByHash(hash);
        const record = guard && !known.has(hash) ? await guard(load, usable) : await load();
        known.remember(hash, usable(record));
        return record;
      }),
    storeById: (id) => stores.get(`id:${id}`, () => deps.repos.stores.findById(id)),
    storeByCode: (code) => stores.get(`code:${code}`, () => deps.repos.stores.findByCode(code)),
  };
}
