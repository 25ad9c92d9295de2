-- CreateEnum
CREATE TYPE "RewardKind" AS ENUM ('PERCENT_COUPON', 'FIXED_COUPON', 'FREE_ITEM', 'GIFT');

-- CreateEnum
CREATE TYPE "CouponStatus" AS ENUM ('ISSUED', 'REDEEMED', 'EXPIRED', 'CANCELLED');

-- CreateTable
CREATE TABLE "Reward" (
    "id" SERIAL NOT NULL,
    "code" TEXT NOT NULL,
    "kind" "RewardKind" NOT NULL,
    "value" INTEGER,
    "cost" INTEGER NOT NULL,
    "stock" INTEGER,
    "limitCount" INTEGER,
    "limitPeriodDays" INTEGER,
    "minTier" TEXT,
    "validityDays" INTEGER NOT NULL,
    "availableFrom" TIMESTAMP(3),
    "availableTo" TIMESTAMP(3),
    "imageUrl" TEXT,
    "title" JSONB NOT NULL,
    "description" JSONB NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "programHash" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Reward_pkey" PRIMARY KEY ("id"),
    -- Stock is taken by a conditional update (stock > 0); this is the last line of defence.
    CONSTRAINT "Reward_stock_cost_valid" CHECK ("cost" >= 0 AND ("stock" IS NULL OR "stock" >= 0) AND "validityDays" > 0)
);

-- CreateTable
CREATE TABLE "Coupon" (
    "id" SERIAL NOT NULL,
    "code" TEXT NOT NULL,
    "rewardId" INTEGER NOT NULL,
    "memberId" INTEGER NOT NULL,
    "kind" "RewardKind" NOT NULL,
    "value" INTEGER,
    "cost" INTEGER NOT NULL,
    "status" "CouponStatus" NOT NULL DEFAULT 'ISSUED',
    "idempotencyKey" TEXT NOT NULL,
    "issuedAt" TIMESTAMP(3) NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "redeemedAt" TIMESTAMP(3),
    "redeemedStoreId" INTEGER,
    "redeemedByType" "ActorType",
    "redeemedById" TEXT,
    "redeemKey" TEXT,
    "cancelledAt" TIMESTAMP(3),
    "expiredAt" TIMESTAMP(3),
    "pointsRefunded" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Coupon_pkey" PRIMARY KEY ("id"),
    -- A redeemed coupon always says when; points refunded never exceed what was paid.
    CONSTRAINT "Coupon_state_valid" CHECK ("cost" >= 0 AND "pointsRefunded" >= 0 AND "pointsRefunded" <= "cost" AND ("status" <> 'REDEEMED' OR "redeemedAt" IS NOT NULL))
);

-- CreateTable
CREATE TABLE "LookupThrottle" (
    "key" TEXT NOT NULL,
    "failures" INTEGER NOT NULL,
    "windowStart" TIMESTAMP(3) NOT NULL,
    "blockedUntil" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "LookupThrottle_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "Reward_code_key" ON "Reward"("code");

-- CreateIndex
CREATE UNIQUE INDEX "Coupon_code_key" ON "Coupon"("code");

-- CreateIndex
CREATE UNIQUE INDEX "Coupon_idempotencyKey_key" ON "Coupon"("idempotencyKey");

-- CreateIndex
CREATE INDEX "Coupon_memberId_rewardId_issuedAt_idx" ON "Coupon"("memberId", "rewardId", "issuedAt");

-- CreateIndex
CREATE INDEX "Coupon_status_expiresAt_idx" ON "Coupon"("status", "expiresAt");

-- AddForeignKey
ALTER TABLE "Coupon" ADD CONSTRAINT "Coupon_rewardId_fkey" FOREIGN KEY ("rewardId") REFERENCES "Reward"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Coupon" ADD CONSTRAINT "Coupon_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Coupon" ADD CONSTRAINT "Coupon_redeemedStoreId_fkey" FOREIGN KEY ("redeemedStoreId") REFERENCES "Store"("id") ON DELETE SET NULL ON UPDATE CASCADE;
