import { activeMember, type MemberRef } from '../members/overview.js';
import type { DomainDeps } from '../ports.js';
import { takenWithinLimit, unavailability } from './availability.js';
import { definitionHash, toRewardData } from './definition.js';
import type { Reward } from './types.js';

export interface CatalogueItem {
  reward: Reward;
  cost: number;
  /** The member's balance covers the cost. */
  affordable: boolean;
  /** Points still needed ("you need 80 more"); 0 when affordable. */
  missing: number;
}

export interface CataloguePage {
  items: CatalogueItem[];
  /** 0-based, clamped to the pages there are. */
  page: number;
  pages: number;
  total: number;
  balance: number;
}

export const CATALOGUE_PAGE_SIZE = 5;

/**
 * The rewards a member may take now (active, in their window, tier high enough, stock left,
 * under the per-member limit), cheapest first, one page of them. Rewards they cannot afford yet
 * are listed too, with the points they miss.
 */
export async function listCatalogue(deps: DomainDeps, who: MemberRef, page = 0, pageSize = CATALOGUE_PAGE_SIZE): Promise<CataloguePage> {
  const member = await activeMember(deps.repos, who);
  const now = deps.clock.now();
  const rewards = await deps.repos.rewards.list({ activeOnly: true });
  const open: Reward[] = [];
  for (const reward of rewards) {
    if (unavailability(deps.program, reward, member, 0, now)) continue;
    const taken = await takenWithinLimit(deps.repos, member, reward, now);
    if (unavailability(deps.program, reward, member, taken, now)) continue;
    open.push(reward);
  }
  open.sort((a, b) => a.cost - b.cost || a.code.localeCompare(b.code));
  const size = Math.max(1, Math.floor(pageSize));
  const pages = Math.max(1, Math.ceil(open.length / size));
  const current = Math.min(Math.max(0, Math.floor(page) || 0), pages - 1);
  const items = open.slice(current * size, (current + 1) * size).map((reward) => ({
    reward,
    cost: reward.cost,
    affordable: member.balance >= reward.cost,
    missing: Math.max(0, reward.cost - member.balance),
  }));
  return { items, page: current, pages, total: open.length, balance: member.balance };
}

export interface SyncResult {
  created: string[];
  updated: string[];
  retired: string[];
}

/**
 * Makes the rewards named in the program file exist as the file states them; runs at start-up.
 *
 * - A reward new to the database is created with the file's stock.
 * - A reward whose definition in the file changed since it was last applied (`programHash`)
 *   takes the new definition, stock excepted (what is left is the database's business; admins
 *   restock with `editReward`). A definition that did not change leaves admin edits alone, so
 *   a pause or a price change made in the chat survives a restart.
 * - A reward that came from the file and is no longer in it is paused (its coupons stay valid).
 */
export async function syncRewards(deps: DomainDeps): Promise<SyncResult> {
  const result: SyncResult = { created: [], updated: [], retired: [] };
  const actor = { type: 'SYSTEM' as const, id: 'program' };
  const inFile = new Set<string>();
  for (const definition of deps.program.rewards.catalogue) {
    inFile.add(definition.code);
    const hash = definitionHash(definition);
    const data = toRewardData(definition, deps.program, hash);
    const existing = await deps.repos.rewards.findByCode(definition.code);
    if (existing?.programHash === hash) continue;
    if (!existing && (await deps.repos.rewards.create(data))) {
      result.created.push(definition.code);
      await deps.repos.audit.record({ actor, action: 'reward.created', subject: `reward:${definition.code}`, details: { source: 'program' } });
      continue;
    }
    // Changed in the file (or created by another instance starting at the same moment).
    const current = existing ?? (await deps.repos.rewards.findByCode(definition.code));
    if (!current || current.programHash === hash) continue;
    const { stock: _stock, ...definitionWithoutStock } = data;
    await deps.repos.rewards.update(current.id, definitionWithoutStock);
    result.updated.push(definition.code);
    await deps.repos.audit.record({ actor, action: 'reward.updated', subject: `reward:${definition.code}`, details: { source: 'program' } });
  }
  for (const reward of await deps.repos.rewards.list()) {
    if (reward.programHash === null || inFile.has(reward.code)) continue;
    await deps.repos.rewards.update(reward.id, { active: false, programHash: null });
    result.retired.push(reward.code);
    await deps.repos.audit.record({ actor, action: 'reward.retired', subject: `reward:${reward.code}`, details: { source: 'program' } });
  }
  return result;
}
