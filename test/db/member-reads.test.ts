// The time zone of a server that is not in UTC: the hot reads must not depend on it (set before
// anything here reads a date; each db test file runs in a process of its own).
process.env.TZ = 'America/New_York';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientReader, hotReader, type SqlReader } from '../../src/db/hot-sql.js';
import { memberByTelegramId, memberWithStanding, standingById, toMember } from '../../src/db/member-reads.js';
import { makeRepositories } from '../../src/db/repositories.js';
import type { Member } from '../../src/domain/members/member.js';
import type { Qualification } from '../../src/domain/ports.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';

// The member and the Balance standing read as plain SQL (src/db/member-reads.ts), through the
// pool and through a Prisma client, against what Prisma's own mapping and the ledger say.
let db: TestDatabase;
let h: DomainHarness;
let readers: [string, SqlReader][];

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db);
  readers = [
    ['pool', hotReader(db.prisma)],
    ['Prisma client', clientReader(db.prisma)],
  ];
});
afterAll(async () => {
  await db?.drop();
});

const at = (iso: string) => new Date(iso);

/** A member with every column set (none left at null or its default). */
async function fullMember(telegramId: number): Promise<Member> {
  const row = await db.prisma.member.create({
    data: {
      telegramId: BigInt(telegramId),
      code: `FULL${telegramId}`,
      status: 'ACTIVE',
      registrationStep: 'BIRTHDAY',
      startPayload: 'ref_abc',
      locale: 'en',
      phone: `+7999${telegramId}`,
      phoneVerified: true,
      name: 'Anna <b>&',
      birthday: at('1990-05-17T00:00:00Z'),
      consentVersion: 'v3',
      consentAt: at('2026-11-01T23:30:00.123Z'),
      notificationsEnabled: false,
      reachable: false,
      balance: 0,
      tier: 'silver',
      cardFileId: 'file-1',
      registeredAt: at('2026-11-02T00:15:00.456Z'),
      deletedAt: at('2026-11-20T04:00:00Z'),
      createdAt: at('2026-11-01T23:00:00Z'),
      referralToken: `tok${telegramId}`,
      returning: true,
      inheritedTakes: [{ reward: 'coffee', at: '2026-10-01T10:00:00.000Z' }],
      savedMinor: 9_007_199_254n,
    },
  });
  return toMember(row);
}

describe('the member behind an update', () => {
  it('reads every field as Prisma maps it, whatever the time zone, through either reader', async () => {
    const expected = await fullMember(77_001);
    for (const [name, reader] of readers) {
      expect(await memberByTelegramId(reader, 77_001), name).toEqual(expected);
      expect((await memberWithStanding(reader, 77_001, { metric: 'spend', since: null }))?.member, name).toEqual(expected);
    }
    // And what the repositories answer with the pool's reader.
    const repos = makeRepositories(db.prisma, h.clock);
    expect(await repos.members.findByTelegramId(77_001)).toEqual(expected);
  });

  it('is null for a Telegram id nobody has', async () => {
    for (const [name, reader] of readers) {
      expect(await memberByTelegramId(reader, 77_999), name).toBeNull();
      expect(await memberWithStanding(reader, 77_999, { metric: 'spend', since: null }), name).toBeNull();
    }
  });
});

describe('the Balance standing', () => {
  it('is the qualifying total and the soonest expiry with all its points, as the ledger has them', async () => {
    const member = await h.member(77_002);
    const credit = (amount: number, expiresAt: Date | null, key: string) =>
      h.deps.repos.ledger.post({ kind: 'credit', type: 'BONUS', memberId: member.id, amount, idempotencyKey: key, actor: { type: 'SYSTEM' }, expiresAt });
    const soon = at('2027-01-10T21:30:00.250Z');
    await credit(30, soon, 'r1');
    await credit(20, soon, 'r2');
    await credit(50, at('2027-02-01T00:00:00Z'), 'r3');
    await credit(10, null, 'r4');
    const store = await h.store();
    const till = { type: 'TILL' as const, id: 'till-reads' };
    await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-1',
      amountMinor: 250_000,
      pointsToSpend: 0,
      idempotencyKey: 'r-p',
      actor: till,
    });

    const now = h.clock.now();
    const qualifications: Qualification[] = [
      { metric: 'spend', since: null },
      { metric: 'spend', since: new Date(now.getTime() - 86_400_000) },
      { metric: 'spend', since: new Date(now.getTime() + 1) },
      { metric: 'pointsEarned', since: null },
      { metric: 'pointsEarned', since: new Date(now.getTime() + 1) },
    ];
    const totals = [];
    for (const q of qualifications) {
      const total =
        q.metric === 'spend'
          ? await h.deps.repos.purchaseStats.netSpendSince(member.id, q.since)
          : await h.deps.repos.ledger.pointsEarnedSince(member.id, q.since);
      totals.push(total);
      const expected = { qualifyingTotal: total, nearestExpiry: { at: soon, points: 50 } };
      for (const [name, reader] of readers) {
        expect(await standingById(reader, member.id, q), `${name} ${q.metric} ${q.since?.toISOString()}`).toEqual(expected);
        expect((await memberWithStanding(reader, 77_002, q))?.standing, `${name} ${q.metric} ${q.since?.toISOString()}`).toEqual(expected);
      }
    }
    // The purchase counted where it falls in the window and nowhere else.
    expect(totals[0]).toBeGreaterThan(0);
    expect(totals[1]).toBe(totals[0]);
    expect(totals[2]).toBe(0);
    expect(totals[3]).toBeGreaterThan(0);
    expect(totals[4]).toBe(0);
  });

  it('has no expiry when no open points expire', async () => {
    const member = await h.member(77_003, 40);
    for (const [name, reader] of readers) {
      expect(await standingById(reader, member.id, { metric: 'spend', since: null }), name).toEqual({ qualifyingTotal: 0, nearestExpiry: null });
    }
  });
});

describe('reads that arrive together on the pool', () => {
  /** The statements the pool's connections were sent while `work` ran (their names). */
  async function statementsOf<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
    const query = pg.Client.prototype.query;
    const statements: string[] = [];
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0] as string | { name?: string; text?: string };
      statements.push(typeof first === 'string' ? first : (first.name ?? String(first.text)));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      return { result: await work(), statements };
    } finally {
      pg.Client.prototype.query = query;
    }
  }

  it('go as one statement per kind, and each gets what it would have got alone', async () => {
    const full = await fullMember(77_010);
    const plain = await h.member(77_011, 25);
    await h.deps.repos.ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId: plain.id,
      amount: 5,
      idempotencyKey: 'batch-1',
      actor: { type: 'SYSTEM' },
      expiresAt: at('2027-03-01T12:00:00Z'),
    });
    const now = h.clock.now();
    const lifetime: Qualification = { metric: 'pointsEarned', since: null };
    const future: Qualification = { metric: 'pointsEarned', since: new Date(now.getTime() + 1) };
    // Unknown ids, the same id twice, and one id under two windows, all in one turn.
    const asks: [number, Qualification][] = [
      [77_010, lifetime],
      [77_011, lifetime],
      [77_998, lifetime],
      [77_011, future],
      [77_010, lifetime],
    ];
    const ids = [77_011, 77_997, 77_010, 77_011];
    const pool = hotReader(db.prisma);
    const single = clientReader(db.prisma);

    const { result, statements } = await statementsOf(() =>
      Promise.all([Promise.all(asks.map(([id, q]) => memberWithStanding(pool, id, q))), Promise.all(ids.map((id) => memberByTelegramId(pool, id)))]),
    );
    expect(statements.sort()).toEqual(['member_by_telegram_id', 'member_with_standing']);
    const [standings, members] = result;
    for (const [i, [id, q]] of asks.entries()) expect(standings[i], `${id} ${q.since?.toISOString()}`).toEqual(await memberWithStanding(single, id, q));
    for (const [i, id] of ids.entries()) expect(members[i], String(id)).toEqual(await memberByTelegramId(single, id));
    // What the single reads said, spelled out.
    expect(standings[0]?.member).toEqual(full);
    expect(standings[1]?.standing.nearestExpiry).toEqual({ at: at('2027-03-01T12:00:00Z'), points: 5 });
    expect(standings[2]).toBeNull();
    expect(standings[3]?.standing.qualifyingTotal).toBe(0);
    expect(members[1]).toBeNull();
    // Each caller has a member of its own (nobody shares an object another may change).
    expect(standings[0]?.member).not.toBe(standings[4]?.member);
  });

  it('fail each read of a batch when its statement fails, and the next batch reads again', async () => {
    const pool = hotReader(db.prisma);
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0] as { name?: string };
      const callback = args.find((arg) => typeof arg === 'function') as ((error: Error) => void) | undefined;
      if (first?.name === 'member_by_telegram_id' && callback) {
        setImmediate(() => callback(new Error('connection lost')));
        return undefined;
      }
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    let outcomes: PromiseSettledResult<Member | null>[];
    try {
      outcomes = await Promise.allSettled([memberByTelegramId(pool, 77_010), memberByTelegramId(pool, 77_011)]);
    } finally {
      pg.Client.prototype.query = query;
    }
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect((await memberByTelegramId(pool, 77_010))?.telegramId).toBe(77_010);
  });
});
