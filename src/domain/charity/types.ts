/** One donation: points a member gave to a cause, and what they are worth in money. */
export interface Donation {
  id: number;
  memberId: number;
  causeCode: string;
  points: number;
  /** points x points.pointValueMinor when given, minor currency units. */
  valueMinor: number;
  ledgerEntryId: number;
  /** The ledger entry's key too: `donation:<memberId>:<client key>`. */
  idempotencyKey: string;
  createdAt: Date;
}

/** What was given, to one cause or to all of them. `donors`: distinct members. */
export interface GivenTotal {
  points: number;
  valueMinor: number;
  donors: number;
  donations: number;
}

export interface CauseTotal extends GivenTotal {
  causeCode: string;
}

export interface CharityTotals {
  causes: CauseTotal[];
  overall: GivenTotal;
}

/** A time range [from, to). */
export interface TimeRange {
  from: Date;
  to: Date;
}

export interface DonationRepository {
  findByKey(idempotencyKey: string): Promise<Donation | null>;
  create(value: Omit<Donation, 'id'>): Promise<Donation>;
  /** Per cause and overall, in one set-based query; `range` null: ever. Causes in code order. */
  totals(range: TimeRange | null): Promise<CharityTotals>;
  /** The member's donations, oldest first (their data export). */
  listByMember(memberId: number): Promise<Donation[]>;
}
