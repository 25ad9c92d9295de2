-- Issue 16: till receipts without a member (the non-member baseline of the program's analytics).
-- A table of its own: the ledger, returns, tasks and NPS keep reading Purchase as before.

-- CreateTable
CREATE TABLE "Receipt" (
    "id" SERIAL NOT NULL,
    "storeId" INTEGER NOT NULL,
    "receiptNo" TEXT NOT NULL,
    "amountMinor" BIGINT NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "actorType" "ActorType" NOT NULL,
    "actorId" TEXT,
    -- From the injected clock (the application always sets it), never the database's now().
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Receipt_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Receipt_amountMinor_check" CHECK ("amountMinor" > 0)
);

-- CreateIndex
CREATE UNIQUE INDEX "Receipt_idempotencyKey_key" ON "Receipt"("idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "Receipt_storeId_receiptNo_key" ON "Receipt"("storeId", "receiptNo");

-- CreateIndex
CREATE INDEX "Receipt_createdAt_idx" ON "Receipt"("createdAt");

-- AddForeignKey
ALTER TABLE "Receipt" ADD CONSTRAINT "Receipt_storeId_fkey" FOREIGN KEY ("storeId") REFERENCES "Store"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
