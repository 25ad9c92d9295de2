import { createHash, randomBytes } from 'node:crypto';
import { DomainError } from '../errors.js';
import type { ApiKeyRecord, DomainDeps } from '../ports.js';
import { type AdminDeps, requireRole } from './access.js';

/**
 * API keys for tills and CRMs. The key is shown once, at creation; only its SHA-256 is stored
 * (a key is 192 random bits, so a fast hash is enough: there is nothing to brute-force).
 */
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

export async function createApiKey(
  deps: DomainDeps,
  adminTelegramId: number,
  input: { name: string; storeCode: string | null },
): Promise<{ key: string; record: ApiKeyRecord }> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  const name = input.name.trim();
  if (!name || name.length > 64) throw new DomainError('NAME_INVALID', { field: 'name', max: 64 });
  const store = input.storeCode ? await deps.repos.stores.findByCode(input.storeCode) : null;
  if (input.storeCode && !store) throw new DomainError('STORE_NOT_FOUND', { store: input.storeCode });
  const { key, prefix, hash } = newKey();
  const record = await deps.repos.apiKeys.create({ name, prefix, hash, storeId: store?.id ?? null, createdBy: adminTelegramId, createdAt: deps.clock.now() });
  await deps.repos.audit.record({
    actor: { type: 'ADMIN', id: String(adminTelegramId) },
    action: 'apikey.created',
    subject: `apikey:${record.id}`,
    details: { name, prefix, store: store?.code ?? null },
  });
  return { key, record };
}

function newKey() {
  const prefix = randomBytes(4).toString('hex');
  const key = `lk_${prefix}_${randomBytes(24).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/** lastUsedAt is written at most this often per key: a till sending 20 requests a second costs one write a minute. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * The key's record if the key is known and not revoked; null otherwise. `findByHash` is the
 * lookup to use: the repository's by default (a revoked key is refused from the next request
 * on), or the till API's cached one when API_LOOKUP_CACHE_MS is set (src/http/api/lookup-cache.ts).
 */
export async function authenticateApiKey(
  deps: DomainDeps,
  key: string,
  findByHash: (hash: string) => Promise<ApiKeyRecord | null> = (hash) => deps.repos.apiKeys.findByHash(hash),
): Promise<ApiKeyRecord | null> {
  if (!/^lk_[0-9a-f]{8}_[A-Za-z0-9_-]{32}$/.test(key)) return null;
  const record = await findByHash(hashApiKey(key));
  if (!record || record.revokedAt) return null;
  const now = deps.clock.now();
  const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
  if (!record.lastUsedAt || record.lastUsedAt < staleBefore) {
    await deps.repos.apiKeys.touch(record.id, now, staleBefore);
    // The record may be a cached one (lookup-cache.ts): it remembers the touch, so that the
    // requests within the cache's TTL do not each write again (a round trip per request).
    record.lastUsedAt = now;
  }
  return record;
}

export async function listApiKeys(deps: AdminDeps<'apiKeys'>, adminTelegramId: number) {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  return deps.repos.apiKeys.list();
}

/** A key that may still be revoked or rotated (admins only); null when unknown or revoked already. */
export async function findActiveApiKey(deps: AdminDeps<'apiKeys'>, adminTelegramId: number, id: number): Promise<ApiKeyRecord | null> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  const record = await deps.repos.apiKeys.findById(id);
  return record && !record.revokedAt ? record : null;
}

/** Revokes the key at once (authentication reads the database every request). */
export async function revokeApiKey(deps: DomainDeps, adminTelegramId: number, id: number): Promise<{ record: ApiKeyRecord; revoked: boolean }> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  return deps.uow.run(async (repos) => {
    const record = await repos.apiKeys.findById(id);
    if (!record) throw new DomainError('API_KEY_NOT_FOUND', { id });
    const revoked = await repos.apiKeys.revoke(id, deps.clock.now());
    if (revoked) await repos.audit.record({ actor: { type: 'ADMIN', id: String(adminTelegramId) }, action: 'apikey.revoked', subject: `apikey:${id}` });
    return { record, revoked };
  });
}

/**
 * A new secret for the same till: a new key with the old one's name and store is created and the
 * old one revoked, in one transaction (a double tap finds the old key revoked and creates nothing).
 */
export async function rotateApiKey(
  deps: DomainDeps,
  adminTelegramId: number,
  id: number,
): Promise<{ key: string; record: ApiKeyRecord; previous: ApiKeyRecord }> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  const { key, prefix, hash } = newKey();
  return deps.uow.run(async (repos) => {
    const previous = await repos.apiKeys.findById(id);
    if (!previous) throw new DomainError('API_KEY_NOT_FOUND', { id });
    if (!(await repos.apiKeys.revoke(id, deps.clock.now()))) throw new DomainError('API_KEY_NOT_FOUND', { id, revoked: true });
    const record = await repos.apiKeys.create({
      name: previous.name,
      prefix,
      hash,
      storeId: previous.storeId,
      createdBy: adminTelegramId,
      createdAt: deps.clock.now(),
    });
    await repos.audit.record({
      actor: { type: 'ADMIN', id: String(adminTelegramId) },
      action: 'apikey.rotated',
      subject: `apikey:${id}`,
      details: { newKeyId: record.id, prefix },
    });
    return { key, record, previous };
  });
}
