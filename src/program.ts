import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './config.js';
import { DEFAULT_POINTS_NAME, type EarnRate, type Program } from './domain/program.js';
import { rewardDefinitionProblems } from './domain/rewards/definition.js';
import { REWARD_KINDS, type RewardDefinition } from './domain/rewards/types.js';
import { npsSchema } from './program-nps.js';
import { tasksProblems, tasksSchema } from './program-tasks.js';

/**
 * The loyalty program file (YAML or JSON): what a chain configures without touching code.
 * Validated once at start-up; unknown keys are refused so that a typo cannot silently
 * switch a rule off. The parsed value is the domain's `Program` type.
 */

const localized = z.object({ ru: z.string().min(1), en: z.string().min(1) }).strict();
const percent = z.number().min(0).max(100).multipleOf(0.01);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

/** A Telegram @username (5-32 letters, digits, _), a URL, or a short sentence. */
const supportContact = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((value) => !value.startsWith('@') || /^@[A-Za-z][A-Za-z0-9_]{4,31}$/.test(value), 'a Telegram @username: 5-32 letters, digits and _');

/** True when `value` is written with at most `places` decimals (1.5 and 1.125 have 1 and 3). */
export function hasAtMostDecimals(value: number, places: number): boolean {
  const scaled = value * 10 ** places;
  return Number.isFinite(scaled) && Math.abs(scaled - Math.round(scaled)) < 1e-6;
}

/** Earn rates take up to three decimals (1.5 % or 1.125 points per unit); the maths is exact in thousandths. */
const rateNumber = (schema: z.ZodNumber) =>
  schema.refine((value) => hasAtMostDecimals(value, 3), 'at most 3 decimals (e.g. 1.5 or 1.125); the earn maths counts thousandths');
// One object with both keys optional (not a union) so that a bad value gets its own message.
const earnRate = z
  .object({ pointsPerUnit: rateNumber(z.number().positive().max(1000)).optional(), percent: rateNumber(z.number().min(0).max(100)).optional() })
  .strict()
  .superRefine((rate, ctx) => {
    if ((rate.pointsPerUnit === undefined) === (rate.percent === undefined))
      ctx.addIssue({ code: 'custom', path: [], message: 'exactly one of `pointsPerUnit` or `percent`' });
  })
  .transform((rate): EarnRate => (rate.pointsPerUnit !== undefined ? { pointsPerUnit: rate.pointsPerUnit } : { percent: rate.percent ?? 0 }));

const tierSchema = z
  .object({
    code: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ and -'),
    name: localized,
    /** Spend in minor currency units, or points earned, depending on `tiers.qualification.metric`. */
    threshold: z.number().int().min(0),
    discountPercent: percent.default(0),
    /** Overrides `earn.rate` for members of this tier. */
    earn: earnRate.optional(),
  })
  .strict();

const expirySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('never') }).strict(),
  z.object({ kind: z.literal('days'), days: z.number().int().min(1).max(3650) }).strict(),
  /** Points earned in a month expire at the end of the month `monthsAfter` later. */
  z.object({ kind: z.literal('endOfMonth'), monthsAfter: z.number().int().min(0).max(120) }).strict(),
]);

const localTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time as HH:MM, e.g. 09:00');
const localHour = z.number().int().min(0).max(23);
/** Five cron fields (minute hour day month weekday); BullMQ's parser checks the values themselves. */
const cronExpression = z
  .string()
  .trim()
  .regex(/^[\d*/,\-A-Za-z?LW#]+(\s+[\d*/,\-A-Za-z?LW#]+){4}$/, 'a cron expression of 5 fields, e.g. "15 3 * * *"');

/** A word of a points name: letters, spaces, hyphens and apostrophes (it goes into HTML texts and buttons). */
const pointsWord = z
  .string()
  .trim()
  .regex(/^[\p{L}\p{M}][\p{L}\p{M}' -]{0,31}$/u, "a word of up to 32 letters (spaces, - and ' allowed)");
const pointsNameSchema = z
  .object({
    ru: z.object({ one: pointsWord, few: pointsWord, many: pointsWord, plural: pointsWord, instrumental: pointsWord }).strict(),
    en: z.object({ one: pointsWord, other: pointsWord }).strict(),
  })
  .strict();

const quietHoursDefault = () => ({ from: '22:00', to: '09:00' });
const birthdayDefault = () => ({ enabled: true, hour: 10, points: 0, reward: null });
const expiringDefault = () => ({ daysBefore: [30, 7], hour: 12 });
const pointsExpiryDefault = () => ({ cron: '15 3 * * *' });
const winBackDefault = () => ({ enabled: true, inactiveDays: 60, everyDays: 30, hour: 12 });

/** When the scheduled jobs talk to members (see NotificationSchedules); every key has a default. */
const notificationsSchema = z
  .object({
    quietHours: z.object({ from: localTime, to: localTime }).strict().default(quietHoursDefault),
    birthday: z
      .object({
        enabled: z.boolean().default(true),
        hour: localHour.default(10),
        points: z.number().int().min(0).max(1_000_000).default(0),
        /** A coupon of this catalogue reward as the gift (a free drink), besides or instead of points. */
        reward: z.string().min(1).nullable().default(null),
      })
      .strict()
      .default(birthdayDefault),
    expiringReminders: z
      .object({
        daysBefore: z
          .array(z.number().int().min(1).max(365))
          .max(5)
          .refine((days) => new Set(days).size === days.length, 'each number of days once')
          .default([30, 7]),
        hour: localHour.default(12),
      })
      .strict()
      .default(expiringDefault),
    pointsExpiry: z
      .object({ cron: cronExpression.default('15 3 * * *') })
      .strict()
      .default(pointsExpiryDefault),
    winBack: z
      .object({
        enabled: z.boolean().default(true),
        inactiveDays: z.number().int().min(1).max(3650).default(60),
        everyDays: z.number().int().min(1).max(3650).default(30),
        hour: localHour.default(12),
      })
      .strict()
      .default(winBackDefault),
  })
  .strict()
  .default(() => ({
    quietHours: quietHoursDefault(),
    birthday: birthdayDefault(),
    expiringReminders: expiringDefault(),
    pointsExpiry: pointsExpiryDefault(),
    winBack: winBackDefault(),
  }));

/**
 * One reward of the catalogue. Optional keys left out mean: no value (free item, gift), no stock
 * limit, no per-member limit (`limit.periodDays` left out: the limit counts for ever), every tier,
 * always available, no image. `stock` is what a new reward starts with.
 */
const rewardSchema = z
  .object({
    code: z.string(),
    kind: z.enum(REWARD_KINDS),
    value: z.number().int().optional(),
    cost: z.number().int().min(0),
    stock: z.number().int().min(0).optional(),
    limit: z
      .object({ count: z.number().int().min(1), periodDays: z.number().int().min(1).optional() })
      .strict()
      .optional(),
    minTier: z.string().optional(),
    validityDays: z.number().int().min(1),
    availableFrom: isoDate.optional(),
    availableTo: isoDate.optional(),
    imageUrl: z.url().optional(),
    title: localized,
    description: localized,
    active: z.boolean().default(true),
    /** `online`: the coupon is a code typed at checkout on the web shop (rewards.onlineShopUrl), no QR. */
    channel: z.enum(['store', 'online']).default('store'),
  })
  .strict()
  .transform((r): RewardDefinition & { channel: 'store' | 'online' } => ({
    channel: r.channel,
    code: r.code,
    kind: r.kind,
    value: r.value ?? null,
    cost: r.cost,
    stock: r.stock ?? null,
    limit: r.limit ? { count: r.limit.count, periodDays: r.limit.periodDays ?? null } : null,
    minTier: r.minTier ?? null,
    validityDays: r.validityDays,
    availableFrom: r.availableFrom ?? null,
    availableTo: r.availableTo ?? null,
    imageUrl: r.imageUrl ?? null,
    title: r.title,
    description: r.description,
    active: r.active,
  }))
  .superRefine((definition, ctx) => {
    for (const problem of rewardDefinitionProblems(definition, null))
      ctx.addIssue({ code: 'custom', path: problem.field.split('.'), message: problem.message });
  });

const rewardsSchema = z
  .object({
    /** Whether the points paid for a coupon come back when it expires unused. */
    refundOnExpiry: z.boolean().default(false),
    catalogue: z.array(rewardSchema).default([]),
    /** The web shop where `channel: online` coupons are used. */
    onlineShopUrl: z.url().optional(),
    /** Automatic rewards: at `whenBalanceAtLeast` points, the reward's cost becomes its coupon (repeatedly). */
    auto: z.array(z.object({ reward: z.string().min(1), whenBalanceAtLeast: z.number().int().min(1).max(1_000_000_000) }).strict()).default([]),
  })
  .strict()
  .superRefine((rewards, ctx) => {
    rewards.auto.forEach((rule, i) => {
      const reward = rewards.catalogue.find((entry) => entry.code === rule.reward);
      if (!reward) {
        const codes = rewards.catalogue.map((entry) => entry.code).join(', ') || '(none defined)';
        ctx.addIssue({ code: 'custom', path: ['auto', i, 'reward'], message: `a reward code of rewards.catalogue: ${codes}` });
      } else if (reward.cost < 1) {
        // Nothing to take: every event would issue coupons until the per-event limit.
        ctx.addIssue({ code: 'custom', path: ['auto', i, 'reward'], message: 'a reward that costs points (this one costs 0)' });
      } else if (rule.whenBalanceAtLeast < reward.cost) {
        ctx.addIssue({ code: 'custom', path: ['auto', i, 'whenBalanceAtLeast'], message: `at least the reward's cost (${reward.cost}), which it takes` });
      }
    });
    rewards.catalogue.forEach((reward, i) => {
      if (reward.channel === 'online' && !rewards.onlineShopUrl)
        ctx.addIssue({
          code: 'custom',
          path: ['catalogue', i, 'channel'],
          message: 'an online reward needs rewards.onlineShopUrl, the shop where its code is entered',
        });
    });
    rewards.catalogue.forEach((reward, i) => {
      if (rewards.catalogue.findIndex((other) => other.code === reward.code) !== i) {
        ctx.addIssue({ code: 'custom', path: ['catalogue', i, 'code'], message: `duplicate reward code "${reward.code}"` });
      }
    });
  })
  // The channel stays out of the stored definition (and its sync fingerprint): the file says it.
  .transform(({ refundOnExpiry, catalogue, onlineShopUrl, auto }) => ({
    refundOnExpiry,
    auto,
    catalogue: catalogue.map(({ channel: _channel, ...definition }): RewardDefinition => definition),
    online: { shopUrl: onlineShopUrl ?? null, rewardCodes: catalogue.filter((reward) => reward.channel === 'online').map((reward) => reward.code) },
  }))
  .default(() => ({ refundOnExpiry: false, auto: [], catalogue: [], online: { shopUrl: null, rewardCodes: [] } }));

/**
 * Broadcasts. `paid`: send with `allow_paid_broadcast` (Telegram charges Stars for messages over
 * the free ~30/s) at up to `paidRatePerSecond` (Telegram allows up to 1000/s).
 */
const broadcastsSchema = z
  .object({
    paid: z.boolean().default(false),
    paidRatePerSecond: z.number().int().min(1).max(1000).default(1000),
    /** Percent of each broadcast's recipients held back as a control group, unless the broadcast says otherwise (0-50). */
    controlPercent: z.number().int().min(0).max(50).default(10),
    /** A purchase (or coupon redemption) counts for a broadcast's lift within this many days of the send. */
    attributionDays: z.number().int().min(1).max(90).default(7),
  })
  .strict()
  .default(() => ({ paid: false, paidRatePerSecond: 1000, controlPercent: 10, attributionDays: 7 }));

/**
 * What the program's analytics need to turn points into money (src/domain/analytics). Optional:
 * `grossMarginPercent` defaults to 25 (a middle-of-the-road retail margin: set your own), and
 * `pointCostMinor` to `points.pointValueMinor` (a redeemed point costs the discount it buys).
 */
export const DEFAULT_GROSS_MARGIN_PERCENT = 25;
const economicsSchema = z
  .object({
    /** Gross margin on sales, percent: what an extra unit of revenue earns before the program's cost. */
    grossMarginPercent: percent.default(DEFAULT_GROSS_MARGIN_PERCENT),
    /** What one point costs the business when redeemed, in minor units (defaults to points.pointValueMinor). */
    pointCostMinor: z.number().int().min(0).max(1_000_000).optional(),
  })
  .strict()
  .default(() => ({ grossMarginPercent: DEFAULT_GROSS_MARGIN_PERCENT }));

/**
 * Charity causes (optional): members give points, worth `points.pointValueMinor` each in money,
 * which the chain transfers to the cause monthly. A cause taken out of the file (or `open: false`)
 * takes no new donations; what was given to it stays in the totals under its code.
 */
const charitySchema = z
  .object({
    minPoints: z.number().int().min(1).max(1_000_000).default(100),
    causes: z
      .array(
        z
          .object({
            code: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,23}$/, 'lower-case letters, digits, _ and -, up to 24 characters'),
            name: z.object({ ru: z.string().min(1).max(64), en: z.string().min(1).max(64) }).strict(),
            description: z.object({ ru: z.string().min(1).max(600), en: z.string().min(1).max(600) }).strict(),
            url: z.url().optional(),
            open: z.boolean().default(true),
          })
          .strict(),
      )
      .max(20)
      .superRefine((causes, ctx) => {
        causes.forEach((cause, i) => {
          if (causes.findIndex((other) => other.code === cause.code) !== i) {
            ctx.addIssue({ code: 'custom', path: [i, 'code'], message: `duplicate cause code "${cause.code}"` });
          }
        });
      }),
  })
  .strict();

export const programSchema = z
  .object({
    name: localized,
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as RUB or EUR'),
    timezone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Moscow'),
    defaultCountry: z
      .string()
      .regex(/^[A-Z]{2}$/, 'an ISO 3166 country code such as RU')
      .default('RU'),
    policy: z.object({ url: z.url(), version: z.string().min(1).max(32) }).strict(),
    welcomeBonus: z
      .object({ points: z.number().int().min(0).max(1_000_000) })
      .strict()
      .default({ points: 0 }),
    points: z
      .union([
        // A discount-only program (issue 15): tiers give discounts, no points are earned or spent.
        z
          .literal('none')
          .transform(() => ({ name: DEFAULT_POINTS_NAME, expiry: { kind: 'never' as const }, maxBillSharePercent: 0, pointValueMinor: 100, enabled: false })),
        z
          .object({
            /** What the program calls its points (stars, bonuses...), in every form the texts need. */
            name: pointsNameSchema.default(DEFAULT_POINTS_NAME),
            expiry: expirySchema.default({ kind: 'never' }),
            /** Share of a bill (after the tier discount) that may be paid with points. */
            maxBillSharePercent: percent.default(0),
            /** What one point is worth when paying, in minor currency units. */
            pointValueMinor: z.number().int().min(1).default(100),
          })
          .strict(),
      ])
      .default({ name: DEFAULT_POINTS_NAME, expiry: { kind: 'never' }, maxBillSharePercent: 0, pointValueMinor: 100 }),
    earn: z
      .object({
        rate: earnRate,
        rounding: z.enum(['floor', 'round', 'ceil']).default('floor'),
        minPurchaseMinor: z.number().int().min(0).default(0),
        promos: z
          .array(
            z
              .object({
                name: localized,
                from: isoDate,
                to: isoDate,
                multiplier: z.number().min(1).max(100).multipleOf(0.01),
              })
              .strict()
              .refine((p) => p.from <= p.to, { message: '`from` must not be after `to`', path: ['to'] }),
          )
          .default([]),
      })
      .strict()
      .optional(),
    tiers: z
      .object({
        qualification: z
          .object({
            metric: z.enum(['spend', 'pointsEarned']),
            window: z.discriminatedUnion('kind', [
              z.object({ kind: z.literal('lifetime') }).strict(),
              z.object({ kind: z.literal('rollingDays'), days: z.number().int().min(1).max(3650) }).strict(),
            ]),
          })
          .strict(),
        /** `never`: a tier once reached is kept; `reevaluate`: the tier follows the window. */
        downgrade: z.enum(['never', 'reevaluate']).default('never'),
        levels: z.array(tierSchema).min(1),
      })
      .strict()
      .superRefine((tiers, ctx) => {
        const first = tiers.levels[0];
        if (first && first.threshold !== 0) {
          ctx.addIssue({ code: 'custom', path: ['levels', 0, 'threshold'], message: 'the first tier must start at 0' });
        }
        tiers.levels.forEach((level, i) => {
          const previous = tiers.levels[i - 1];
          if (previous && level.threshold <= previous.threshold) {
            ctx.addIssue({ code: 'custom', path: ['levels', i, 'threshold'], message: 'thresholds must increase from tier to tier' });
          }
          if (tiers.levels.findIndex((other) => other.code === level.code) !== i) {
            ctx.addIssue({ code: 'custom', path: ['levels', i, 'code'], message: `duplicate tier code "${level.code}"` });
          }
        });
      }),
    stores: z.array(z.object({ code: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/), name: z.string().min(1).max(100) }).strict()).default([]),
    rewards: rewardsSchema,
    notifications: notificationsSchema,
    broadcasts: broadcastsSchema,
    tasks: tasksSchema,
    nps: npsSchema,
    /** The program's rules, linked from Help. */
    rulesUrl: z.url().optional(),
    /** Help's support contact: a Telegram @username, a URL, or a sentence (per language if it needs translating). */
    support: z.union([supportContact, localized]).optional(),
    economics: economicsSchema,
    charity: charitySchema.optional(),
  })
  .strict()
  .superRefine((program, ctx) => {
    // `earn` says how points are earned: required with points, meaningless without them.
    const pointsOff = 'enabled' in program.points && program.points.enabled === false;
    if (!pointsOff && !program.earn) ctx.addIssue({ code: 'custom', path: ['earn'], message: 'required (or `points: none` for a discount-only program)' });
    if (pointsOff && program.earn)
      ctx.addIssue({ code: 'custom', path: ['earn'], message: 'not allowed with `points: none` (a discount-only program earns no points)' });
    if (pointsOff) {
      // Nothing may pay or cost points in a program without them.
      const noPoints = 'not allowed with `points: none` (a discount-only program has no points)';
      if (program.welcomeBonus.points > 0) ctx.addIssue({ code: 'custom', path: ['welcomeBonus', 'points'], message: noPoints });
      if (program.notifications.birthday.points > 0) ctx.addIssue({ code: 'custom', path: ['notifications', 'birthday', 'points'], message: noPoints });
      if (program.rewards.catalogue.length > 0) ctx.addIssue({ code: 'custom', path: ['rewards', 'catalogue'], message: noPoints });
      program.tiers.levels.forEach((level, i) => {
        if (level.earn) ctx.addIssue({ code: 'custom', path: ['tiers', 'levels', i, 'earn'], message: noPoints });
      });
      if (program.nps.rewardPoints > 0) ctx.addIssue({ code: 'custom', path: ['nps', 'rewardPoints'], message: noPoints });
      // Donations are points given away: nothing to give without them.
      if (program.charity) ctx.addIssue({ code: 'custom', path: ['charity'], message: noPoints });
      const { referrals, list } = program.tasks;
      if (referrals.referrerPoints > 0 || referrals.friendPoints > 0) ctx.addIssue({ code: 'custom', path: ['tasks', 'referrals'], message: noPoints });
      list.forEach((task, i) => {
        if (task.reward.points > 0) ctx.addIssue({ code: 'custom', path: ['tasks', 'list', i, 'reward', 'points'], message: noPoints });
      });
    }
    // A reward's minimum tier must be one of the program's tiers.
    const tiers = program.tiers.levels.map((level) => level.code);
    program.rewards.catalogue.forEach((reward, i) => {
      if (reward.minTier !== null && !tiers.includes(reward.minTier)) {
        ctx.addIssue({ code: 'custom', path: ['rewards', 'catalogue', i, 'minTier'], message: `one of the tiers: ${tiers.join(', ')}` });
      }
    });
    const rewardCodes = program.rewards.catalogue.map((reward) => reward.code);
    const birthdayReward = program.notifications.birthday.reward;
    if (birthdayReward !== null && !rewardCodes.includes(birthdayReward)) {
      ctx.addIssue({
        code: 'custom',
        path: ['notifications', 'birthday', 'reward'],
        message: `a reward code of rewards.catalogue: ${rewardCodes.join(', ') || '(none defined)'}`,
      });
    }
    // Tasks may name tiers and catalogue rewards (src/program-tasks.ts).
    for (const problem of tasksProblems(program)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  })
  // A point's cost defaults to its face value at the till, which lives in another section.
  .transform(({ economics, earn, ...program }) => ({
    ...program,
    // Without points nothing is earned: a zero rate keeps every earn rule answering 0.
    earn: earn ?? { rate: { percent: 0 }, rounding: 'floor' as const, minPurchaseMinor: 0, promos: [] },
    economics: { grossMarginPercent: economics.grossMarginPercent, pointCostMinor: economics.pointCostMinor ?? program.points.pointValueMinor },
  }));

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function parseProgram(raw: unknown, source: string): Program {
  const parsed = programSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(source, formatProgramIssues(raw, parsed.error.issues));
  return parsed.data;
}

/**
 * Problems of a program file, each naming its key. An element of a list with a `code` (tier,
 * reward, store, task, badge, NPS reason; an automatic reward rule by its reward) is named by
 * that code, not by its position:
 * `tiers.levels[silver].threshold`, since positions shift as the file is edited.
 */
export function formatProgramIssues(raw: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.length ? programPath(raw, issue.path) : '(root)'}: ${issue.message}`);
}

function programPath(raw: unknown, path: readonly PropertyKey[]): string {
  let text = '';
  let node: unknown = raw;
  for (const segment of path) {
    const element = Array.isArray(node) && typeof segment === 'number' ? node[segment] : undefined;
    // Automatic reward rules have no code of their own: the reward they issue names them.
    const named = element !== null && typeof element === 'object' ? (element as { code?: unknown; reward?: unknown }) : undefined;
    const code = typeof named?.code === 'string' ? named.code : named?.reward;
    if (typeof code === 'string' && code.length > 0 && code.length <= 64) text += `[${code}]`;
    else text += text ? `.${String(segment)}` : String(segment);
    node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[segment] : undefined;
  }
  return text;
}

export async function loadProgram(path: string): Promise<Program> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError('the environment', [`PROGRAM_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`]);
  }
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`]);
  }
  return parseProgram(raw, path);
}
