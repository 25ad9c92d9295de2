import { InlineKeyboard } from 'grammy';
import { formatCode } from '../domain/codes.js';
import { MAX_SCORE, MIN_SCORE, type NpsGroup } from '../domain/nps/score.js';
import type { Notification } from '../domain/ports.js';
import type { Locale, Program } from '../domain/program.js';
import { callbackData } from './callback-data.js';
import type { Translate } from './i18n.js';
import type { RenderedMessage } from './notifier.js';

/**
 * The NPS messages and their buttons. Callback data (each re-checked on the server):
 * `nps:s:<survey>:<score>` a score, `nps:r:<survey>:<reason>` a reason, `nps:d:<survey>` the
 * follow-up done, `nps:h:<survey>` an alert handled, `nps:x:<days>` the CSV export.
 */

export const NPS_PREFIX = 'nps';

/** The 0-10 question as two rows (0-5, 6-10); the chosen score, if any, is marked. */
export function scoreKeyboard(surveyId: number, chosen: number | null): InlineKeyboard {
  const keyboard = new InlineKeyboard();
  for (let score = MIN_SCORE; score <= MAX_SCORE; score++) {
    if (score === 6) keyboard.row();
    keyboard.text(score === chosen ? `•${score}•` : String(score), callbackData(NPS_PREFIX, 's', surveyId, score));
  }
  return keyboard;
}

export function renderSurveyQuestion(t: Translate, program: Program, locale: Locale, survey: Extract<Notification, { kind: 'npsSurvey' }>): RenderedMessage {
  const values = { program: program.name[locale], store: survey.storeName ?? '' };
  return { text: t(survey.storeName ? 'nps.ask_store' : 'nps.ask', values), replyMarkup: scoreKeyboard(survey.surveyId, null) };
}

/** A reason code as the program names it in `locale` (the code itself when no longer in the program). */
export function reasonTitle(program: Program, group: NpsGroup, code: string, locale: Locale): string {
  return program.nps.reasons[group].find((reason) => reason.code === code)?.title[locale] ?? code;
}

/** The follow-up's quick replies, two per row, the chosen ones ticked; then «Done». */
export function reasonKeyboard(
  t: Translate,
  program: Program,
  locale: Locale,
  survey: { id: number; group: NpsGroup; reasons: readonly string[] },
): InlineKeyboard {
  const keyboard = new InlineKeyboard();
  program.nps.reasons[survey.group].forEach((reason, i) => {
    if (i > 0 && i % 2 === 0) keyboard.row();
    const chosen = survey.reasons.includes(reason.code);
    keyboard.text(`${chosen ? '✅ ' : ''}${reason.title[locale]}`, callbackData(NPS_PREFIX, 'r', survey.id, reason.code));
  });
  return keyboard.row().text(`✔️ ${t('nps.done')}`, callbackData(NPS_PREFIX, 'd', survey.id));
}

type Alert = Extract<Notification, { kind: 'npsAlert' }>;

/** A detractor's answer as the staff read it. */
export function alertText(t: Translate, program: Program, locale: Locale, alert: Alert): string {
  const none = t('nps.alert.none');
  const lines = [
    t('nps.alert.title', { score: alert.score }),
    t('nps.alert.store', { store: alert.storeName ?? none }),
    t('nps.alert.customer', { name: alert.memberName ?? none, code: formatCode(alert.memberCode) }),
  ];
  const reasons = alert.reasons.map((code) => reasonTitle(program, 'detractor', code, locale));
  lines.push(t('nps.alert.reasons', { reasons: reasons.length > 0 ? reasons.join(', ') : none }));
  if (alert.comment) lines.push(t('nps.alert.comment', { comment: alert.comment }));
  return lines.join('\n');
}

export const handleKeyboard = (t: Translate, surveyId: number) => new InlineKeyboard().text(t('nps.alert.handle'), callbackData(NPS_PREFIX, 'h', surveyId));

export function renderNpsAlert(t: Translate, program: Program, locale: Locale, alert: Alert): RenderedMessage {
  return { text: alertText(t, program, locale, alert), replyMarkup: handleKeyboard(t, alert.surveyId) };
}
