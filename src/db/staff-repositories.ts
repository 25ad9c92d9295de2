import type { Clock } from '../domain/clock.js';
import type {
  ApiKeyRecord,
  ApiKeyRepository,
  AuditRepository,
  Invite,
  InviteRepository,
  StaffMember,
  StaffRepository,
  Store,
  StoreRepository,
} from '../domain/ports.js';
import { isLocale, type Locale } from '../domain/program.js';
import { Prisma, type Staff as StaffRow } from '../generated/prisma/client.js';
import { hotQuery } from './hot-sql.js';
import type { Db } from './repositories.js';

const toStaff = (row: StaffRow): StaffMember => ({
  id: row.id,
  telegramId: Number(row.telegramId),
  role: row.role,
  storeId: row.storeId,
  name: row.name,
  revokedAt: row.revokedAt,
  locale: isLocale(row.locale) ? row.locale : null,
});

export class PrismaStoreRepository implements StoreRepository {
  constructor(private readonly db: Db) {}
  private readonly select = { id: true, code: true, name: true, active: true } as const;

  findByCode(code: string): Promise<Store | null> {
    return this.db.store.findUnique({ where: { code }, select: this.select });
  }
  findById(id: number): Promise<Store | null> {
    return this.db.store.findUnique({ where: { id }, select: this.select });
  }
  list(): Promise<Store[]> {
    return this.db.store.findMany({ orderBy: { code: 'asc' }, select: this.select });
  }
  upsert(code: string, name: string): Promise<Store> {
    return this.db.store.upsert({ where: { code }, create: { code, name }, update: { name }, select: this.select });
  }
}

export class PrismaStaffRepository implements StaffRepository {
  constructor(private readonly db: Db) {}

  async findByTelegramId(telegramId: number) {
    const row = await this.db.staff.findUnique({ where: { telegramId: BigInt(telegramId) } });
    return row ? toStaff(row) : null;
  }

  async upsert(value: { telegramId: number; role: StaffMember['role']; storeId: number | null; name: string | null; locale?: Locale | null }) {
    const data = { role: value.role, storeId: value.storeId, name: value.name, revokedAt: null, ...(value.locale ? { locale: value.locale } : {}) };
    const row = await this.db.staff.upsert({
      where: { telegramId: BigInt(value.telegramId) },
      create: { ...data, telegramId: BigInt(value.telegramId) },
      update: data,
    });
    return toStaff(row);
  }

  async revoke(telegramId: number, at: Date) {
    const found = await this.db.staff.findUnique({ where: { telegramId: BigInt(telegramId) } });
    if (!found) return null;
    return toStaff(await this.db.staff.update({ where: { id: found.id }, data: { revokedAt: found.revokedAt ?? at } }));
  }

  async list() {
    const rows = await this.db.staff.findMany({ orderBy: { id: 'asc' }, include: { store: { select: { name: true } } } });
    return rows.map((row) => ({ ...toStaff(row), storeName: row.store?.name ?? null }));
  }

  async listByStore(storeId: number) {
    const rows = await this.db.staff.findMany({ where: { storeId, role: 'STAFF', revokedAt: null }, orderBy: { id: 'asc' } });
    return rows.map(toStaff);
  }
}

export class PrismaInviteRepository implements InviteRepository {
  constructor(private readonly db: Db) {}

  async create(value: Invite & { createdBy: number }) {
    await this.db.invite.create({ data: { ...value, createdBy: BigInt(value.createdBy) } });
  }

  async consume(token: string, telegramId: number, now: Date): Promise<Invite | null> {
    // One conditional update: of two people opening the same link at once, one wins.
    const used = await this.db.invite.updateMany({
      where: { token, usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now, usedBy: BigInt(telegramId) },
    });
    if (used.count !== 1) return null;
    return this.db.invite.findUnique({ where: { token }, select: { token: true, role: true, storeId: true, expiresAt: true } });
  }
}

type ApiKeyRow = {
  id: number;
  name: string;
  prefix: string;
  storeId: number | null;
  revokedAt: Date | null;
  createdBy: bigint | null;
  createdAt: Date;
  lastUsedAt: Date | null;
};
const toApiKey = (row: ApiKeyRow): ApiKeyRecord => ({ ...row, createdBy: row.createdBy === null ? null : Number(row.createdBy) });

export class PrismaApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: Db) {}
  private readonly select = { id: true, name: true, prefix: true, storeId: true, revokedAt: true, createdBy: true, createdAt: true, lastUsedAt: true } as const;

  async create(value: Parameters<ApiKeyRepository['create']>[0]): Promise<ApiKeyRecord> {
    const row = await this.db.apiKey.create({ data: { ...value, createdBy: value.createdBy === null ? null : BigInt(value.createdBy) }, select: this.select });
    return toApiKey(row);
  }
  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    // Every till request's key, when the lookup cache misses: a hot statement (hot-sql.ts).
    const [row] = await hotQuery<ApiKeyRow>(
      this.db,
      Prisma.sql`SELECT id, name, prefix, "storeId", "revokedAt", "createdBy", "createdAt", "lastUsedAt" FROM "ApiKey" WHERE hash = ${hash}`,
    );
    return row ? toApiKey(row) : null;
  }
  async findById(id: number): Promise<ApiKeyRecord | null> {
    const row = await this.db.apiKey.findUnique({ where: { id }, select: this.select });
    return row ? toApiKey(row) : null;
  }
  async list() {
    const rows = await this.db.apiKey.findMany({ orderBy: { id: 'desc' }, select: { ...this.select, store: { select: { code: true } } } });
    return rows.map(({ store, ...row }) => ({ ...toApiKey(row), storeCode: store?.code ?? null }));
  }
  async revoke(id: number, at: Date): Promise<boolean> {
    const updated = await this.db.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
    return updated.count === 1;
  }
  async touch(id: number, at: Date, staleBefore: Date): Promise<void> {
    // Conditional, so that instances racing on one key write once, and never move it backwards.
    await this.db.apiKey.updateMany({ where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: staleBefore } }] }, data: { lastUsedAt: at } });
  }
}

export class PrismaAuditRepository implements AuditRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async record(value: Parameters<AuditRepository['record']>[0]) {
    await this.db.auditLog.create({
      data: {
        actorType: value.actor.type,
        actorId: value.actor.id ?? null,
        action: value.action,
        subject: value.subject ?? null,
        details: (value.details ?? undefined) as Prisma.InputJsonValue | undefined,
        createdAt: this.clock.now(),
      },
    });
  }
}
