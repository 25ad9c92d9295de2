-- Issue 16: campaign lift. A broadcast holds back a control group (a deterministic share of its
-- recipients who get nothing, recorded in BroadcastHoldout) and may carry a second message
-- (variant B) sent to half of the others; the lift report goes to its author once the
-- attribution window has passed (liftReportedAt).

-- Broadcasts created before this migration had no control group: 0 for them, 10 for new ones.
ALTER TABLE "Broadcast" ADD COLUMN "controlPercent" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "Broadcast" ALTER COLUMN "controlPercent" SET DEFAULT 10;
ALTER TABLE "Broadcast" ADD CONSTRAINT "Broadcast_controlPercent_check" CHECK ("controlPercent" BETWEEN 0 AND 50);
ALTER TABLE "Broadcast" ADD COLUMN "variantB" JSONB;
ALTER TABLE "Broadcast" ADD COLUMN "liftReportedAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "BroadcastHoldout" (
    "broadcastId" INTEGER NOT NULL,
    "memberId" INTEGER NOT NULL,
    -- The broadcast's start (from the injected clock): the control group's attribution window opens here.
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BroadcastHoldout_pkey" PRIMARY KEY ("broadcastId", "memberId")
);

-- CreateIndex
CREATE INDEX "BroadcastHoldout_memberId_idx" ON "BroadcastHoldout"("memberId");

-- AddForeignKey
ALTER TABLE "BroadcastHoldout" ADD CONSTRAINT "BroadcastHoldout_broadcastId_fkey" FOREIGN KEY ("broadcastId") REFERENCES "Broadcast"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "BroadcastHoldout" ADD CONSTRAINT "BroadcastHoldout_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The lift sweep looks for finished broadcasts whose report is not sent yet.
CREATE INDEX "Broadcast_status_finishedAt_idx" ON "Broadcast"("status", "finishedAt");
