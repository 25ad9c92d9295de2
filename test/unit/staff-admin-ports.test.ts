import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import type { ApiKeyRecord, StaffMember, Store } from '../../src/domain/ports.js';
import { type AdminDeps, listStaff, listStores } from '../../src/domain/staff/access.js';
import { findActiveApiKey, listApiKeys } from '../../src/domain/staff/api-keys.js';

/**
 * The admin listings the bot's /staff_list, /stores and /apikey_revoke call. Their narrow ports
 * (the role check plus one repository) let them run on two small fakes, no database.
 */

const ADMIN = 1;
const CASHIER = 2;
const cashier: StaffMember = { id: 7, telegramId: CASHIER, role: 'STAFF', storeId: 3, name: 'Cas', revokedAt: null };
const store: Store = { id: 3, code: 'msk-01', name: 'Tverskaya', active: true };
const key = (id: number, revokedAt: Date | null): ApiKeyRecord => ({
  id,
  name: `till ${id}`,
  prefix: 'abcd1234',
  storeId: null,
  revokedAt,
  createdBy: ADMIN,
  createdAt: new Date(0),
  lastUsedAt: null,
});
const keys = [key(1, null), key(2, new Date(0))];

const deps: AdminDeps<'stores' | 'apiKeys'> = {
  adminTelegramIds: [ADMIN],
  repos: {
    staff: {
      findByTelegramId: async (telegramId) => (telegramId === CASHIER ? cashier : null),
      list: async () => [{ ...cashier, storeName: store.name }],
    } as AdminDeps<never>['repos']['staff'],
    stores: { list: async () => [store] } as unknown as AdminDeps<'stores'>['repos']['stores'],
    apiKeys: {
      list: async () => keys,
      findById: async (id: number) => keys.find((k) => k.id === id) ?? null,
    } as unknown as AdminDeps<'apiKeys'>['repos']['apiKeys'],
  },
};

const refusal = (work: Promise<unknown>) =>
  work.then(
    () => 'allowed',
    (error: unknown) => (isDomainError(error, 'FORBIDDEN') ? 'FORBIDDEN' : error),
  );

describe('admin listings through use cases', () => {
  it('give admins the staff, the stores and the API keys', async () => {
    expect(await listStaff(deps, ADMIN)).toEqual([{ ...cashier, storeName: 'Tverskaya' }]);
    expect(await listStores(deps, ADMIN)).toEqual([store]);
    expect((await listApiKeys(deps, ADMIN)).map((k) => k.id)).toEqual([1, 2]);
  });

  it('offer only a live key for revoking or rotating', async () => {
    expect(await findActiveApiKey(deps, ADMIN, 1)).toMatchObject({ id: 1 });
    expect(await findActiveApiKey(deps, ADMIN, 2)).toBeNull(); // revoked already
    expect(await findActiveApiKey(deps, ADMIN, 99)).toBeNull();
  });

  it('refuse a cashier and a stranger, whatever command they type', async () => {
    for (const who of [CASHIER, 999]) {
      expect(await refusal(listStaff(deps, who))).toBe('FORBIDDEN');
      expect(await refusal(listStores(deps, who))).toBe('FORBIDDEN');
      expect(await refusal(listApiKeys(deps, who))).toBe('FORBIDDEN');
      expect(await refusal(findActiveApiKey(deps, who, 1))).toBe('FORBIDDEN');
    }
  });
});
