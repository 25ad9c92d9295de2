import type { MemberNotice, Notifier } from '../ports.js';

/**
 * Hands a batch of notices to the notifier at once: one outbox write and one queue call for the
 * batch where the notifier can (`notifyMany`), one call per notice where it cannot (test doubles).
 * The dedupe keys make a rerun write nothing new either way.
 */
export async function notifyAll(notifier: Notifier, notices: readonly MemberNotice[]): Promise<void> {
  if (notices.length === 0) return;
  if (notifier.notifyMany) {
    await notifier.notifyMany(notices);
    return;
  }
  for (const notice of notices) {
    await notifier.notify(notice.memberId, notice.notification, { dedupeKey: notice.dedupeKey, class: notice.class });
  }
}
