import type { ExpiryPolicy } from '../program.js';
import { zonedParts, zonedTimeToUtc } from '../time.js';

/**
 * When points earned at `earnedAt` expire under the program's policy. `endOfMonth` counts
 * months in the program's time zone: points earned in March with monthsAfter=12 expire at
 * the first instant of April next year, local time.
 */
export function expiryFor(policy: ExpiryPolicy, earnedAt: Date, timeZone: string): Date | null {
  switch (policy.kind) {
    case 'never':
      return null;
    case 'days':
      return new Date(earnedAt.getTime() + policy.days * 86_400_000);
    case 'endOfMonth': {
      const local = zonedParts(earnedAt, timeZone);
      const monthIndex = local.month - 1 + policy.monthsAfter + 1;
      return zonedTimeToUtc({ year: local.year + Math.floor(monthIndex / 12), month: (monthIndex % 12) + 1, day: 1, hour: 0, minute: 0 }, timeZone);
    }
  }
}
