import type { Broadcast, BroadcastCounts } from '../domain/broadcasts/types.js';
import type { Locale } from '../domain/program.js';
import type { I18n, Translate } from './i18n.js';

/** "45 s", "3 min 12 s", "2 h 5 min". */
export function formatDuration(t: Translate, ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return t('broadcast.duration.hours', { h, m });
  if (m > 0) return t('broadcast.duration.minutes', { m, s });
  return t('broadcast.duration.seconds', { s });
}

/** Delivered / blocked / failed / skipped of a running or finished broadcast. */
export function progressLine(t: Translate, broadcast: Broadcast, counts: BroadcastCounts): string {
  return t('broadcast.progress', {
    sent: counts.sent,
    audience: broadcast.audience,
    blocked: counts.blocked,
    failed: counts.failed,
    skipped: counts.skipped,
    pending: counts.pending,
  });
}

/** The final report the marketer gets when their broadcast is done. */
export function renderBroadcastReport(i18n: I18n, locale: Locale, broadcast: Broadcast, counts: BroadcastCounts): string {
  const t = i18n.t(locale);
  const start = broadcast.startedAt ?? broadcast.scheduledAt;
  const end = broadcast.finishedAt ?? new Date();
  return t('broadcast.report', {
    id: broadcast.id,
    duration: formatDuration(t, end.getTime() - start.getTime()),
    sent: counts.sent,
    blocked: counts.blocked,
    failed: counts.failed,
    skipped: counts.skipped,
  });
}
