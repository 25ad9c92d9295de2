-- AlterTable
ALTER TABLE "Member" ADD COLUMN     "cardFileId" TEXT;
