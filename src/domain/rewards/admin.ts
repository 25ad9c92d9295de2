import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { actorOf, requireRole } from '../staff/access.js';
import { rewardDefinitionProblems, toDefinition, toRewardData } from './definition.js';
import type { Reward, RewardDefinition } from './types.js';

/**
 * The catalogue in an admin's hands: add, edit, pause and resume rewards. Every action checks
 * the role on the server and leaves an audit entry. Rewards from the program file can be
 * edited too; the file wins again only when its definition of that reward changes.
 */

function assertValid(deps: DomainDeps, definition: RewardDefinition): void {
  const problem = rewardDefinitionProblems(
    definition,
    deps.program.tiers.levels.map((level) => level.code),
  )[0];
  if (problem) throw new DomainError('REWARD_INVALID', { field: problem.field, message: problem.message });
}

/** Every reward, paused ones included, in code order. */
export async function listRewards(deps: DomainDeps, adminTelegramId: number): Promise<Reward[]> {
  await requireRole(deps, adminTelegramId, ['ADMIN']);
  return deps.repos.rewards.list();
}

export async function addReward(deps: DomainDeps, adminTelegramId: number, definition: RewardDefinition): Promise<Reward> {
  const principal = await requireRole(deps, adminTelegramId, ['ADMIN']);
  assertValid(deps, definition);
  return deps.uow.run(async (repos) => {
    const reward = await repos.rewards.create(toRewardData(definition, deps.program, null));
    if (!reward) throw new DomainError('REWARD_INVALID', { field: 'code', message: 'a reward with this code exists' });
    await repos.audit.record({ actor: actorOf(principal), action: 'reward.added', subject: `reward:${reward.code}`, details: { ...definition } });
    return reward;
  });
}

export type RewardPatch = Partial<Omit<RewardDefinition, 'code'>>;

/**
 * Changes some fields of a reward. `stock` sets what can still be issued (a restock); the kind
 * and value of coupons already issued do not change.
 */
export async function editReward(deps: DomainDeps, adminTelegramId: number, code: string, patch: RewardPatch): Promise<Reward> {
  const principal = await requireRole(deps, adminTelegramId, ['ADMIN']);
  return deps.uow.run(async (repos) => {
    const current = await repos.rewards.lockByCode(code);
    if (!current) throw new DomainError('REWARD_NOT_FOUND', { code });
    const definition: RewardDefinition = { ...toDefinition(current, deps.program), ...patch, code: current.code };
    assertValid(deps, definition);
    const { programHash: _keep, ...data } = toRewardData(definition, deps.program, current.programHash);
    const reward = await repos.rewards.update(current.id, data);
    await repos.audit.record({ actor: actorOf(principal), action: 'reward.edited', subject: `reward:${code}`, details: { ...patch } });
    return reward;
  });
}

/** Pauses (`active: false`) or resumes a reward; coupons already issued are not touched. */
export async function setRewardActive(deps: DomainDeps, adminTelegramId: number, code: string, active: boolean): Promise<Reward> {
  const principal = await requireRole(deps, adminTelegramId, ['ADMIN']);
  return deps.uow.run(async (repos) => {
    const current = await repos.rewards.lockByCode(code);
    if (!current) throw new DomainError('REWARD_NOT_FOUND', { code });
    const reward = current.active === active ? current : await repos.rewards.update(current.id, { active });
    await repos.audit.record({ actor: actorOf(principal), action: active ? 'reward.resumed' : 'reward.paused', subject: `reward:${code}` });
    return reward;
  });
}

export const pauseReward = (deps: DomainDeps, adminTelegramId: number, code: string) => setRewardActive(deps, adminTelegramId, code, false);
export const resumeReward = (deps: DomainDeps, adminTelegramId: number, code: string) => setRewardActive(deps, adminTelegramId, code, true);
