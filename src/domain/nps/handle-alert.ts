import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { requireRole } from '../staff/access.js';
import { type AlertNotification, alertFor } from './surveys.js';

export type HandleAlertResult =
  | {
      outcome: 'handled' | 'already';
      /** The alert as it was sent, to show again with who handled it. */
      alert: AlertNotification;
      handledAt: Date;
      /** Telegram id of who marked it handled (this person, or whoever was first). */
      handledBy: number;
      /** Their name as staff, null for admins and names never given. */
      handlerName: string | null;
    }
  | { outcome: 'unknown' };

/**
 * "Mark handled" under a detractor's alert. Staff of the survey's store, marketers and admins
 * may; the role is checked on the server for every tap (the button may sit in a group chat).
 * The first tap wins; later ones are told who handled it.
 */
export async function markAlertHandled(deps: DomainDeps, telegramId: number, surveyId: number): Promise<HandleAlertResult> {
  const principal = await requireRole(deps, telegramId, ['STAFF', 'MARKETER']);
  const survey = await deps.repos.surveys.findById(surveyId);
  if (!survey || survey.alertedAt === null) return { outcome: 'unknown' };
  if (principal.role === 'STAFF' && survey.storeId !== null && principal.storeId !== survey.storeId) throw new DomainError('FORBIDDEN');
  const now = deps.clock.now();
  const handled = await deps.repos.surveys.markHandled(survey.id, telegramId, now);
  if (handled) {
    await deps.repos.audit.record({
      actor: { type: principal.role === 'ADMIN' ? 'ADMIN' : 'STAFF', id: String(telegramId) },
      action: 'nps.alert_handled',
      subject: `survey:${survey.id}`,
    });
  }
  const current = (await deps.repos.surveys.findById(survey.id)) ?? survey;
  const member = await deps.repos.members.findById(current.memberId);
  const alert = member ? await alertFor(deps.repos, current, member) : null;
  if (!alert) return { outcome: 'unknown' };
  const handledBy = current.handledBy ?? telegramId;
  const handler = await deps.repos.staff.findByTelegramId(handledBy);
  return { outcome: handled ? 'handled' : 'already', alert, handledAt: current.handledAt ?? now, handledBy, handlerName: handler?.name ?? null };
}
