import { z } from 'zod';
import { NPS_GROUPS } from '../nps/score.js';
import type { Locale } from '../program.js';
import { LOCALES } from '../program.js';
import { MAX_POINTS } from '../purchases/request.js';

/**
 * Who a broadcast (or an NPS survey) goes to: the one declaration of a segment's fields, their
 * shapes and ranges. The `Segment` type is inferred from it, the HTTP API takes it as is (its
 * descriptions are the OpenAPI document's), and the chat's audience builder validates what it
 * keeps with it. What needs the program (tier codes) or other fields (contradictions) is
 * checked by `segmentProblems` (segment.ts).
 *
 * Every filter that is set must hold (AND); a list matches any of its values (OR). An empty
 * segment is everyone. Whatever the filters, only ACTIVE members who take marketing messages
 * (`notificationsEnabled`) and are reachable receive it.
 */

export const MAX_SEGMENT_DAYS = 3650;
const days = z.int().min(1).max(MAX_SEGMENT_DAYS);

export const segmentSchema = z
  .strictObject({
    /** Tier codes of the program. */
    tiers: z.array(z.string().min(1).max(32)).min(1).max(20).optional().describe('Tier codes of the program (any of)'),
    languages: z
      .array(z.enum(LOCALES as [Locale, ...Locale[]]))
      .min(1)
      .optional(),
    /** A member's home store is the store of their latest purchase. */
    stores: z.array(z.string().min(1).max(32)).min(1).max(100).optional().describe('Home store codes: the store of the latest purchase'),
    /** Members who never bought do not match: see `neverPurchased`. */
    lastPurchaseOlderThanDays: days.optional().describe('The latest purchase is more than N days old (members who never bought do not match)'),
    lastPurchaseWithinDays: days.optional().describe('At least one purchase in the last N days'),
    registeredWithinDays: days.optional(),
    birthdayThisMonth: z.boolean().optional().describe("In the program's time zone"),
    /** Members who never answered do not match. */
    npsGroups: z.array(z.enum(NPS_GROUPS)).min(1).optional().describe('Group of the latest NPS answer'),
    /** Points (open lots) expiring within the next N days. */
    pointsExpiringWithinDays: days.optional(),
    minBalance: z.int().nonnegative().max(MAX_POINTS).optional().describe(`Points; at most ${MAX_POINTS}`),
    neverPurchased: z.boolean().optional(),
  })
  .describe('Every filter given must hold; a list matches any of its values. Only active members who accept offers and are reachable receive it.');

export type Segment = z.infer<typeof segmentSchema>;
