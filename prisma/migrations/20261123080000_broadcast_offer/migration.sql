-- AlterTable: a broadcast may carry a personal offer, a free coupon of this reward for each recipient.
ALTER TABLE "Broadcast" ADD COLUMN "offerRewardCode" TEXT;
