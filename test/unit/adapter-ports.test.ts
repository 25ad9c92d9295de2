import { describe, expect, it } from 'vitest';
import { currentBalance, type MemberLookupDeps, memberOfTelegramUser } from '../../src/domain/members/lookup.js';
import type { Member } from '../../src/domain/members/member.js';
import type { Repositories, Store } from '../../src/domain/ports.js';
import { boundStore, type Principal } from '../../src/domain/staff/access.js';

/**
 * The reads the bot's middleware, /stats and the charity screens make go through use cases with
 * narrow ports (one repository each), so they run on small fakes, no database.
 */

const anna = { id: 5, telegramId: 500, balance: 340, status: 'ACTIVE' } as Member;
const members: MemberLookupDeps = {
  repos: {
    members: {
      findByTelegramId: async (telegramId: number) => (telegramId === anna.telegramId ? anna : null),
      findById: async (id: number) => (id === anna.id ? anna : null),
    } as unknown as Repositories['members'],
  },
};
const store: Store = { id: 3, code: 'msk-01', name: 'Tverskaya', active: true };
const stores = { repos: { stores: { findById: async (id: number) => (id === store.id ? store : null) } as unknown as Repositories['stores'] } };
const principal = (storeId: number | null): Principal => ({ telegramId: 9, role: 'MARKETER', storeId, staffId: 1 });

describe('adapter reads through use cases', () => {
  it('find the member behind a Telegram user, or nobody', async () => {
    expect(await memberOfTelegramUser(members, 500)).toBe(anna);
    expect(await memberOfTelegramUser(members, 501)).toBeNull();
  });

  it('read the balance as stored, 0 for an unknown member', async () => {
    expect(await currentBalance(members, anna.id)).toBe(340);
    expect(await currentBalance(members, 99)).toBe(0);
  });

  it('name the store a principal is bound to, none for the chain', async () => {
    expect(await boundStore(stores, principal(3))).toEqual(store);
    expect(await boundStore(stores, principal(null))).toBeNull();
  });
});
