import { z } from 'zod';
import type { NpsProgram, NpsReason } from './domain/program.js';

/**
 * The `nps` section of the program file (see programs/example.yaml): when surveys go out, how
 * long an answer may be changed, the quick-reply reasons per group, the optional reward and where
 * detractors' answers go. Every key has a default; unknown keys are refused.
 */

const localized = z.object({ ru: z.string().min(1).max(40), en: z.string().min(1).max(40) }).strict();

const reason = z
  .object({
    /** Kept in answers and statistics; part of the button's callback data, hence short. */
    code: z.string().regex(/^[a-z][a-z0-9_-]{0,15}$/, 'lower-case letters, digits, _ and -, up to 16 characters'),
    title: localized,
  })
  .strict();

const reasonList = z
  .array(reason)
  .max(8)
  .superRefine((reasons, ctx) => {
    reasons.forEach((r, i) => {
      if (reasons.findIndex((other) => other.code === r.code) !== i)
        ctx.addIssue({ code: 'custom', path: [i, 'code'], message: `duplicate reason code "${r.code}"` });
    });
  });

const r = (code: string, ru: string, en: string): NpsReason => ({ code, title: { ru, en } });

/** What a program without its own reasons offers. */
export const DEFAULT_NPS_REASONS: NpsProgram['reasons'] = {
  promoter: [
    r('staff', 'Приветливые сотрудники', 'Friendly staff'),
    r('choice', 'Хороший выбор', 'Good choice'),
    r('prices', 'Цены', 'Prices'),
    r('bonuses', 'Бонусы и подарки', 'Points and rewards'),
  ],
  passive: [
    r('choice', 'Выбор товаров', 'Choice of products'),
    r('prices', 'Цены', 'Prices'),
    r('queue', 'Очереди', 'Queues'),
    r('service', 'Обслуживание', 'Service'),
  ],
  detractor: [
    r('queue', 'Долгие очереди', 'Long queues'),
    r('staff', 'Невежливые сотрудники', 'Unfriendly staff'),
    r('prices', 'Высокие цены', 'High prices'),
    r('quality', 'Качество товаров', 'Product quality'),
    r('stock', 'Нужного не было', 'Out of stock'),
  ],
};

const npsDefault = (): NpsProgram => ({
  enabled: true,
  delayMinutes: 120,
  minDaysBetweenSurveys: 30,
  changeWindowMinutes: 60,
  answerWithinDays: 7,
  rewardPoints: 0,
  managerChatId: null,
  alertLocale: 'ru',
  reasons: structuredClone(DEFAULT_NPS_REASONS),
});

export const npsSchema = z
  .object({
    enabled: z.boolean().default(true),
    delayMinutes: z.number().int().min(0).max(10_080).default(120),
    minDaysBetweenSurveys: z.number().int().min(1).max(3650).default(30),
    changeWindowMinutes: z.number().int().min(1).max(10_080).default(60),
    answerWithinDays: z.number().int().min(1).max(90).default(7),
    rewardPoints: z.number().int().min(0).max(1_000_000).default(0),
    /** A Telegram chat id: a person (positive) or a group (negative). */
    managerChatId: z.number().int().safe().nullable().default(null),
    alertLocale: z.enum(['ru', 'en']).default('ru'),
    reasons: z
      .object({
        promoter: reasonList.default(() => structuredClone(DEFAULT_NPS_REASONS.promoter)),
        passive: reasonList.default(() => structuredClone(DEFAULT_NPS_REASONS.passive)),
        detractor: reasonList.default(() => structuredClone(DEFAULT_NPS_REASONS.detractor)),
      })
      .strict()
      .default(() => structuredClone(DEFAULT_NPS_REASONS)),
  })
  .strict()
  .default(npsDefault);
