import type { Locale } from '../program.js';

export type MemberStatus = 'REGISTERING' | 'ACTIVE' | 'DELETED';
export type RegistrationStep = 'LANGUAGE' | 'CONSENT' | 'PHONE' | 'NAME' | 'BIRTHDAY';

export interface Member {
  id: number;
  telegramId: number | null;
  code: string;
  status: MemberStatus;
  registrationStep: RegistrationStep | null;
  /** The `/start` payload the member arrived with; kept through registration. */
  startPayload: string | null;
  locale: Locale;
  phone: string | null;
  /** Only the member's own shared contact verifies a phone; typed numbers stay unverified. */
  phoneVerified: boolean;
  name: string | null;
  /** Calendar date, YYYY-MM-DD. */
  birthday: string | null;
  consentVersion: string | null;
  consentAt: Date | null;
  notificationsEnabled: boolean;
  reachable: boolean;
  balance: number;
  tier: string | null;
  /** The uploaded member card image, reused instead of drawing it again. */
  cardFileId: string | null;
  registeredAt: Date | null;
  deletedAt: Date | null;
  createdAt: Date;
  /** The invite link's opaque token, drawn on first use (never the card code). */
  referralToken: string | null;
  /** Registered again after an erasure (a fingerprint matched): one-time rewards are not granted again. */
  returning: boolean;
  /** Reward takes of the erased accounts this member returned from: per-member limits count them. */
  inheritedTakes: RewardTake[];
  /** What tier discounts saved the member, net of returns, minor units (kept by purchases and returns). */
  savedMinor: number;
}

/** A coupon taken, as an erased account's history keeps it: the reward's code and when. */
export interface RewardTake {
  reward: string;
  at: Date;
}

export type MemberPatch = Partial<Omit<Member, 'id' | 'code' | 'createdAt' | 'balance'>>;
