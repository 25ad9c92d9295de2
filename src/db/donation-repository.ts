import type { CauseTotal, CharityTotals, Donation, DonationRepository, TimeRange } from '../domain/charity/types.js';
import { type Donation as DonationRow, Prisma } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';
import { ts } from './sql.js';

const toDonation = (row: DonationRow): Donation => ({
  id: row.id,
  memberId: row.memberId,
  causeCode: row.causeCode,
  points: row.points,
  valueMinor: Number(row.valueMinor),
  ledgerEntryId: row.ledgerEntryId,
  idempotencyKey: row.idempotencyKey,
  createdAt: row.createdAt,
});

type TotalRow = { causeCode: string | null; points: bigint; valueMinor: bigint; donors: bigint; donations: bigint };

/** Donations on PostgreSQL; the Donation row is written in the transaction of its ledger entry. */
export class PrismaDonationRepository implements DonationRepository {
  constructor(private readonly db: Db) {}

  async findByKey(idempotencyKey: string): Promise<Donation | null> {
    const row = await this.db.donation.findUnique({ where: { idempotencyKey } });
    return row ? toDonation(row) : null;
  }

  async create(value: Omit<Donation, 'id'>): Promise<Donation> {
    return toDonation(await this.db.donation.create({ data: { ...value, valueMinor: BigInt(value.valueMinor) } }));
  }

  /**
   * Per cause and overall in one statement (GROUPING SETS): the overall row's donors are distinct
   * members across causes, which summing the causes' rows would overcount.
   */
  async totals(range: TimeRange | null): Promise<CharityTotals> {
    const where = range ? Prisma.sql`WHERE d."createdAt" >= ${ts(range.from)} AND d."createdAt" < ${ts(range.to)}` : Prisma.empty;
    const rows = await this.db.$queryRaw<TotalRow[]>`
      SELECT d."causeCode" AS "causeCode", COALESCE(SUM(d.points), 0)::bigint AS points,
             COALESCE(SUM(d."valueMinor"), 0)::bigint AS "valueMinor",
             COUNT(DISTINCT d."memberId")::bigint AS donors, COUNT(*)::bigint AS donations
      FROM "Donation" d ${where}
      GROUP BY GROUPING SETS ((d."causeCode"), ())
      ORDER BY d."causeCode" NULLS LAST`;
    const toTotal = (row: TotalRow) => ({
      points: Number(row.points),
      valueMinor: Number(row.valueMinor),
      donors: Number(row.donors),
      donations: Number(row.donations),
    });
    const causes: CauseTotal[] = rows.filter((row) => row.causeCode !== null).map((row) => ({ causeCode: row.causeCode as string, ...toTotal(row) }));
    const overall = rows.find((row) => row.causeCode === null);
    return { causes, overall: overall ? toTotal(overall) : { points: 0, valueMinor: 0, donors: 0, donations: 0 } };
  }

  async listByMember(memberId: number): Promise<Donation[]> {
    const rows = await this.db.donation.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
    return rows.map(toDonation);
  }
}
