import { createHash, randomBytes } from 'node:crypto';
import { DomainError } from '../errors.js';
import type { ApiKeyRecord, DomainDeps } from '../ports.js';
import { requireRole } from './access.js';

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
  const prefix = randomBytes(4).toString('hex');
  const key = `lk_${prefix}_${randomBytes(24).toString('base64url')}`;
  const record = await deps.repos.apiKeys.create({ name, prefix, hash: hashApiKey(key), storeId: store?.id ?? null });
  await deps.repos.audit.record({
    actor: { type: 'ADMIN', id: String(adminTelegramId) },
    action: 'apikey.created',
    subject: `apikey:${record.id}`,
    details: { name, prefix, store: store?.code ?? null },
  });
  return { key, record };
}

/**
 * The key's record if the key is known and not revoked; null otherwise. `findByHash` is the
 * lookup to use: the repository's by default, the till API's cached one (src/http/api/lookup-cache.ts).
 */
export async function authenticateApiKey(
  deps: DomainDeps,
  key: string,
  findByHash: (hash: string) => Promise<ApiKeyRecord | null> = (hash) => deps.repos.apiKeys.findByHash(hash),
): Promise<ApiKeyRecord | null> {
  if (!/^lk_[0-9a-f]{8}_[A-Za-z0-9_-]{32}$/.test(key)) return null;
  const record = await findByHash(hashApiKey(key));
  return record && !record.revokedAt ? record : null;
}
