-- Charity (issue 15): members give points to causes of the program file. The points leave
-- through the ledger as a DONATION entry (a debit drawing the oldest lots, like a spend); the
-- Donation row keeps the cause, the points and their money value for totals and transfers.
ALTER TYPE "EntryType" ADD VALUE 'DONATION';

CREATE TABLE "Donation" (
    "id" SERIAL NOT NULL,
    "memberId" INTEGER NOT NULL,
    "causeCode" TEXT NOT NULL,
    "points" INTEGER NOT NULL,
    "valueMinor" BIGINT NOT NULL,
    "ledgerEntryId" INTEGER NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Donation_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Donation_points_check" CHECK ("points" > 0),
    CONSTRAINT "Donation_valueMinor_check" CHECK ("valueMinor" >= 0)
);

CREATE UNIQUE INDEX "Donation_ledgerEntryId_key" ON "Donation"("ledgerEntryId");
CREATE UNIQUE INDEX "Donation_idempotencyKey_key" ON "Donation"("idempotencyKey");
CREATE INDEX "Donation_createdAt_causeCode_idx" ON "Donation"("createdAt", "causeCode");
CREATE INDEX "Donation_causeCode_idx" ON "Donation"("causeCode");
CREATE INDEX "Donation_memberId_createdAt_idx" ON "Donation"("memberId", "createdAt");

ALTER TABLE "Donation" ADD CONSTRAINT "Donation_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Donation" ADD CONSTRAINT "Donation_ledgerEntryId_fkey" FOREIGN KEY ("ledgerEntryId") REFERENCES "LedgerEntry"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
