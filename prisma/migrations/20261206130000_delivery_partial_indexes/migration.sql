-- Two indexes of the delivery outbox narrowed to the rows their queries read (issue 12). Every
-- row written (a receipt per purchase, a notice per member of an expiry batch) and every new
-- version of a row (PENDING -> SENT is not a heap-only update: status is indexed) went into
-- both; now a row enters each only while some query can look for it there.
--
-- Broadcast lists: every query names one broadcast ("broadcastId" = $1 implies IS NOT NULL, so
-- the planner uses the partial index); the other rows, most of the table, no longer enter it.
DROP INDEX "Delivery_broadcastId_status_id_idx";
CREATE INDEX "Delivery_broadcast_status_id_idx" ON "Delivery"("broadcastId", "status", "id") WHERE "broadcastId" IS NOT NULL;

-- The delivery sweep's only query by status and age: PENDING rows outside broadcasts (those are
-- requeued by their broadcast), oldest id first (DeliveryRepository.pendingBefore). A row leaves
-- the index once sent, skipped or failed, so it stays as small as the backlog.
DROP INDEX "Delivery_status_createdAt_idx";
CREATE INDEX "Delivery_sweep_pending_idx" ON "Delivery"("id") WHERE "status" = 'PENDING' AND "broadcastId" IS NULL;
