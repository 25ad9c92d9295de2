import { DomainError } from '../errors.js';
import type { Member } from '../members/member.js';
import { activeMember } from '../members/overview.js';
import type { DomainDeps } from '../ports.js';
import { localDate } from '../time.js';
import { eligible } from './engine.js';
import { processTaskEvent, type TaskEventOutcome } from './process-event.js';
import { type GrantedReward, grantTaskReward } from './rewards.js';

/** What members do in the chat that moves tasks: check in, visit a store, join the channel, claim. */

/** Whether someone is in the brand's channel; the bot adapter asks Telegram (getChatMember). */
export interface ChannelMembership {
  isMember(telegramId: number): Promise<boolean>;
}

export const STORE_VISIT_PREFIX = 's_';

/** The daily check-in: once per local day, for every check-in task the member has. */
export async function checkIn(deps: DomainDeps, telegramId: number): Promise<TaskEventOutcome> {
  const member = await activeMember(deps.repos, telegramId);
  const now = deps.clock.now();
  const { timezone } = deps.program;
  if (!deps.program.tasks.list.some((task) => task.kind === 'checkIn' && eligible(task, member.tier, now, timezone))) throw new DomainError('TASK_NOT_FOUND');
  return processTaskEvent(deps, member.id, { type: 'checkIn', id: `checkin:${member.id}:${localDate(now, timezone)}`, at: now }, { notify: false });
}

export interface StoreVisitResult {
  storeName: string;
  /** False: this member's visit to this store was counted today already. */
  counted: boolean;
  outcome: TaskEventOutcome;
}

/**
 * A visit by a store's QR deep link (`s_<store code>`): counted at most once per member, store
 * and local day. The event id is the same all day, so a retry after a crash still counts once.
 */
export async function visitStore(
  deps: DomainDeps,
  member: Member,
  storeCode: string,
  options: { notify?: boolean; at?: Date } = {},
): Promise<StoreVisitResult> {
  if (member.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_ACTIVE');
  const store = await deps.repos.stores.findByCode(storeCode);
  if (!store?.active) throw new DomainError('STORE_NOT_FOUND');
  // `at`: when the visit happened (a registration event handed over later counts on its own day).
  const now = options.at ?? deps.clock.now();
  const day = localDate(now, deps.program.timezone);
  const counted = await deps.repos.tasks.recordVisit(member.id, store.id, day, now);
  const outcome = await processTaskEvent(
    deps,
    member.id,
    { type: 'storeVisit', id: `visit:${member.id}:${store.id}:${day}`, at: now, storeId: store.id, storeCode: store.code },
    { notify: options.notify },
  );
  return { storeName: store.name, counted, outcome };
}

/** The member says they joined the channel: Telegram is asked; once a member, the channel tasks complete. */
export async function verifyChannel(
  deps: DomainDeps,
  telegramId: number,
  membership: ChannelMembership,
): Promise<{ joined: boolean; outcome: TaskEventOutcome | null }> {
  const member = await activeMember(deps.repos, telegramId);
  if (!deps.program.tasks.channel) throw new DomainError('TASK_NOT_FOUND');
  if (!(await membership.isMember(telegramId))) return { joined: false, outcome: null };
  const outcome = await processTaskEvent(deps, member.id, { type: 'channelJoined', id: `channel:${member.id}`, at: deps.clock.now() }, { notify: false });
  return { joined: true, outcome };
}

/**
 * «Claim» on a completed task whose reward is not automatic. The button is only a hint: the
 * instance is looked up for the member behind the update, and must be completed and unrewarded.
 */
export async function claimTask(deps: DomainDeps, telegramId: number, taskCode: string, periodKey: string): Promise<GrantedReward> {
  const member = await activeMember(deps.repos, telegramId);
  const task = deps.program.tasks.list.find((t) => t.code === taskCode);
  if (!task) throw new DomainError('TASK_NOT_FOUND');
  const now = deps.clock.now();
  return deps.uow.run(async (repos) => {
    await repos.tasks.lockMember(member.id);
    const instance = await repos.tasks.instance(member.id, task.code, periodKey);
    if (!instance?.completedAt) throw new DomainError('TASK_NOT_COMPLETED');
    if (instance.rewardedAt) throw new DomainError('TASK_ALREADY_CLAIMED');
    const granted = await grantTaskReward(deps, repos, member.id, task, periodKey, now);
    if (!granted) throw new DomainError('TASK_ALREADY_CLAIMED');
    return granted;
  });
}
