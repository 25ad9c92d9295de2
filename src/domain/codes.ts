import { randomFillSync } from 'node:crypto';

/**
 * A uniform random integer in [0, max) from the crypto RNG, for max <= 256: one byte per draw,
 * bytes at or above the largest multiple of max are drawn again (rejection, so no value is
 * likelier than another). Bytes come from a pool filled 4 KiB at a time: crypto.randomInt costs
 * a call into the RNG per draw, and a code is a dozen draws.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
export function secureRandomBelow(max: number): number {
  if (!Number.isInteger(max) || max < 1 || max > 256) throw new RangeError(`max must be an integer in 1..256, got ${max}`);
  const limit = 256 - (256 % max);
  for (;;) {
    if (poolAt === pool.length) {
      randomFillSync(pool);
      poolAt = 0;
    }
    const byte = pool[poolAt++] as number;
    if (byte < limit) return byte % max;
  }
}

/**
 * Short codes people read aloud and type at a till: member card codes (and later coupon codes).
 * The alphabet leaves out 0/O and 1/I/L so that no two characters are confused, and has 31
 * characters, a prime: the last character is a check character over a weighted sum mod 31 with
 * a distinct weight per position, so every single-character typo and every swap of two
 * characters changes the sum and is caught before anything is looked up.
 */
export const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const N = CODE_ALPHABET.length;
const MAX_LENGTH = N - 1;

function symbolValue(char: string): number {
  const value = CODE_ALPHABET.indexOf(char);
  if (value < 0) throw new Error(`character outside the code alphabet: ${char}`);
  return value;
}

/** The character c that makes sum((i + 1) * v_i) + (len + 1) * c divisible by 31. */
export function checkCharacter(body: string): string {
  if (body.length >= MAX_LENGTH) throw new Error(`codes are at most ${MAX_LENGTH} characters`);
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += (i + 1) * symbolValue(body[i] as string);
  const weight = body.length + 1;
  for (let c = 0; c < N; c++) if ((sum + weight * c) % N === 0) return CODE_ALPHABET[c] as string;
  throw new Error('unreachable: 31 is prime');
}

/** `bodyLength` random characters (crypto RNG) plus the check character. */
export function generateCode(bodyLength: number, random: (max: number) => number = secureRandomBelow): string {
  let body = '';
  for (let i = 0; i < bodyLength; i++) body += CODE_ALPHABET[random(N)];
  return body + checkCharacter(body);
}

/** What a person typed, made comparable: upper case, spaces and dashes dropped. */
export function normalizeCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]+/g, '');
}

export function isWellFormedCode(code: string, length: number): boolean {
  if (code.length !== length) return false;
  for (const char of code) if (!CODE_ALPHABET.includes(char)) return false;
  return checkCharacter(code.slice(0, -1)) === code.at(-1);
}

/** Groups of three for display: "ABC-DEF-GHJ". */
export function formatCode(code: string): string {
  return code.match(/.{1,3}/g)?.join('-') ?? code;
}

/** Member card codes: 8 random characters (31^8 ≈ 8.5e11) plus the check character. */
export const MEMBER_CODE_BODY = 8;
export const MEMBER_CODE_LENGTH = MEMBER_CODE_BODY + 1;
export const generateMemberCode = () => generateCode(MEMBER_CODE_BODY);
export const isMemberCode = (code: string) => isWellFormedCode(code, MEMBER_CODE_LENGTH);

/**
 * Coupon codes: 11 random characters (31^11 ≈ 2.5e16, about 54 bits, so guessing a live code
 * is hopeless, and the brute-force guard slows anyone who tries) plus the check character:
 * 12 characters, shown in groups of four ("ABCD-EFGH-JKMN"). Longer than a card code (9), so
 * the two are never confused.
 */
export const COUPON_CODE_BODY = 11;
export const COUPON_CODE_LENGTH = COUPON_CODE_BODY + 1;
export const generateCouponCode = () => generateCode(COUPON_CODE_BODY);
export const isCouponCode = (code: string) => isWellFormedCode(code, COUPON_CODE_LENGTH);
export const formatCouponCode = (code: string) => code.match(/.{1,4}/g)?.join('-') ?? code;

/**
 * Referral tokens: the opaque part of an invite link (`?start=ref_<token>`). 22 characters of
 * base62 from the crypto RNG (about 131 bits): unguessable, unrelated to the card code (which
 * would let anyone holding the link earn on the inviter's card), and within Telegram's start
 * parameter alphabet (A-Z, a-z, 0-9, _ and -).
 */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const REFERRAL_TOKEN_LENGTH = 22;
export function generateReferralToken(random: (max: number) => number = secureRandomBelow): string {
  let token = '';
  for (let i = 0; i < REFERRAL_TOKEN_LENGTH; i++) token += BASE62[random(BASE62.length)];
  return token;
}
export const isReferralToken = (token: string) => token.length === REFERRAL_TOKEN_LENGTH && /^[0-9A-Za-z]+$/.test(token);
