import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.js';
import type { Actor } from '../../domain/ledger/types.js';
import type { ApiKeyRecord, DomainDeps, Store } from '../../domain/ports.js';
import { authenticateApiKey } from '../../domain/staff/api-keys.js';
import type { TillLookups } from './lookup-cache.js';
import type { LookupGuard } from './lookup-limit.js';
import { ApiProblem, validationProblem } from './problems.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated API key; set by the `authenticate` hook on every /v1 business route. */
    apiKey: ApiKeyRecord | null;
  }
}

/** `Authorization: Bearer <key>`, or `X-Api-Key: <key>`. */
export function presentedKey(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1] ?? null;
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header.trim() : null;
}

const unauthorized = (detail: string) => new ApiProblem('UNAUTHORIZED', { detail, headers: { 'WWW-Authenticate': 'Bearer realm="loyalty"' } });

/**
 * An onRequest hook: 401 unless the request carries a known, unrevoked key. Keys are looked up
 * through `lookups`, which may trust a found key for a few seconds (lookup-cache.ts): a
 * revocation takes effect within that TTL. What the cache does not answer is looked up within
 * the client address's budget (`guardOf`, lookup-limit.ts): over it, 429 without a lookup.
 */
export function authenticate(deps: DomainDeps, lookups: TillLookups, guardOf?: (ip: string) => LookupGuard) {
  return async (request: FastifyRequest): Promise<void> => {
    const key = presentedKey(request);
    if (!key) throw unauthorized('Send the API key as "Authorization: Bearer <key>" or "X-Api-Key: <key>".');
    const guard = guardOf?.(request.ip);
    const record = await authenticateApiKey(deps, key, (hash) => lookups.apiKeyByHash(hash, guard));
    if (!record) throw unauthorized('The API key is not valid or has been revoked.');
    request.apiKey = record;
  };
}

export function requireKey(request: FastifyRequest): ApiKeyRecord {
  if (!request.apiKey) throw unauthorized('The API key is missing.');
  return request.apiKey;
}

/** Entries written through the API name the key (never a person). */
export const actorOfKey = (key: ApiKeyRecord): Actor => ({ type: 'TILL', id: `apikey:${key.id}` });

/**
 * Idempotency keys are scoped to the API key that sent them (as payment APIs do), so one till's
 * key can neither replay nor block another's operation, nor collide with keys the bot uses.
 */
export const scopedIdempotencyKey = (key: ApiKeyRecord, idempotencyKey: string) => `api:${key.id}:${idempotencyKey}`;

/**
 * The store a request acts for. A key bound to a store acts for that store only (naming another
 * one is 403); a key without a store must name one.
 */
export async function storeForRequest(lookups: TillLookups, key: ApiKeyRecord, storeCode: string | undefined): Promise<Store> {
  if (key.storeId !== null) {
    const store = await lookups.storeById(key.storeId);
    if (!store) throw new DomainError('STORE_NOT_FOUND');
    if (storeCode !== undefined && storeCode !== store.code) throw new DomainError('FORBIDDEN', { reason: 'the API key is bound to another store' });
    return store;
  }
  if (storeCode === undefined) throw validationProblem([{ field: 'storeCode', message: 'is required: this API key is not bound to a store' }]);
  const store = await lookups.storeByCode(storeCode);
  if (!store) throw new DomainError('STORE_NOT_FOUND', { field: 'storeCode' });
  return store;
}
