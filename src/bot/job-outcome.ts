import type { Formatter } from './format.js';
import type { Translate } from './i18n.js';

/**
 * A job run's counts as the operator reads them in /queues ("members 3 · gifts 3 · points
 * 600"), not as JSON. Each key is named by `admin.outcome.<key>` when the locale has it, else by
 * the key itself with its words spaced out, so a job that reports something new still reads.
 */
export function describeOutcome(t: Translate, fmt: Formatter, outcome: Record<string, unknown> | null | undefined): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(outcome ?? {})) {
    if (value === null || value === undefined || typeof value === 'object') continue;
    const label = t(`admin.outcome.${key}`, { defaultValue: key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase() });
    if (typeof value === 'number') parts.push(`${label} ${fmt.number(value)}`);
    else if (typeof value === 'boolean') parts.push(`${label}: ${t(value ? 'admin.outcome.yes' : 'admin.outcome.no')}`);
    else parts.push(`${label}: ${t(`admin.outcome.value.${value}`, { defaultValue: String(value) })}`);
  }
  return parts.length > 0 ? parts.join(' · ') : t('admin.outcome.nothing');
}
