-- CreateEnum
CREATE TYPE "BroadcastStatus" AS ENUM ('SCHEDULED', 'SENDING', 'DONE', 'CANCELLED');

-- CreateTable
CREATE TABLE "Broadcast" (
    "id" SERIAL NOT NULL,
    "status" "BroadcastStatus" NOT NULL DEFAULT 'SCHEDULED',
    "text" TEXT NOT NULL,
    "entities" JSONB NOT NULL,
    "photoFileId" TEXT,
    "button" JSONB,
    "segment" JSONB NOT NULL,
    "paid" BOOLEAN NOT NULL DEFAULT false,
    "scheduledAt" TIMESTAMP(3) NOT NULL,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "cancelledAt" TIMESTAMP(3),
    "audience" INTEGER NOT NULL DEFAULT 0,
    "queuedThroughId" INTEGER NOT NULL DEFAULT 0,
    "sent" INTEGER NOT NULL DEFAULT 0,
    "blocked" INTEGER NOT NULL DEFAULT 0,
    "failed" INTEGER NOT NULL DEFAULT 0,
    "skipped" INTEGER NOT NULL DEFAULT 0,
    "cancelled" INTEGER NOT NULL DEFAULT 0,
    "createdByType" "ActorType" NOT NULL,
    "createdById" TEXT NOT NULL,
    "reportChatId" BIGINT,
    "reportLocale" TEXT,
    "idempotencyKey" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Broadcast_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Broadcast_idempotencyKey_key" ON "Broadcast"("idempotencyKey");

-- CreateIndex
CREATE INDEX "Broadcast_status_scheduledAt_idx" ON "Broadcast"("status", "scheduledAt");

-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN "broadcastId" INTEGER;

-- CreateIndex
CREATE INDEX "Delivery_broadcastId_status_id_idx" ON "Delivery"("broadcastId", "status", "id");

-- AddForeignKey
ALTER TABLE "Delivery" ADD CONSTRAINT "Delivery_broadcastId_fkey" FOREIGN KEY ("broadcastId") REFERENCES "Broadcast"("id") ON DELETE SET NULL ON UPDATE CASCADE;
