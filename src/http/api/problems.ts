import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isDatabaseUnavailable } from '../../db/errors.js';
import { type ErrorCode, isDomainError } from '../../domain/errors.js';

/**
 * Errors of the till/CRM API as RFC 9457 problem details (`application/problem+json`).
 *
 * Every error code, the domain's and the transport's own, is mapped here once: HTTP status,
 * title, and (for input errors) the request field it concerns. Routes never pick a status
 * for an error; they throw a DomainError or an ApiProblem and the error handler renders it.
 */

/** Codes the HTTP transport adds to the domain's. */
export type TransportCode =
  | 'UNAUTHORIZED'
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'BAD_REQUEST'
  | 'ROUTE_NOT_FOUND'
  | 'RATE_LIMITED'
  | 'INTERNAL'
  | 'SERVICE_UNAVAILABLE';

export type ProblemCode = ErrorCode | TransportCode;

interface ProblemKind {
  status: number;
  title: string;
  /** The request field an error of this code is about, when the domain does not name one. */
  field?: string;
}

export const PROBLEMS: Record<ProblemCode, ProblemKind> = {
  // Transport
  UNAUTHORIZED: { status: 401, title: 'Missing, invalid or revoked API key' },
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be application/json' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such endpoint' },
  RATE_LIMITED: { status: 429, title: 'Too many requests for this API key' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'The service is temporarily unavailable' },
  // Domain: input the domain refused
  AMOUNT_INVALID: { status: 400, title: 'The amount must be a positive whole number of minor units', field: 'amountMinor' },
  RECEIPT_INVALID: { status: 400, title: 'The receipt number is not valid', field: 'receiptNo' },
  MEMBER_CODE_INVALID: { status: 400, title: 'The member card code is not valid (check character mismatch)', field: 'memberCode' },
  PHONE_INVALID: { status: 400, title: 'The phone number is not valid', field: 'memberCode' },
  STORE_CODE_INVALID: { status: 400, title: 'The store code is not valid', field: 'storeCode' },
  NAME_INVALID: { status: 400, title: 'The name is not valid', field: 'name' },
  REASON_REQUIRED: { status: 400, title: 'A reason is required', field: 'reason' },
  BIRTHDAY_FORMAT: { status: 400, title: 'The birthday is not in the expected format', field: 'birthday' },
  BIRTHDAY_INVALID_DATE: { status: 400, title: 'The birthday is not a calendar date', field: 'birthday' },
  BIRTHDAY_FUTURE: { status: 400, title: 'The birthday is in the future', field: 'birthday' },
  BIRTHDAY_TOO_OLD: { status: 400, title: 'The birthday is too far in the past', field: 'birthday' },
  FOREIGN_CONTACT: { status: 400, title: 'The contact belongs to someone else' },
  INVITE_INVALID: { status: 400, title: 'The invite is not valid' },
  REWARD_INVALID: { status: 400, title: 'The reward is not valid' },
  COUPON_CODE_INVALID: { status: 400, title: 'The coupon code is not valid (check character mismatch)', field: 'couponCode' },
  BROADCAST_INVALID: { status: 400, title: 'The broadcast message is not valid', field: 'text' },
  SEGMENT_INVALID: { status: 400, title: 'The segment is not valid', field: 'segment' },
  SCHEDULE_INVALID: { status: 400, title: 'The start time must be in the future (within a year)', field: 'scheduledAt' },
  // Domain: things that do not exist
  MEMBER_NOT_FOUND: { status: 404, title: 'No active member with this card code or phone' },
  MEMBER_NOT_ACTIVE: { status: 404, title: 'The member is not active' },
  STORE_NOT_FOUND: { status: 404, title: 'No active store with this code', field: 'storeCode' },
  PURCHASE_NOT_FOUND: { status: 404, title: 'No purchase with this receipt number at this store', field: 'receiptNo' },
  REWARD_NOT_FOUND: { status: 404, title: 'No such reward' },
  COUPON_NOT_FOUND: { status: 404, title: 'No such coupon', field: 'couponCode' },
  BROADCAST_NOT_FOUND: { status: 404, title: 'No such broadcast' },
  TASK_NOT_FOUND: { status: 404, title: 'No such task' },
  SPEND_REQUEST_NOT_FOUND: { status: 404, title: 'No such spend request for this API key and member', field: 'spendRequestId' },
  API_KEY_NOT_FOUND: { status: 404, title: 'No such API key' },
  // Domain: conflicts with what was recorded before
  IDEMPOTENCY_CONFLICT: { status: 409, title: 'This Idempotency-Key was used for a different request' },
  RECEIPT_DUPLICATE: { status: 409, title: 'This receipt was recorded before with different data' },
  PHONE_TAKEN: { status: 409, title: 'The phone number belongs to another member' },
  WRONG_STEP: { status: 409, title: 'The action does not fit the current state' },
  ALREADY_REDEEMED: { status: 409, title: 'The coupon has been redeemed already' },
  BROADCAST_NOT_CANCELLABLE: { status: 409, title: 'The broadcast has finished or was cancelled already' },
  TASK_ALREADY_CLAIMED: { status: 409, title: 'The reward of this task has been claimed already' },
  // Domain: understood, but the rules say no
  INSUFFICIENT_POINTS: { status: 422, title: 'The member does not have enough points' },
  POINTS_OVER_CAP: { status: 422, title: 'Points may pay only part of the bill', field: 'pointsToSpend' },
  BELOW_MINIMUM_PURCHASE: { status: 422, title: 'The purchase is below the program minimum', field: 'amountMinor' },
  RETURN_EXCEEDS_PURCHASE: { status: 422, title: 'The return exceeds what is left of the purchase', field: 'amountMinor' },
  REWARD_UNAVAILABLE: { status: 422, title: 'The reward is not available now' },
  OUT_OF_STOCK: { status: 422, title: 'The reward is out of stock' },
  LIMIT_REACHED: { status: 422, title: 'The member has reached the limit for this reward' },
  TIER_TOO_LOW: { status: 422, title: "The member's tier is too low for this reward" },
  COUPON_EXPIRED: { status: 422, title: 'The coupon has expired' },
  COUPON_CANCELLED: { status: 422, title: 'The coupon has been cancelled' },
  TASK_NOT_COMPLETED: { status: 422, title: 'The task is not completed' },
  // Spending needs the member's proof of presence: a spend code or an approved spend request.
  SPEND_PROOF_REQUIRED: {
    status: 422,
    title: "Paying with points needs the member's consent: a spendCode from the bot's Card screen or an approved spendRequestId",
    field: 'spendCode',
  },
  SPEND_CODE_INVALID: { status: 422, title: 'The spend code is wrong, expired or used', field: 'spendCode' },
  SPEND_REQUEST_INVALID: {
    status: 422,
    title: 'The spend request is not approved, expired, used, or for other points or another store',
    field: 'spendRequestId',
  },
  OWN_CARD: { status: 403, title: 'Staff may not book on their own member card (nor through an API key they created)', field: 'memberCode' },
  // Domain: who may do what, and how often
  FORBIDDEN: { status: 403, title: 'This API key may not do this' },
  TOO_MANY_ATTEMPTS: { status: 429, title: 'Too many attempts; try again later' },
  SPENDING_LOCKED: { status: 429, title: "Too many wrong spend codes: the member's spending is locked for a while", field: 'spendCode' },
  // Charity
  CAUSE_NOT_FOUND: { status: 404, title: 'No such open charity cause', field: 'cause' },
  DONATION_TOO_SMALL: { status: 422, title: "The donation is below the program's minimum", field: 'points' },
  MONTH_INVALID: { status: 400, title: 'The month must be YYYY-MM', field: 'month' },
};

export interface FieldError {
  field: string;
  message: string;
}

/** A transport-level problem (authentication, validation, rate limit...). */
export class ApiProblem extends Error {
  constructor(
    readonly code: TransportCode,
    readonly options: { detail?: string; errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(code);
    this.name = 'ApiProblem';
  }
}

export const validationProblem = (errors: FieldError[]) =>
  new ApiProblem('VALIDATION_FAILED', { detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors });

/** Zod issues as field errors; an unknown key is named as the field. */
export function fieldErrors(error: z.ZodError, root = 'body'): FieldError[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: path ? `${path}.${key}` : key, message: 'is not a known field' }));
    return [{ field: path || root, message: issue.message }];
  });
}

/** The body of a problem response (RFC 9457 members plus `code`, `errors` and `details`). */
export const problemSchema = z
  .object({
    type: z.string().describe('A URI identifying the problem type; stable per `code`'),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.enum(Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]]).describe('Stable machine-readable code, e.g. MEMBER_NOT_FOUND'),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe('For input errors: which request fields are wrong and why'),
    details: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .optional()
      .describe('Numbers a client may show, e.g. `max` for POINTS_OVER_CAP, `remaining` for RETURN_EXCEEDS_PURCHASE'),
  })
  .meta({ id: 'Problem' });

export type Problem = z.infer<typeof problemSchema>;

export const problemType = (code: ProblemCode) => `tag:loyalty-bot,2026:problem:${code.toLowerCase().replaceAll('_', '-')}`;

export interface RenderedProblem {
  body: Problem;
  headers: Record<string, string>;
}

function render(code: ProblemCode, extra: { detail?: string | undefined; errors?: FieldError[] | undefined; details?: Problem['details'] }): Problem {
  const kind = PROBLEMS[code];
  const body: Problem = { type: problemType(code), title: kind.title, status: kind.status, detail: extra.detail ?? kind.title, code };
  if (extra.errors?.length) body.errors = extra.errors;
  if (extra.details && Object.keys(extra.details).length > 0) body.details = extra.details;
  return body;
}

/** How long a client should wait before retrying while the database is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 10;

/** Any error as a problem; null when it is unexpected (a 500 the caller must log). */
export function toProblem(error: unknown): RenderedProblem | null {
  if (error instanceof ApiProblem) return { body: render(error.code, error.options), headers: error.options.headers ?? {} };
  // An outage, not a bug: the request may be sent again later (with its Idempotency-Key, it is
  // replayed if it did commit before the connection went).
  if (isDatabaseUnavailable(error)) {
    return {
      body: render('SERVICE_UNAVAILABLE', { detail: 'The database cannot be reached right now; retry the request later with the same Idempotency-Key.' }),
      headers: { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
    };
  }
  if (isDomainError(error)) {
    const { field: namedField, ...details } = error.details;
    const kind = PROBLEMS[error.code];
    const field = typeof namedField === 'string' ? namedField : kind.field;
    // Any refusal about one request field names it (a 422 over the points cap as well as a 400).
    const errors = field ? [{ field, message: kind.title }] : undefined;
    // The brute-force guards on coupon and spend codes say how long to wait, as the rate limit does.
    const wait = error.code === 'TOO_MANY_ATTEMPTS' || error.code === 'SPENDING_LOCKED' ? details.retryAfterSeconds : undefined;
    return { body: render(error.code, { errors, details }), headers: typeof wait === 'number' ? { 'Retry-After': String(wait) } : {} };
  }
  const fastifyError = error as Partial<FastifyError> | null;
  const status = typeof fastifyError?.statusCode === 'number' ? fastifyError.statusCode : 0;
  if (status >= 400 && status < 500) {
    // Errors Fastify raises before a handler runs (body parsing); their messages carry no data.
    if (fastifyError?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fastifyError?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      return { body: render('MALFORMED_JSON', { detail: fastifyError.message }), headers: {} };
    if (status === 415) return { body: render('UNSUPPORTED_MEDIA_TYPE', {}), headers: {} };
    if (status === 413) return { body: render('PAYLOAD_TOO_LARGE', {}), headers: {} };
    return { body: { ...render('BAD_REQUEST', { detail: fastifyError?.message }), status }, headers: {} };
  }
  return null;
}

export function sendProblem(reply: FastifyReply, problem: RenderedProblem): FastifyReply {
  return reply.code(problem.body.status).headers(problem.headers).type('application/problem+json').send(problem.body);
}

/** The API's error handler: expected errors become problems, anything else a logged 500. */
export function problemErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = toProblem(error);
  if (problem) {
    if (problem.body.status === 503) request.log.warn({ err: error, route: request.routeOptions.url }, 'database unavailable; answered 503');
    return sendProblem(reply, problem);
  }
  // The stack goes to the log, never to the client. Only the route template is logged: URLs
  // and bodies may carry card codes or phone numbers.
  request.log.error({ err: error, route: request.routeOptions.url, method: request.method }, 'unexpected error in API request');
  return sendProblem(reply, {
    body: render('INTERNAL', { detail: 'Something went wrong on our side; the request may be retried with the same Idempotency-Key.' }),
    headers: {},
  });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, { body: render('ROUTE_NOT_FOUND', { detail: `No endpoint ${request.method} at this path` }), headers: {} });
}
