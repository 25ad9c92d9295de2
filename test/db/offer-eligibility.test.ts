import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeMember, ineligibility as ineligibilityFragment, offerEligible } from '../../src/db/offer-eligibility.js';
import { decideDelivery } from '../../src/domain/delivery/decide.js';
import { type EligibilityFields, INELIGIBLE, ineligibility, mayReceiveOffers, offerEligibleSql } from '../../src/domain/delivery/eligibility.js';
import type { Member } from '../../src/domain/members/member.js';
import type { Delivery } from '../../src/domain/ports.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * The offer eligibility rule has one definition and two renderings: the predicate the delivery
 * worker applies and the SQL fragment every bulk recipient query uses. Here both judge every
 * combination of the fields the rule reads, on real PostgreSQL, and must agree member by member.
 */

const STATUSES = ['REGISTERING', 'ACTIVE', 'DELETED'] as const;
const table: (EligibilityFields & { code: string })[] = [];
for (const status of STATUSES)
  for (const chat of [false, true])
    for (const notificationsEnabled of [false, true])
      for (const reachable of [false, true]) {
        const n = table.length + 1;
        table.push({ code: `ELIG${n}`, status, telegramId: chat ? 900_000 + n : null, notificationsEnabled, reachable });
      }

let db: TestDatabase;
let rows: { code: string; eligible: boolean; refused: string | null; active: boolean }[];

beforeAll(async () => {
  db = await createTestDatabase();
  await db.prisma.member.createMany({
    data: table.map((m) => ({ ...m, telegramId: m.telegramId === null ? null : BigInt(m.telegramId), locale: 'en' })),
  });
  rows = await db.prisma.$queryRaw`
    SELECT m.code, ${offerEligible} AS eligible, ${ineligibilityFragment} AS refused, ${activeMember} AS active
    FROM "Member" m WHERE m.code LIKE 'ELIG%' ORDER BY m.id`;
});
afterAll(async () => db?.drop());

describe('offer eligibility: the predicate and the SQL agree', () => {
  it('covers every combination, with both outcomes present', () => {
    expect(rows).toHaveLength(3 * 2 * 2 * 2);
    expect(rows.filter((row) => row.eligible)).toHaveLength(1);
  });

  it.each(table)('$status, chat $telegramId, opted in $notificationsEnabled, reachable $reachable', (member) => {
    const row = rows.find((r) => r.code === member.code);
    expect(row).toEqual({
      code: member.code,
      eligible: mayReceiveOffers(member),
      refused: ineligibility(member),
      active: ineligibility(member) !== 'inactive',
    });
  });

  it('the delivery worker drops exactly the members the SQL leaves out, with the same reason', () => {
    const delivery = { id: 1, dedupeKey: 'k', memberId: 1, class: 'reminder', status: 'PENDING', attempts: 0, createdAt: new Date() } as unknown as Delivery;
    const now = new Date('2026-12-05T12:00:00Z');
    for (const member of table) {
      const row = rows.find((r) => r.code === member.code);
      const decision = decideDelivery(delivery, member as unknown as Member, now, () => now);
      if (row?.eligible) expect(decision).toEqual({ action: 'send', chatId: member.telegramId });
      else expect(decision).toEqual({ action: 'drop', ...INELIGIBLE[row?.refused as keyof typeof INELIGIBLE] });
    }
  });

  it('takes only a plain alias into the SQL text', () => {
    expect(() => offerEligibleSql('m; DROP TABLE "Member"')).toThrow(/not a SQL alias/);
    expect(Prisma.raw(offerEligibleSql('x')).sql).toContain('x."reachable"');
  });
});
