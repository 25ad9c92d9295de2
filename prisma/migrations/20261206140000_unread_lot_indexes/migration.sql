-- Two indexes no query reads, dropped (issue 12): every write of a lot or an allocation paid for
-- them. A debit's draw and the points expiry update lots (remaining changes, so the update is
-- not heap-only and the new version enters every index whose predicate it meets) and insert an
-- allocation per lot drawn: the 1M-lot expiry wrote two million entries into these two.
--
-- All lots of a member by expiry: every query of lots asks for open ones (remaining > 0), which
-- PointLot_member_open_by_expiry_idx (member, expiry) and PointLot_open_by_expiry_idx (expiry)
-- hold and a spent lot leaves. Members are never deleted (erasure keeps the accounting row), so
-- the foreign key's RESTRICT check on a member's delete (which would look here) never runs.
DROP INDEX "PointLot_memberId_expiresAt_idx";
-- Allocations by lot: nothing reads allocations by lot; they are read by entry, the primary
-- key's first column. Lots are never deleted, so the foreign key's RESTRICT check on a lot's
-- delete (which would look here) never runs.
DROP INDEX "LotAllocation_lotId_idx";
