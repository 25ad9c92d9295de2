-- CreateEnum
CREATE TYPE "SurveyStatus" AS ENUM ('SENT', 'ANSWERED', 'CLOSED');

-- CreateEnum
CREATE TYPE "NpsGroup" AS ENUM ('PROMOTER', 'PASSIVE', 'DETRACTOR');

-- AlterTable: a delivery goes to a member, or (staff alerts) to a chat in a given language.
ALTER TABLE "Delivery" ALTER COLUMN "memberId" DROP NOT NULL,
ADD COLUMN "chatId" BIGINT,
ADD COLUMN "locale" TEXT;

-- A delivery has a recipient: a member or a chat.
ALTER TABLE "Delivery" ADD CONSTRAINT "Delivery_recipient_check" CHECK ("memberId" IS NOT NULL OR "chatId" IS NOT NULL);

-- AlterTable
ALTER TABLE "Staff" ADD COLUMN "locale" TEXT;

-- CreateIndex
CREATE INDEX "Purchase_createdAt_idx" ON "Purchase"("createdAt");

-- CreateTable
CREATE TABLE "Survey" (
    "id" SERIAL NOT NULL,
    "memberId" INTEGER NOT NULL,
    "trigger" TEXT NOT NULL,
    "purchaseId" INTEGER,
    "storeId" INTEGER,
    "status" "SurveyStatus" NOT NULL DEFAULT 'SENT',
    "score" INTEGER,
    "group" "NpsGroup",
    "reasons" JSONB NOT NULL DEFAULT '[]',
    "comment" TEXT,
    "sentAt" TIMESTAMP(3) NOT NULL,
    "answeredAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "closedAt" TIMESTAMP(3),
    "alertedAt" TIMESTAMP(3),
    "handledAt" TIMESTAMP(3),
    "handledBy" BIGINT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Survey_pkey" PRIMARY KEY ("id"),
    -- A score is 0-10, and an answered survey has one.
    CONSTRAINT "Survey_score_check" CHECK ("score" IS NULL OR ("score" >= 0 AND "score" <= 10)),
    CONSTRAINT "Survey_answer_check" CHECK (("score" IS NULL) = ("group" IS NULL) AND ("score" IS NULL) = ("answeredAt" IS NULL) AND ("status" <> 'ANSWERED' OR "score" IS NOT NULL))
);

-- CreateIndex
CREATE UNIQUE INDEX "Survey_purchaseId_key" ON "Survey"("purchaseId");

-- CreateIndex
CREATE UNIQUE INDEX "Survey_memberId_trigger_key" ON "Survey"("memberId", "trigger");

-- CreateIndex
CREATE INDEX "Survey_memberId_sentAt_idx" ON "Survey"("memberId", "sentAt");

-- CreateIndex
CREATE INDEX "Survey_sentAt_idx" ON "Survey"("sentAt");

-- CreateIndex
CREATE INDEX "Survey_status_answeredAt_idx" ON "Survey"("status", "answeredAt");

-- AddForeignKey
ALTER TABLE "Survey" ADD CONSTRAINT "Survey_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Survey" ADD CONSTRAINT "Survey_purchaseId_fkey" FOREIGN KEY ("purchaseId") REFERENCES "Purchase"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Survey" ADD CONSTRAINT "Survey_storeId_fkey" FOREIGN KEY ("storeId") REFERENCES "Store"("id") ON DELETE SET NULL ON UPDATE CASCADE;
