import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, formatIssues } from './config.js';
import type { Program } from './domain/program.js';

/**
 * The loyalty program file (YAML or JSON): what a chain configures without touching code.
 * Validated once at start-up; unknown keys are refused so that a typo cannot silently
 * switch a rule off. The parsed value is the domain's `Program` type.
 */

const localized = z.object({ ru: z.string().min(1), en: z.string().min(1) }).strict();
const percent = z.number().min(0).max(100).multipleOf(0.01);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

const earnRate = z.union([z.object({ pointsPerUnit: z.number().positive().max(1000).multipleOf(0.01) }).strict(), z.object({ percent: percent }).strict()]);

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
      .object({
        expiry: expirySchema.default({ kind: 'never' }),
        /** Share of a bill that may be paid with points. */
        maxBillSharePercent: percent.default(0),
        /** What one point is worth when paying, in minor currency units. */
        pointValueMinor: z.number().int().min(1).default(100),
      })
      .strict()
      .default({ expiry: { kind: 'never' }, maxBillSharePercent: 0, pointValueMinor: 100 }),
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
      .strict(),
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
  })
  .strict();

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
  if (!parsed.success) throw new ConfigError(source, formatIssues(parsed.error.issues));
  return parsed.data;
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
