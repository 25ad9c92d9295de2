-- Issue 16 (/stats, GET /v1/analytics/series): the points economy is read by period. Without an
-- index on the entry time every period query scanned the whole ledger (1.2M entries at 1M
-- purchases). Entries are appended in time order, so the index grows at its right edge only.

-- CreateIndex
CREATE INDEX "LedgerEntry_createdAt_idx" ON "LedgerEntry"("createdAt");
