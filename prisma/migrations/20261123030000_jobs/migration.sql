-- CreateTable
CREATE TABLE "JobRun" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),
    "outcome" JSONB,
    "error" TEXT,

    CONSTRAINT "JobRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "JobRun_name_startedAt_idx" ON "JobRun"("name", "startedAt");

-- The birthday job: active members by month and day of birth, in id order for its batches.
-- An expression index, which Prisma cannot express: it lives here only.
CREATE INDEX "Member_birthday_month_day_idx" ON "Member"((EXTRACT(MONTH FROM "birthday")), (EXTRACT(DAY FROM "birthday")), "id") WHERE "birthday" IS NOT NULL AND "status" = 'ACTIVE';
