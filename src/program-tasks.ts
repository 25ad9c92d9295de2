import { z } from 'zod';
import type { Program } from './domain/program.js';
import { ONCE_KINDS, PURCHASE_KINDS, TASK_KINDS, type TaskKind, type TasksProgram } from './domain/tasks/types.js';

/**
 * The `tasks` section of the program file (see programs/example.yaml): gamified tasks, badges,
 * referrals, the leaderboard and the brand's channel. Every key has a default, so a program
 * without the section is valid (no tasks, referrals and leaderboard off). Unknown keys are refused.
 */

const localized = z.object({ ru: z.string().min(1), en: z.string().min(1) }).strict();
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');
const code = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ and -, up to 32 characters');

const period = z.union([
  z.enum(['day', 'week', 'month', 'none']),
  z
    .object({ from: isoDate, to: isoDate })
    .strict()
    .refine((range) => range.from <= range.to, { message: '`from` must not be after `to`', path: ['to'] }),
]);

const reward = z
  .object({
    points: z.number().int().min(0).max(1_000_000).default(0),
    badge: code.optional(),
    coupon: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => r.points > 0 || r.badge !== undefined || r.coupon !== undefined, 'a task must reward something: points, a badge or a coupon');

const streak = z
  .object({
    graceDays: z.number().int().min(0).max(7).default(0),
    milestones: z
      .array(z.object({ days: z.number().int().min(1).max(3650), points: z.number().int().min(0).max(1_000_000), badge: code.optional() }).strict())
      .default([]),
  })
  .strict();

/** Which optional keys make sense for which kinds. */
const KEY_KINDS: Record<'minPurchaseMinor' | 'stores' | 'survey' | 'streak', readonly TaskKind[]> = {
  minPurchaseMinor: PURCHASE_KINDS,
  stores: [...PURCHASE_KINDS, 'storeVisit'],
  survey: ['survey'],
  streak: ['checkIn'],
};

const task = z
  .object({
    code,
    kind: z.enum(TASK_KINDS),
    goal: z.number().int().min(1).max(1_000_000_000).default(1),
    period: period.default('none'),
    reward,
    autoClaim: z.boolean().default(true),
    title: localized,
    description: localized.optional(),
    tiers: z.array(z.string()).min(1).optional(),
    from: isoDate.optional(),
    to: isoDate.optional(),
    minPurchaseMinor: z.number().int().min(0).optional(),
    stores: z.array(z.string().min(1)).min(1).optional(),
    survey: z.string().min(1).max(64).optional(),
    streak: streak.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (ONCE_KINDS.includes(t.kind) && (t.period !== 'none' || t.goal !== 1)) {
      ctx.addIssue({ code: 'custom', path: ['period'], message: `a ${t.kind} task happens once: period none, goal 1` });
    }
    for (const [key, kinds] of Object.entries(KEY_KINDS)) {
      if (t[key as keyof typeof KEY_KINDS] !== undefined && !kinds.includes(t.kind)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `only for ${kinds.join(', ')} tasks` });
      }
    }
    if (t.from && t.to && t.from > t.to) ctx.addIssue({ code: 'custom', path: ['to'], message: '`from` must not be after `to`' });
  });

const channel = z
  .object({
    chat: z.string().regex(/^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{5,20})$/, 'the channel as @username or its numeric id (-100…)'),
    url: z.url().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.url && !c.chat.startsWith('@')) ctx.addIssue({ code: 'custom', path: ['url'], message: 'a channel given by id needs its link' });
  })
  .transform((c) => ({ chat: c.chat, url: c.url ?? `https://t.me/${c.chat.slice(1)}` }));

const referralsDefault = () => ({ enabled: false, minPurchaseMinor: 0, referrerPoints: 0, friendPoints: 0, monthlyCap: 10, windowDays: 90 });
const leaderboardDefault = () => ({ enabled: false, metric: 'points' as const, size: 10 });

export const tasksSchema = z
  .object({
    channel: channel.optional(),
    badges: z.array(z.object({ code, icon: z.string().min(1).max(8).default('🏅'), name: localized }).strict()).default([]),
    referrals: z
      .object({
        enabled: z.boolean().default(true),
        /** The friend's first purchase of at least this much (minor units) converts the referral. */
        minPurchaseMinor: z.number().int().min(0).default(0),
        referrerPoints: z.number().int().min(0).max(1_000_000).default(0),
        friendPoints: z.number().int().min(0).max(1_000_000).default(0),
        monthlyCap: z.number().int().min(0).max(10_000).default(10),
        windowDays: z.number().int().min(1).max(3650).default(90),
      })
      .strict()
      .default(referralsDefault),
    leaderboard: z
      .object({
        enabled: z.boolean().default(true),
        metric: z.enum(['points', 'tasks']).default('points'),
        size: z.number().int().min(1).max(50).default(10),
      })
      .strict()
      .default(leaderboardDefault),
    list: z.array(task).default([]),
  })
  .strict()
  .superRefine((tasks, ctx) => {
    const badges = tasks.badges.map((badge) => badge.code);
    tasks.badges.forEach((badge, i) => {
      if (badges.indexOf(badge.code) !== i) ctx.addIssue({ code: 'custom', path: ['badges', i, 'code'], message: `duplicate badge code "${badge.code}"` });
    });
    const badgeIssue = (badge: string | undefined, path: (string | number)[]) => {
      if (badge !== undefined && !badges.includes(badge))
        ctx.addIssue({ code: 'custom', path, message: `one of tasks.badges: ${badges.join(', ') || '(none defined)'}` });
    };
    tasks.list.forEach((t, i) => {
      if (tasks.list.findIndex((other) => other.code === t.code) !== i)
        ctx.addIssue({ code: 'custom', path: ['list', i, 'code'], message: `duplicate task code "${t.code}"` });
      badgeIssue(t.reward.badge, ['list', i, 'reward', 'badge']);
      t.streak?.milestones.forEach((m, j) => {
        badgeIssue(m.badge, ['list', i, 'streak', 'milestones', j, 'badge']);
      });
      if (t.kind === 'channel' && !tasks.channel) ctx.addIssue({ code: 'custom', path: ['list', i, 'kind'], message: 'a channel task needs tasks.channel' });
    });
  })
  .default(() => ({ badges: [], referrals: referralsDefault(), leaderboard: leaderboardDefault(), list: [] })) satisfies z.ZodType<TasksProgram, unknown>;

/** Checks against the rest of the program: tiers and coupon rewards must exist. */
export function tasksProblems(program: Pick<Program, 'tasks' | 'tiers' | 'rewards'>): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const tiers = program.tiers.levels.map((level) => level.code);
  const rewards = program.rewards.catalogue.map((r) => r.code);
  program.tasks.list.forEach((t, i) => {
    t.tiers?.forEach((tier, j) => {
      if (!tiers.includes(tier)) problems.push({ path: ['tasks', 'list', i, 'tiers', j], message: `one of the tiers: ${tiers.join(', ')}` });
    });
    if (t.reward.coupon !== undefined && !rewards.includes(t.reward.coupon)) {
      problems.push({
        path: ['tasks', 'list', i, 'reward', 'coupon'],
        message: `a reward code of rewards.catalogue: ${rewards.join(', ') || '(none defined)'}`,
      });
    }
  });
  return problems;
}
