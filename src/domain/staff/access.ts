import { randomBytes } from 'node:crypto';
import { DomainError } from '../errors.js';
import type { Actor } from '../ledger/types.js';
import type { DomainDeps, Repositories, StaffMember, StaffRole, Store } from '../ports.js';
import type { Locale } from '../program.js';

/**
 * Who may do what. Every staff, marketer and admin action calls `requireRole` with the
 * Telegram id of the person acting, on the server, whatever button or command led there.
 */

export interface Principal {
  telegramId: number;
  role: StaffRole;
  /** The store a staff member is bound to; null for admins and marketers without one. */
  storeId: number | null;
  staffId: number | null;
}

/** What a role check reads: the configured admins and the staff table, nothing else. */
export interface AccessDeps {
  adminTelegramIds: DomainDeps['adminTelegramIds'];
  repos: Pick<Repositories, 'staff'>;
}

/** A narrow port: the role check plus the repositories a use case reads. */
export type AdminDeps<R extends keyof Repositories> = AccessDeps & { repos: Pick<Repositories, 'staff' | R> };

export async function findPrincipal(deps: AccessDeps, telegramId: number): Promise<Principal | null> {
  if (deps.adminTelegramIds.includes(telegramId)) return { telegramId, role: 'ADMIN', storeId: null, staffId: null };
  const staff = await deps.repos.staff.findByTelegramId(telegramId);
  if (!staff || staff.revokedAt) return null;
  return { telegramId, role: staff.role, storeId: staff.storeId, staffId: staff.id };
}

/** The principal if they hold one of `roles` (admins hold every role); FORBIDDEN otherwise. */
export async function requireRole(deps: AccessDeps, telegramId: number, roles: readonly StaffRole[]): Promise<Principal> {
  const principal = await findPrincipal(deps, telegramId);
  if (!principal || !(principal.role === 'ADMIN' || roles.includes(principal.role))) throw new DomainError('FORBIDDEN');
  return principal;
}

/** The store a principal is bound to; null for those who see the whole chain. */
export async function boundStore(deps: { repos: Pick<Repositories, 'stores'> }, principal: Principal): Promise<Store | null> {
  return principal.storeId === null ? null : deps.repos.stores.findById(principal.storeId);
}

/**
 * The store a report covers: one bound to a store (an API key, a principal) reads only its own,
 * and naming another is FORBIDDEN; one that sees the whole chain may name any store, or none
 * (null: the whole chain). An unknown code is STORE_NOT_FOUND, named as the `store` field.
 */
export async function storeInScope(
  deps: { repos: Pick<Repositories, 'stores'> },
  boundStoreId: number | null,
  requested: string | undefined,
): Promise<Store | null> {
  if (boundStoreId !== null) {
    const own = await deps.repos.stores.findById(boundStoreId);
    if (!own) throw new DomainError('STORE_NOT_FOUND', { field: 'store' });
    if (requested !== undefined && requested !== own.code) throw new DomainError('FORBIDDEN', { reason: 'the API key is bound to another store' });
    return own;
  }
  if (requested === undefined) return null;
  const store = await deps.repos.stores.findByCode(requested);
  if (!store) throw new DomainError('STORE_NOT_FOUND', { field: 'store' });
  return store;
}

export const actorOf = (principal: Principal): Actor => ({ type: principal.role === 'ADMIN' ? 'ADMIN' : 'STAFF', id: String(principal.telegramId) });

export const INVITE_PREFIX = 'inv_';
const INVITE_TTL_MS = 7 * 86_400_000;

/** A one-time invite link payload for a staff member or marketer, valid for 7 days. */
export async function createInvite(
  deps: DomainDeps,
  adminTelegramId: number,
  input: { role: StaffRole; storeCode: string | null },
): Promise<{ payload: string; store: Store | null; expiresAt: Date }> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  const store = input.storeCode ? await deps.repos.stores.findByCode(input.storeCode) : null;
  if (input.storeCode && !store) throw new DomainError('STORE_NOT_FOUND', { store: input.storeCode });
  if (input.role === 'STAFF' && !store) throw new DomainError('STORE_NOT_FOUND', { store: '' });
  const token = randomBytes(12).toString('base64url');
  const expiresAt = new Date(deps.clock.now().getTime() + INVITE_TTL_MS);
  await deps.uow.run(async (repos) => {
    await repos.invites.create({ token, role: input.role, storeId: store?.id ?? null, expiresAt, createdBy: adminTelegramId });
    await repos.audit.record({
      actor: { type: 'ADMIN', id: String(adminTelegramId) },
      action: 'invite.created',
      details: { role: input.role, store: store?.code ?? null },
    });
  });
  return { payload: `${INVITE_PREFIX}${token}`, store, expiresAt };
}

/** Turns an invite into a staff role for the person who opened it; each invite works once. */
export async function acceptInvite(deps: DomainDeps, payload: string, telegramId: number, name: string | null, locale?: Locale | null): Promise<StaffMember> {
  const token = payload.slice(INVITE_PREFIX.length);
  return deps.uow.run(async (repos) => {
    const invite = await repos.invites.consume(token, telegramId, deps.clock.now());
    if (!invite) throw new DomainError('INVITE_INVALID');
    const staff = await repos.staff.upsert({ telegramId, role: invite.role, storeId: invite.storeId, name, locale: locale ?? null });
    await repos.audit.record({
      actor: { type: 'STAFF', id: String(telegramId) },
      action: 'invite.accepted',
      details: { role: invite.role, storeId: invite.storeId },
    });
    return staff;
  });
}

export async function revokeStaff(deps: DomainDeps, adminTelegramId: number, staffTelegramId: number): Promise<StaffMember> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  return deps.uow.run(async (repos) => {
    const revoked = await repos.staff.revoke(staffTelegramId, deps.clock.now());
    if (!revoked) throw new DomainError('FORBIDDEN', { reason: 'not staff' });
    await repos.audit.record({ actor: { type: 'ADMIN', id: String(adminTelegramId) }, action: 'staff.revoked', subject: String(staffTelegramId) });
    return revoked;
  });
}

/** Everyone with a staff role, revoked ones included (admins only). */
export async function listStaff(deps: AccessDeps, adminTelegramId: number): Promise<(StaffMember & { storeName: string | null })[]> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  return deps.repos.staff.list();
}

/** Every store, closed ones included (admins only). */
export async function listStores(deps: AdminDeps<'stores'>, adminTelegramId: number): Promise<Store[]> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  return deps.repos.stores.list();
}

/** Stores named in the program file exist in the database (created or renamed at start-up). */
export async function seedStores(deps: DomainDeps): Promise<void> {
  for (const store of deps.program.stores) await deps.repos.stores.upsert(store.code, store.name);
}

export async function addStore(deps: AdminDeps<'stores' | 'audit'>, adminTelegramId: number, code: string, name: string): Promise<Store> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(code) || name.trim().length === 0 || name.length > 100) throw new DomainError('STORE_CODE_INVALID');
  const store = await deps.repos.stores.upsert(code, name.trim());
  await deps.repos.audit.record({ actor: { type: 'ADMIN', id: String(adminTelegramId) }, action: 'store.upserted', subject: code });
  return store;
}
