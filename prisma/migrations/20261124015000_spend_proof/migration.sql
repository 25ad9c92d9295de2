-- Spending needs the member's proof of presence (DESIGN principle 10): a one-time spend code
-- from the bot's Card screen, or a confirmation request the member answers in the chat.

-- A spend code: six digits shown on the Card screen, stored only as an HMAC (a reader of the
-- database cannot turn the hash back into a usable code), valid for minutes, used once.
-- Opening the Card screen again supersedes the previous code (usedAt set without a purchase).
CREATE TABLE "SpendCode" (
    "id" SERIAL NOT NULL,
    "memberId" INTEGER NOT NULL,
    "codeHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "purchaseId" INTEGER,

    CONSTRAINT "SpendCode_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "SpendCode_memberId_usedAt_idx" ON "SpendCode"("memberId", "usedAt");

CREATE TYPE "SpendRequestStatus" AS ENUM ('PENDING', 'APPROVED', 'DECLINED');

-- A request to pay `points` at a store that the member approves or declines in the chat; an
-- approved request pays one purchase (usedAt), before expiresAt.
CREATE TABLE "SpendRequest" (
    "id" TEXT NOT NULL,
    "memberId" INTEGER NOT NULL,
    "storeId" INTEGER NOT NULL,
    "points" INTEGER NOT NULL,
    "status" "SpendRequestStatus" NOT NULL DEFAULT 'PENDING',
    "actorType" "ActorType" NOT NULL,
    "actorId" TEXT,
    "notifyChatId" BIGINT,
    "notifyLocale" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "decidedAt" TIMESTAMP(3),
    "usedAt" TIMESTAMP(3),
    "purchaseId" INTEGER,

    CONSTRAINT "SpendRequest_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "SpendRequest_points_positive" CHECK ("points" > 0),
    -- Only an approved request pays for anything.
    CONSTRAINT "SpendRequest_used_approved" CHECK ("usedAt" IS NULL OR "status" = 'APPROVED')
);
CREATE INDEX "SpendRequest_memberId_createdAt_idx" ON "SpendRequest"("memberId", "createdAt");

-- Who created an API key (an admin's Telegram id): such a key records nothing on its creator's
-- own card. When the key was last used (written at most once a minute per key).
ALTER TABLE "ApiKey" ADD COLUMN "createdBy" BIGINT;
ALTER TABLE "ApiKey" ADD COLUMN "lastUsedAt" TIMESTAMP(3);
