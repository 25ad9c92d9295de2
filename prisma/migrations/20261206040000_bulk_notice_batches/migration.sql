-- A bulk batch of notices is one queue job however large, which sends it a chunk per turn: the
-- next chunk is the batch's lowest PENDING ids. This partial index holds exactly those rows in
-- that order (a sent row leaves it), so a turn reads its chunk without passing the rows already
-- sent. It replaces the plain index on the batch key.
DROP INDEX "Delivery_batchKey_idx";
CREATE INDEX "Delivery_batch_pending_idx" ON "Delivery"("batchKey", "id") WHERE "status" = 'PENDING' AND "batchKey" IS NOT NULL;

-- Room on each page for a member row's next version: a balance change (every purchase, every
-- expiry batch) then stays a heap-only update that writes none of the member's indexes. Applies
-- to pages written from now on (VACUUM FULL rewrites the rest).
ALTER TABLE "Member" SET (fillfactor = 80);
