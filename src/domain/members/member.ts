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
}

export type MemberPatch = Partial<Omit<Member, 'id' | 'code' | 'createdAt' | 'balance'>>;
