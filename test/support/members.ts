import { generateMemberCode } from '../../src/domain/codes.js';
import type { PrismaClient } from '../../src/generated/prisma/client.js';

export interface SeededMember {
  id: number;
  /** The member's Telegram id, which is also their private chat id. */
  chatId: number;
}

export interface MemberOverrides {
  tier?: string;
  locale?: string;
  notificationsEnabled?: boolean;
  reachable?: boolean;
  status?: 'ACTIVE' | 'REGISTERING';
}

/**
 * Members inserted directly, for tests about what happens to members rather than how they
 * register (registration has its own tests): active, English, basic tier, a valid card code,
 * Telegram ids counted up from `firstTelegramId`.
 */
export class MemberSeeder {
  constructor(
    private readonly prisma: () => PrismaClient,
    private nextTelegramId: number,
    private readonly registeredAt: () => Date | null = () => null,
  ) {}

  async add(count: number, overrides: MemberOverrides = {}): Promise<SeededMember[]> {
    const rows: SeededMember[] = [];
    for (let i = 0; i < count; i++) {
      const row = await this.prisma().member.create({
        data: {
          telegramId: BigInt(this.nextTelegramId++),
          code: generateMemberCode(),
          locale: 'en',
          status: 'ACTIVE',
          registrationStep: null,
          tier: 'basic',
          registeredAt: this.registeredAt(),
          ...overrides,
        },
      });
      rows.push({ id: row.id, chatId: Number(row.telegramId) });
    }
    return rows;
  }
}
