-- Issue 14 (part B): opaque referral tokens, verified phones, and the fingerprints erasure keeps.

-- The invite link's own token (`?start=ref_<token>`), unrelated to the card code; drawn on first
-- use and replaced when the member asks for a new link. Old `ref_<card code>` links match nothing.
ALTER TABLE "Member" ADD COLUMN "referralToken" TEXT;
CREATE UNIQUE INDEX "Member_referralToken_key" ON "Member"("referralToken");

-- Only the member's own shared contact verifies a phone. Phones kept before this migration cannot
-- tell a shared contact from a typed number, so they start unverified.
ALTER TABLE "Member" ADD COLUMN "phoneVerified" BOOLEAN NOT NULL DEFAULT false;

-- A member whose Telegram id or verified phone matched an erased account's fingerprint at
-- registration, and the reward takes that account had (per-member limits still count them).
ALTER TABLE "Member" ADD COLUMN "returning" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "Member" ADD COLUMN "inheritedTakes" JSONB NOT NULL DEFAULT '[]';

-- What erasure keeps: keyed HMAC-SHA256 digests of the Telegram id and of the verified phone (not
-- reversible without the server's secret), and the one-time rewards already granted, for
-- FINGERPRINT_RETENTION_DAYS (fraud prevention); the purge job deletes older rows.
CREATE TABLE "ErasedIdentity" (
    "id" SERIAL NOT NULL,
    "telegramDigest" TEXT NOT NULL,
    "phoneDigest" TEXT,
    "erasedAt" TIMESTAMP(3) NOT NULL,
    "rewardTakes" JSONB NOT NULL,
    "tasksRewarded" JSONB NOT NULL,

    CONSTRAINT "ErasedIdentity_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "ErasedIdentity_telegramDigest_idx" ON "ErasedIdentity"("telegramDigest");
CREATE INDEX "ErasedIdentity_phoneDigest_idx" ON "ErasedIdentity"("phoneDigest");
CREATE INDEX "ErasedIdentity_erasedAt_idx" ON "ErasedIdentity"("erasedAt");
