import { isDomainError } from '../errors.js';
import { expiryFor } from '../ledger/expiry.js';
import type { Actor } from '../ledger/types.js';
import type { Member } from '../members/member.js';
import type { ChatRecipient, DomainDeps, Notification, Repositories } from '../ports.js';
import type { Locale, NpsProgram, NpsReason } from '../program.js';
import { referralTokenOf } from '../tasks/referrals.js';
import { groupOf, isScore, type NpsGroup } from './score.js';
import type { Survey } from './types.js';

/**
 * Answering a survey in the chat. Every tap is only a request: the survey must be this member's,
 * still open, and the score 0-10, checked here on the server under a row lock, whatever the
 * callback data said. Answers that come too late, or for someone else's survey, change nothing.
 */

export const NPS_DISPATCH_JOB = 'nps-dispatch';
/** One purchase's survey, a delayed job due `delayMinutes` after the purchase. */
export const NPS_SURVEY_JOB = 'nps-survey';
const jobActor: Actor = { type: 'JOB', id: NPS_DISPATCH_JOB };
const memberActor: Actor = { type: 'MEMBER' };

/** Dedupe key of the survey message in the delivery outbox. */
export const SURVEY_MESSAGE_PREFIX = 'nps:';
export const surveyMessageKey = (surveyId: number) => `${SURVEY_MESSAGE_PREFIX}${surveyId}`;
/** Ledger key of the survey's reward: once per survey. */
export const surveyRewardKey = (surveyId: number) => `nps:${surveyId}`;
/** Dedupe key of a detractor alert to one chat. */
export const SURVEY_ALERT_PREFIX = 'nps-alert:';
export const surveyAlertKey = (surveyId: number, chatId: number) => `${SURVEY_ALERT_PREFIX}${surveyId}:${chatId}`;

const MINUTE = 60_000;
const DAY = 86_400_000;
export const MAX_COMMENT_LENGTH = 1000;

/**
 * Where a survey stands at `now`: `open` (sent, not answered yet), `answered` (the score may still
 * change and the follow-up still be given), `closed` (too late: nothing changes any more).
 */
export type SurveyPhase = 'open' | 'answered' | 'closed';

export function phaseOf(survey: Survey, now: Date, config: NpsProgram): SurveyPhase {
  if (survey.status === 'CLOSED') return 'closed';
  if (survey.status === 'SENT') return now.getTime() < survey.sentAt.getTime() + config.answerWithinDays * DAY ? 'open' : 'closed';
  const answeredAt = survey.answeredAt?.getTime() ?? 0;
  return now.getTime() < answeredAt + config.changeWindowMinutes * MINUTE ? 'answered' : 'closed';
}

/** The program's quick-reply reasons for a group. */
export const reasonsFor = (config: NpsProgram, group: NpsGroup): NpsReason[] => config.reasons[group];

/** Why a tap changed nothing: a survey that is not this member's (or does not exist), one that is over, a score outside 0-10. */
export type Refusal = { outcome: 'unknown' } | { outcome: 'closed' } | { outcome: 'invalid' };

export type AnswerResult =
  /** `followUp`: ask the group's follow-up question (first answer, or a change to another group). */
  { outcome: 'answered' | 'changed'; survey: Survey; followUp: boolean } | { outcome: 'same'; survey: Survey } | Refusal;

async function activeMemberOf(deps: DomainDeps, telegramId: number): Promise<Member | null> {
  const member = await deps.repos.members.findByTelegramId(telegramId);
  return member?.status === 'ACTIVE' ? member : null;
}

/** The 0-10 answer (a first answer, or a change within the change window). */
export async function answerSurvey(deps: DomainDeps, input: { telegramId: number; surveyId: number; score: number }): Promise<AnswerResult> {
  if (!isScore(input.score)) return { outcome: 'invalid' };
  const member = await activeMemberOf(deps, input.telegramId);
  if (!member) return { outcome: 'unknown' };
  const config = deps.program.nps;
  const now = deps.clock.now();
  const group = groupOf(input.score);
  const result = await deps.uow.run(async (repos): Promise<AnswerResult> => {
    const survey = await repos.surveys.lock(input.surveyId);
    if (!survey || survey.memberId !== member.id) return { outcome: 'unknown' };
    const phase = phaseOf(survey, now, config);
    if (phase === 'closed') return { outcome: 'closed' };
    if (phase === 'open') {
      const answered = await repos.surveys.update(survey.id, { status: 'ANSWERED', score: input.score, group, answeredAt: now, reasons: [] });
      // Tasks that ask for an answered survey follow this event (committed with the answer).
      await repos.outbox.publish({ type: 'surveyAnswered', id: `survey:${survey.id}`, memberId: member.id, surveyCode: 'nps', score: input.score, at: now });
      return { outcome: 'answered', survey: answered, followUp: true };
    }
    if (survey.score === input.score) return { outcome: 'same', survey };
    // Another group asks another follow-up question: its reasons start afresh, and the follow-up
    // is open again (a reward already given is not given twice, nor an alert already sent).
    const regrouped = survey.group !== group;
    const changed = await repos.surveys.update(survey.id, {
      score: input.score,
      group,
      ...(regrouped ? { reasons: [], completedAt: null } : {}),
    });
    return { outcome: 'changed', survey: changed, followUp: regrouped };
  });
  return result;
}

export type ReasonResult = { outcome: 'toggled'; survey: Survey } | Refusal;

/** A quick-reply reason tapped: added, or taken back when it was chosen already. */
export async function toggleSurveyReason(deps: DomainDeps, input: { telegramId: number; surveyId: number; code: string }): Promise<ReasonResult> {
  const member = await activeMemberOf(deps, input.telegramId);
  if (!member) return { outcome: 'unknown' };
  const config = deps.program.nps;
  const now = deps.clock.now();
  return deps.uow.run(async (repos): Promise<ReasonResult> => {
    const survey = await repos.surveys.lock(input.surveyId);
    if (!survey || survey.memberId !== member.id) return { outcome: 'unknown' };
    if (phaseOf(survey, now, config) !== 'answered' || survey.group === null) return { outcome: 'closed' };
    if (!reasonsFor(config, survey.group).some((reason) => reason.code === input.code)) return { outcome: 'invalid' };
    const reasons = survey.reasons.includes(input.code) ? survey.reasons.filter((code) => code !== input.code) : [...survey.reasons, input.code];
    return { outcome: 'toggled', survey: await repos.surveys.update(survey.id, { reasons }) };
  });
}

export type CompleteResult =
  | {
      outcome: 'completed';
      survey: Survey;
      /** Points credited by this call (0: none configured, or given before). */
      reward: number;
      /** A promoter's invite token (they are offered their referral link); null for the others. */
      referralToken: string | null;
    }
  | Refusal;

export type AlertNotification = Extract<Notification, { kind: 'npsAlert' }>;

const firstName = (name: string | null) => name?.trim().split(/\s+/)[0] || null;

/**
 * The follow-up is over: the comment (if any) is kept, the reward credited once (ledger key
 * `nps:<surveyId>`), and a detractor's answer marked for the alert. Runs inside the caller's
 * transaction with the survey locked; the alert itself is sent after commit.
 */
async function finish(
  deps: DomainDeps,
  repos: Repositories,
  survey: Survey,
  member: Member,
  now: Date,
  actor: Actor,
  patch: { comment?: string | null; status?: 'CLOSED' },
): Promise<{ survey: Survey; reward: number; alert: AlertNotification | null }> {
  const config = deps.program.nps;
  let reward = 0;
  if (config.rewardPoints > 0) {
    const key = surveyRewardKey(survey.id);
    if ((await repos.ledger.findByKeys([key])).length === 0) {
      try {
        const posted = await repos.ledger.post({
          kind: 'credit',
          type: 'BONUS',
          memberId: member.id,
          amount: config.rewardPoints,
          idempotencyKey: key,
          actor,
          reason: 'nps',
          storeId: survey.storeId,
          expiresAt: expiryFor(deps.program.points.expiry, now, deps.program.timezone),
        });
        if (!posted.replayed) reward = posted.entry.amount;
      } catch (error) {
        // Rewarded before under another amount (the program changed since): once is enough.
        if (!isDomainError(error, 'IDEMPOTENCY_CONFLICT')) throw error;
      }
    }
  }
  const alerting = survey.group === 'detractor' && survey.alertedAt === null;
  const updated = await repos.surveys.update(survey.id, {
    ...(patch.comment !== undefined ? { comment: patch.comment } : {}),
    ...(survey.completedAt === null ? { completedAt: now } : {}),
    ...(alerting ? { alertedAt: now } : {}),
    ...(patch.status ? { status: patch.status, closedAt: now } : {}),
  });
  return { survey: updated, reward, alert: alerting ? await alertFor(repos, updated, member) : null };
}

/** A detractor's answer as the staff read it. */
export async function alertFor(repos: Repositories, survey: Survey, member: Member): Promise<AlertNotification | null> {
  if (survey.score === null) return null;
  const store = survey.storeId === null ? null : await repos.stores.findById(survey.storeId);
  return {
    kind: 'npsAlert',
    surveyId: survey.id,
    score: survey.score,
    reasons: survey.reasons,
    comment: survey.comment,
    storeName: store?.name ?? null,
    memberName: firstName(member.name),
    memberCode: member.code,
  };
}

/**
 * Who hears about a detractor: the manager chat when the program names one (in `alertLocale`: a
 * group has no language of its own); otherwise the store's cashiers, and the admins when the store
 * has none (or there is no store). Each person reads it in their own language when it is known.
 */
export async function alertRecipients(deps: DomainDeps, storeId: number | null): Promise<ChatRecipient[]> {
  const { managerChatId, alertLocale } = deps.program.nps;
  if (managerChatId !== null) return [{ chatId: managerChatId, locale: alertLocale }];
  const staff = storeId === null ? [] : await deps.repos.staff.listByStore(storeId);
  const people =
    staff.length > 0
      ? staff.map((person) => ({ telegramId: person.telegramId, locale: person.locale ?? null }))
      : deps.adminTelegramIds.map((telegramId) => ({ telegramId, locale: null }));
  const recipients: ChatRecipient[] = [];
  for (const person of people)
    recipients.push({ chatId: person.telegramId, locale: person.locale ?? (await personLocale(deps, person.telegramId)) ?? alertLocale });
  return recipients;
}

/**
 * The language a person uses the bot in, when known: the one they accepted their staff invite
 * in (an admin may have a staff row too), else the one they chose as a member.
 */
async function personLocale(deps: DomainDeps, telegramId: number): Promise<Locale | null> {
  const staff = await deps.repos.staff.findByTelegramId(telegramId);
  if (staff?.locale) return staff.locale;
  return (await deps.repos.members.findByTelegramId(telegramId))?.locale ?? null;
}

/** Sends the alert to every recipient, through the delivery queue (once per survey and chat). */
export async function sendAlert(deps: DomainDeps, alert: AlertNotification, storeId: number | null): Promise<number> {
  const notifyChat = deps.notifier.notifyChat?.bind(deps.notifier);
  if (!notifyChat) throw new Error('the notifier cannot send to chats: NPS alerts need notifyChat');
  const recipients = await alertRecipients(deps, storeId);
  for (const recipient of recipients) {
    await notifyChat(recipient, alert, { dedupeKey: surveyAlertKey(alert.surveyId, recipient.chatId), class: 'transactional' });
  }
  return recipients.length;
}

/** The member finished the follow-up: "Done", or a comment typed. Thanks, reward, and a detractor's alert. */
export async function completeSurvey(deps: DomainDeps, input: { telegramId: number; surveyId: number; comment: string | null }): Promise<CompleteResult> {
  const member = await activeMemberOf(deps, input.telegramId);
  if (!member) return { outcome: 'unknown' };
  const config = deps.program.nps;
  const now = deps.clock.now();
  const comment = input.comment === null ? null : input.comment.trim().slice(0, MAX_COMMENT_LENGTH) || null;
  const done = await deps.uow.run(async (repos) => {
    const survey = await repos.surveys.lock(input.surveyId);
    if (!survey || survey.memberId !== member.id) return { outcome: 'unknown' as const };
    if (phaseOf(survey, now, config) !== 'answered') return { outcome: 'closed' as const };
    const finished = await finish(deps, repos, survey, member, now, memberActor, comment === null ? {} : { comment });
    return { outcome: 'done' as const, ...finished };
  });
  if (done.outcome !== 'done') return done;
  if (done.alert) await sendAlert(deps, done.alert, done.survey.storeId);
  // The invite link carries the member's opaque token, never the card code.
  const referralToken = done.survey.group === 'promoter' ? await referralTokenOf(deps, member) : null;
  return { outcome: 'completed', survey: done.survey, reward: done.reward, referralToken };
}

/**
 * Closes what is over at `now`: unanswered surveys past `answerWithinDays`, and answered ones
 * past the change window (a follow-up left unfinished is finished then: the reward is credited
 * and a detractor's alert sent, so that walking away loses neither). Safe to rerun.
 */
export async function closeDueSurveys(
  deps: DomainDeps,
  options: { batchSize?: number } = {},
): Promise<{ unanswered: number; closed: number; finished: number; alerts: number }> {
  const now = deps.clock.now();
  const config = deps.program.nps;
  const run = { unanswered: 0, closed: 0, finished: 0, alerts: 0 };
  run.unanswered = await deps.repos.surveys.closeUnanswered(new Date(now.getTime() - config.answerWithinDays * DAY), now);
  const before = new Date(now.getTime() - config.changeWindowMinutes * MINUTE);
  const batchSize = options.batchSize ?? 500;
  let afterId = 0;
  for (;;) {
    const due = await deps.repos.surveys.answeredBefore(before, afterId, batchSize);
    for (const candidate of due) {
      const closed = await deps.uow.run(async (repos) => {
        const survey = await repos.surveys.lock(candidate.id);
        if (!survey || phaseOf(survey, now, config) !== 'closed' || survey.status !== 'ANSWERED') return null;
        const member = await repos.members.findById(survey.memberId);
        // Finished already, or the member has left since (no reward, no alert then): just closed.
        if (member?.status !== 'ACTIVE' || survey.completedAt !== null) {
          await repos.surveys.update(survey.id, { status: 'CLOSED', closedAt: now });
          return { finished: false, alert: null, storeId: survey.storeId };
        }
        const finished = await finish(deps, repos, survey, member, now, jobActor, { status: 'CLOSED' });
        return { finished: true, alert: finished.alert, storeId: survey.storeId };
      });
      if (!closed) continue;
      run.closed++;
      if (closed.finished) run.finished++;
      if (closed.alert) run.alerts += (await sendAlert(deps, closed.alert, closed.storeId)) > 0 ? 1 : 0;
    }
    const last = due.at(-1);
    if (last === undefined || due.length < batchSize) break;
    afterId = last.id;
  }
  // Alerts the process had no time to hand to the outbox after their transaction committed.
  const lost = await deps.repos.surveys.alertedWithoutMessage({ since: new Date(now.getTime() - DAY), dedupeKeyPrefix: SURVEY_ALERT_PREFIX, limit: batchSize });
  for (const survey of lost) {
    const member = await deps.repos.members.findById(survey.memberId);
    const alert = member ? await alertFor(deps.repos, survey, member) : null;
    if (alert && (await sendAlert(deps, alert, survey.storeId)) > 0) run.alerts++;
  }
  return run;
}
