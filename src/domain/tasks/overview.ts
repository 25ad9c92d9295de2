import type { Member } from '../members/member.js';
import { activeMember, type MemberRef } from '../members/overview.js';
import type { DomainDeps } from '../ports.js';
import { localDate } from '../time.js';
import { eligible, liveStreak } from './engine.js';
import { instanceDeadline, periodKeyFor } from './periods.js';
import type { GameProfile } from './ports.js';
import { type ReferralSummary, referralSummary } from './referrals.js';
import type { BadgeDefinition, TaskDefinition } from './types.js';

export interface TaskView {
  task: TaskDefinition;
  periodKey: string;
  progress: number;
  goal: number;
  completed: boolean;
  rewarded: boolean;
  /** Completed, not rewarded, and the reward is claimed by tapping. */
  claimable: boolean;
  /** When the current instance stops counting (end of period or of the task); null: never. */
  endsAt: Date | null;
  /** An instance of an earlier period whose reward is still to be claimed. */
  past: boolean;
}

export interface TasksOverview {
  member: Member;
  tasks: TaskView[];
  /** The check-in streak (first check-in task); null when the program has none for the member. */
  checkIn: { current: number; best: number; checkedInToday: boolean } | null;
  badges: (BadgeDefinition & { awardedAt: Date })[];
  referrals: ReferralSummary;
  leaderboard: { enabled: boolean; profile: GameProfile };
  channel: { url: string } | null;
}

/** The «Tasks» screen: the member's open tasks with progress, streak, badges, friends, leaderboard. */
export async function getTasksOverview(deps: DomainDeps, who: MemberRef): Promise<TasksOverview> {
  const member = await activeMember(deps.repos, who);
  const now = deps.clock.now();
  const { timezone, tasks: config } = deps.program;
  const open = config.list.filter((task) => eligible(task, member.tier, now, timezone));
  const keys = open.map((task) => ({ taskCode: task.code, periodKey: periodKeyFor(task.period, now, timezone) }));
  const [instances, unclaimed, badges, referrals, profile] = await Promise.all([
    deps.repos.tasks.instances(member.id, keys),
    deps.repos.tasks.unclaimed(member.id),
    deps.repos.tasks.badges(member.id),
    referralSummary(deps, member.id),
    deps.repos.tasks.gameProfile(member.id),
  ]);

  const views: TaskView[] = open.map((task, i) => {
    const periodKey = keys[i]?.periodKey as string;
    const instance = instances.find((row) => row.taskCode === task.code && row.periodKey === periodKey);
    const completed = instance?.completedAt != null;
    const rewarded = instance?.rewardedAt != null;
    return {
      task,
      periodKey,
      progress: instance?.progress ?? 0,
      goal: instance?.goal ?? task.goal,
      completed,
      rewarded,
      claimable: completed && !rewarded,
      endsAt: instanceDeadline(task, now, timezone),
      past: false,
    };
  });
  // Rewards of earlier periods (or of tasks now closed) still wait to be claimed.
  for (const instance of unclaimed) {
    const task = config.list.find((t) => t.code === instance.taskCode);
    if (!task || views.some((view) => view.task.code === task.code && view.periodKey === instance.periodKey)) continue;
    views.push({
      task,
      periodKey: instance.periodKey,
      progress: instance.progress,
      goal: instance.goal,
      completed: true,
      rewarded: false,
      claimable: true,
      endsAt: null,
      past: true,
    });
  }

  const checkInTask = open.find((task) => task.kind === 'checkIn');
  let checkIn: TasksOverview['checkIn'] = null;
  if (checkInTask) {
    const today = localDate(now, timezone);
    const streak = await deps.repos.tasks.streak(member.id, checkInTask.code);
    const checkedInToday =
      streak?.lastDate === today || (await deps.repos.tasks.findRecord(member.id, checkInTask.code, `checkin:${member.id}:${today}`)) !== null;
    checkIn = { current: liveStreak(streak, today, checkInTask.streak), best: streak?.best ?? 0, checkedInToday };
  }

  const badgeViews = badges.map((owned) => {
    const definition = config.badges.find((badge) => badge.code === owned.code) ?? { code: owned.code, icon: '🏅', name: { ru: owned.code, en: owned.code } };
    return { ...definition, awardedAt: owned.awardedAt };
  });
  return {
    member,
    tasks: views,
    checkIn,
    badges: badgeViews,
    referrals,
    leaderboard: { enabled: config.leaderboard.enabled, profile },
    channel: config.channel && open.some((task) => task.kind === 'channel') ? { url: config.channel.url } : null,
  };
}
