import { DomainError } from '../errors.js';
import type { FieldProblem } from './segment.js';
import type { BroadcastContent } from './types.js';

/** Telegram's limits: message text 1-4096 characters, photo caption 0-1024 (UTF-16 code units). */
export const MAX_TEXT = 4096;
export const MAX_CAPTION = 1024;
export const MAX_BUTTON_TEXT = 64;
const MAX_ENTITIES = 100;
const URL_PATTERN = /^(https?:\/\/[^\s/$.?#][^\s]*|tg:\/\/[^\s]+)$/i;

export const isButtonUrl = (url: string) => url.length <= 2048 && URL_PATTERN.test(url);

/**
 * What is wrong with the message of a broadcast; [] when nothing. `reserve`: room to leave at the
 * end of the text (a personal offer's coupon line, OFFER_LINE_RESERVE).
 */
export function contentProblems(content: BroadcastContent, options: { reserve?: number } = {}): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const { text } = content;
  const limit = (content.photoFileId ? MAX_CAPTION : MAX_TEXT) - (options.reserve ?? 0);
  if (!content.photoFileId && text.trim().length === 0) problems.push({ field: 'text', message: 'the message text is empty' });
  if (text.length > limit)
    problems.push({
      field: 'text',
      message:
        `${text.length} characters, at most ${limit} ${content.photoFileId ? 'under a photo' : ''}${options.reserve ? ' with a personal coupon' : ''}`.trim(),
    });
  if (content.photoFileId !== null && content.photoFileId.trim().length === 0) problems.push({ field: 'photo', message: 'an empty file id' });
  if (content.entities.length > MAX_ENTITIES) problems.push({ field: 'entities', message: `at most ${MAX_ENTITIES} formatting entities` });
  content.entities.forEach((entity, i) => {
    const { offset, length } = entity;
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 1 || offset + length > text.length) {
      problems.push({ field: `entities.${i}`, message: `offset ${offset} and length ${length} do not lie within the text (${text.length} UTF-16 code units)` });
    }
    if (entity.type === 'text_link' && (typeof entity.url !== 'string' || !isButtonUrl(entity.url))) {
      problems.push({ field: `entities.${i}.url`, message: 'a text_link needs an http(s) or tg:// url' });
    }
  });
  if (content.button) {
    const label = content.button.text.trim();
    if (label.length === 0 || label.length > MAX_BUTTON_TEXT) problems.push({ field: 'button.text', message: `1 to ${MAX_BUTTON_TEXT} characters` });
    if (!isButtonUrl(content.button.url)) problems.push({ field: 'button.url', message: 'an http(s) URL or a t.me / tg:// link' });
  }
  return problems;
}

export function assertContent(content: BroadcastContent, options: { reserve?: number } = {}): void {
  const problem = contentProblems(content, options)[0];
  if (problem) throw new DomainError('BROADCAST_INVALID', { field: problem.field, message: problem.message });
}
