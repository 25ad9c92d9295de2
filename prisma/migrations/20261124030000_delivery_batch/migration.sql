-- Bulk notices (expiry, reminders, birthdays, win-back) are written many rows per statement and
-- sent many rows per queue job: the rows of one job share a batch key, and the job (and the
-- sweep, when Redis lost it) finds its rows by that key.
ALTER TABLE "Delivery" ADD COLUMN "batchKey" TEXT;
CREATE INDEX "Delivery_batchKey_idx" ON "Delivery"("batchKey");
