import { describe, expect, it } from 'vitest';
import type { MemberNotice } from '../../src/domain/ports.js';
import { MemoryStore } from '../support/memory.js';

/**
 * The in-memory outbox keeps PrismaOutbox's contract for bulk notices (test/db/outbox.test.ts):
 * one batch key for the rows a call writes, keys used before skipped, the count of new rows.
 */
const notice = (memberId: number, key: string): MemberNotice => ({
  memberId,
  notification: { kind: 'pointsExpired', points: 10, balance: 0 },
  dedupeKey: key,
  class: 'reminder',
});

describe('in-memory outbox: bulk notices', () => {
  it('writes each new key once under one batch key per call and returns how many were new', async () => {
    const store = new MemoryStore();
    expect(await store.uow.run((repos) => repos.outbox.notifyMany([notice(1, 'k1')]))).toBe(1);
    expect(await store.uow.run((repos) => repos.outbox.notifyMany([notice(1, 'k1'), notice(2, 'k2'), notice(3, 'k3')]))).toBe(2);
    expect(await store.uow.run((repos) => repos.outbox.notifyMany([]))).toBe(0);
    const rows = [...store.deliveryRows.values()];
    expect(rows.map((row) => [row.dedupeKey, row.memberId, row.status, row.class])).toEqual([
      ['k1', 1, 'PENDING', 'reminder'],
      ['k2', 2, 'PENDING', 'reminder'],
      ['k3', 3, 'PENDING', 'reminder'],
    ]);
    expect(rows[1]?.batchKey).toBe(rows[2]?.batchKey);
    expect(rows[1]?.batchKey).not.toBe(rows[0]?.batchKey);
  });
});
