import { describe, expect, it } from 'vitest';
import { decideDelivery } from '../../src/domain/delivery/decide.js';
import { nextAllowedTime } from '../../src/domain/jobs/schedule-rules.js';
import type { Member } from '../../src/domain/members/member.js';
import type { Delivery } from '../../src/domain/ports.js';

const member = (patch: Partial<Member> = {}): Member => ({
  id: 1,
  telegramId: 42,
  code: 'ABCDEFGH2',
  status: 'ACTIVE',
  registrationStep: null,
  startPayload: null,
  locale: 'en',
  phone: null,
  name: 'Ann',
  birthday: null,
  consentVersion: '1',
  consentAt: null,
  notificationsEnabled: true,
  reachable: true,
  balance: 0,
  tier: 'basic',
  cardFileId: null,
  registeredAt: null,
  deletedAt: null,
  createdAt: new Date(),
  phoneVerified: false,
  referralToken: null,
  returning: false,
  inheritedTakes: [],
  savedMinor: 0,
  ...patch,
});

const delivery = (patch: Partial<Delivery> = {}): Delivery =>
  ({
    id: 1,
    dedupeKey: 'k',
    memberId: 1,
    class: 'reminder',
    notification: { kind: 'pointsAdjusted', amount: 1, balance: 1 },
    status: 'PENDING',
    attempts: 0,
    createdAt: new Date(),
    ...patch,
  }) as Delivery;

// Quiet hours 22:00-09:00 in Moscow (UTC+3).
const quiet = (now: Date) => nextAllowedTime(now, { from: '22:00', to: '09:00' }, 'Europe/Moscow');
const night = new Date('2026-11-23T20:30:00Z'); // 23:30 in Moscow
const noon = new Date('2026-11-23T09:00:00Z'); // 12:00 in Moscow

describe('deciding a delivery when it is due', () => {
  it('holds a reminder due at night until the quiet hours end, in the program time zone', () => {
    expect(decideDelivery(delivery(), member(), night, quiet)).toEqual({ action: 'wait', until: new Date('2026-11-24T06:00:00Z') });
    expect(decideDelivery(delivery(), member(), noon, quiet)).toEqual({ action: 'send', chatId: 42 });
  });

  it('sends receipts at once, whatever the hour or the notification setting', () => {
    const receipt = delivery({ class: 'transactional' });
    expect(decideDelivery(receipt, member({ notificationsEnabled: false }), night, quiet)).toEqual({ action: 'send', chatId: 42 });
  });

  it('skips reminders for members who turned notifications off', () => {
    expect(decideDelivery(delivery(), member({ notificationsEnabled: false }), noon, quiet)).toMatchObject({ action: 'drop', status: 'SKIPPED' });
  });

  it('does not try members who blocked the bot, nor deleted or unknown members, nor what already went', () => {
    expect(decideDelivery(delivery(), member({ reachable: false }), noon, quiet)).toMatchObject({ action: 'drop', status: 'BLOCKED' });
    expect(decideDelivery(delivery(), member({ status: 'DELETED', telegramId: null }), noon, quiet)).toMatchObject({ action: 'drop', status: 'SKIPPED' });
    expect(decideDelivery(delivery(), null, noon, quiet)).toMatchObject({ action: 'drop', status: 'SKIPPED' });
    expect(decideDelivery(delivery({ status: 'SENT' }), member(), noon, quiet)).toMatchObject({ action: 'drop' });
  });
});
