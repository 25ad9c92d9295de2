-- A sender's hold on a delivery it is about to send (see DeliveryRepository.claim): a second job
-- for the same row, re-queued while the first was in hand, sends nothing.
ALTER TABLE "Delivery" ADD COLUMN "claimedUntil" TIMESTAMP(3);
