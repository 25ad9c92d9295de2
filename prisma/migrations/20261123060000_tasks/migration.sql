-- CreateEnum
CREATE TYPE "ReferralStatus" AS ENUM ('PENDING', 'CONVERTED', 'EXPIRED');

-- CreateEnum
CREATE TYPE "LeaderboardName" AS ENUM ('INITIALS', 'FIRST_NAME', 'HIDDEN');

-- CreateTable
CREATE TABLE "TaskProgress" (
    "id" SERIAL NOT NULL,
    "memberId" INTEGER NOT NULL,
    "taskCode" TEXT NOT NULL,
    "periodKey" TEXT NOT NULL,
    "goal" BIGINT NOT NULL,
    "progress" BIGINT NOT NULL,
    "stores" JSONB NOT NULL,
    "completedAt" TIMESTAMP(3),
    "rewardedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "TaskProgress_pkey" PRIMARY KEY ("id"),
    -- Rewarded only once completed; progress never below zero.
    CONSTRAINT "TaskProgress_state_valid" CHECK ("progress" >= 0 AND "goal" > 0 AND ("rewardedAt" IS NULL OR "completedAt" IS NOT NULL))
);

-- CreateTable
CREATE TABLE "TaskRecord" (
    "id" SERIAL NOT NULL,
    "memberId" INTEGER NOT NULL,
    "taskCode" TEXT NOT NULL,
    "eventId" TEXT NOT NULL,
    "periodKey" TEXT NOT NULL,
    "value" BIGINT NOT NULL,
    "amountMinor" BIGINT NOT NULL,
    "storeId" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TaskRecord_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TaskStreak" (
    "memberId" INTEGER NOT NULL,
    "taskCode" TEXT NOT NULL,
    "current" INTEGER NOT NULL,
    "best" INTEGER NOT NULL,
    "startDate" DATE,
    "lastDate" DATE,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "TaskStreak_pkey" PRIMARY KEY ("memberId","taskCode")
);

-- CreateTable
CREATE TABLE "MemberBadge" (
    "memberId" INTEGER NOT NULL,
    "code" TEXT NOT NULL,
    "taskCode" TEXT,
    "awardedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "MemberBadge_pkey" PRIMARY KEY ("memberId","code")
);

-- CreateTable
CREATE TABLE "StoreVisit" (
    "id" SERIAL NOT NULL,
    "memberId" INTEGER NOT NULL,
    "storeId" INTEGER NOT NULL,
    "day" DATE NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "StoreVisit_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Referral" (
    "id" SERIAL NOT NULL,
    "referrerId" INTEGER NOT NULL,
    "friendId" INTEGER NOT NULL,
    "status" "ReferralStatus" NOT NULL DEFAULT 'PENDING',
    "referrerRewarded" BOOLEAN NOT NULL DEFAULT false,
    "purchaseId" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "convertedAt" TIMESTAMP(3),

    CONSTRAINT "Referral_pkey" PRIMARY KEY ("id"),
    -- No self-referral, whatever the code path.
    CONSTRAINT "Referral_not_self" CHECK ("referrerId" <> "friendId")
);

-- CreateTable
CREATE TABLE "GameProfile" (
    "memberId" INTEGER NOT NULL,
    "leaderboard" BOOLEAN NOT NULL DEFAULT false,
    "nameStyle" "LeaderboardName" NOT NULL DEFAULT 'INITIALS',
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "GameProfile_pkey" PRIMARY KEY ("memberId")
);

-- CreateIndex
CREATE INDEX "TaskProgress_completedAt_idx" ON "TaskProgress"("completedAt");

-- CreateIndex
CREATE UNIQUE INDEX "TaskProgress_memberId_taskCode_periodKey_key" ON "TaskProgress"("memberId", "taskCode", "periodKey");

-- CreateIndex
CREATE INDEX "TaskRecord_memberId_eventId_idx" ON "TaskRecord"("memberId", "eventId");

-- CreateIndex
CREATE UNIQUE INDEX "TaskRecord_memberId_taskCode_eventId_key" ON "TaskRecord"("memberId", "taskCode", "eventId");

-- CreateIndex
CREATE UNIQUE INDEX "StoreVisit_memberId_storeId_day_key" ON "StoreVisit"("memberId", "storeId", "day");

-- CreateIndex
CREATE UNIQUE INDEX "Referral_friendId_key" ON "Referral"("friendId");

-- CreateIndex
CREATE INDEX "Referral_referrerId_status_idx" ON "Referral"("referrerId", "status");

-- AddForeignKey
ALTER TABLE "TaskProgress" ADD CONSTRAINT "TaskProgress_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TaskRecord" ADD CONSTRAINT "TaskRecord_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TaskStreak" ADD CONSTRAINT "TaskStreak_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MemberBadge" ADD CONSTRAINT "MemberBadge_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StoreVisit" ADD CONSTRAINT "StoreVisit_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StoreVisit" ADD CONSTRAINT "StoreVisit_storeId_fkey" FOREIGN KEY ("storeId") REFERENCES "Store"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Referral" ADD CONSTRAINT "Referral_referrerId_fkey" FOREIGN KEY ("referrerId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Referral" ADD CONSTRAINT "Referral_friendId_fkey" FOREIGN KEY ("friendId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "GameProfile" ADD CONSTRAINT "GameProfile_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
