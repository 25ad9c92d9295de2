import type { ErasedIdentity, ErasedIdentityRepository, TaskRewarded } from '../domain/members/fingerprints.js';
import type { RewardTake } from '../domain/members/member.js';
import type { ErasedIdentity as ErasedIdentityRow, Prisma, PrismaClient } from '../generated/prisma/client.js';

type Db = PrismaClient | Prisma.TransactionClient;

/** Reward takes as JSON (`[{ reward, at: ISO }]`), as Member.inheritedTakes and ErasedIdentity keep them. */
export function takesFromJson(value: unknown): RewardTake[] {
  if (!Array.isArray(value)) return [];
  return value.map((take: { reward: string; at: string }) => ({ reward: String(take.reward), at: new Date(take.at) }));
}
export const takesToJson = (takes: RewardTake[]) => takes.map((take) => ({ reward: take.reward, at: take.at.toISOString() }));

const toErasedIdentity = (row: ErasedIdentityRow): ErasedIdentity => ({
  id: row.id,
  telegramDigest: row.telegramDigest,
  phoneDigest: row.phoneDigest,
  erasedAt: row.erasedAt,
  rewardTakes: takesFromJson(row.rewardTakes),
  tasksRewarded: Array.isArray(row.tasksRewarded) ? (row.tasksRewarded as unknown as TaskRewarded[]) : [],
});

export class PrismaErasedIdentityRepository implements ErasedIdentityRepository {
  constructor(private readonly db: Db) {}

  async record(value: Omit<ErasedIdentity, 'id'>): Promise<void> {
    await this.db.erasedIdentity.create({
      data: {
        telegramDigest: value.telegramDigest,
        phoneDigest: value.phoneDigest,
        erasedAt: value.erasedAt,
        rewardTakes: takesToJson(value.rewardTakes),
        tasksRewarded: value.tasksRewarded.map(({ task, period }) => ({ task, period })),
      },
    });
  }

  async findMatching(digests: { telegram: string; phone: string | null }): Promise<ErasedIdentity[]> {
    const rows = await this.db.erasedIdentity.findMany({
      where: { OR: [{ telegramDigest: digests.telegram }, ...(digests.phone ? [{ phoneDigest: digests.phone }] : [])] },
      orderBy: { id: 'asc' },
    });
    return rows.map(toErasedIdentity);
  }

  async purgeErasedBefore(cutoff: Date): Promise<number> {
    const { count } = await this.db.erasedIdentity.deleteMany({ where: { erasedAt: { lt: cutoff } } });
    return count;
  }
}
