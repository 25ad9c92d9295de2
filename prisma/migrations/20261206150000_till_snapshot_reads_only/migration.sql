-- A till purchase's snapshot (its first round trip) writes nothing again, and finds the member's
-- current spend code without a scan (issue 12, measured on the till path).
--
-- 1. A key's first guessing check inserted an empty LookupThrottle row. That made the snapshot
--    of most spend-code purchases (the member's first check, ever) a writing transaction with a
--    WAL flush of its own, ~0.13 ms of server CPU. The row now appears with the first wrong
--    guess: lookup_throttle_lock reads "no row" as no failures, and lookup_throttle_fail
--    upserts. The advisory lock still serialises every check under the key until its
--    transaction ends, so two first guesses cannot both count from zero: the second waits and
--    then reads the row the first committed. Contract and outcomes are unchanged
--    (20261206110500_lookup_throttle_advisory_lock).
CREATE OR REPLACE FUNCTION lookup_throttle_lock(
    p_key text,
    p_now timestamp(3),
    OUT failures integer,
    OUT window_start timestamp(3),
    OUT blocked_until timestamp(3)
) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(19540, hashtext(p_key));
    SELECT t.failures, t."windowStart", t."blockedUntil" INTO failures, window_start, blocked_until
    FROM "LookupThrottle" t WHERE t.key = p_key;
    IF NOT FOUND THEN
        failures := 0;
        window_start := p_now;
        blocked_until := NULL;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION lookup_throttle_fail(
    p_key text,
    p_now timestamp(3),
    p_failures integer,
    p_window_start timestamp(3),
    p_blocked_until timestamp(3),
    p_max_failures integer,
    p_window_ms integer,
    p_block_ms integer,
    OUT failures integer,
    OUT window_start timestamp(3),
    OUT blocked_until timestamp(3)
) LANGUAGE plpgsql AS $$
BEGIN
    IF p_failures = 0 OR p_now - p_window_start >= p_window_ms * interval '1 millisecond'
       OR (p_blocked_until IS NOT NULL AND p_blocked_until <= p_now) THEN
        failures := 1;
        window_start := p_now;
    ELSE
        failures := p_failures + 1;
        window_start := p_window_start;
    END IF;
    blocked_until := CASE WHEN failures >= p_max_failures THEN p_now + p_block_ms * interval '1 millisecond' END;
    INSERT INTO "LookupThrottle" AS t (key, failures, "windowStart", "blockedUntil", "updatedAt")
    VALUES (p_key, lookup_throttle_fail.failures, lookup_throttle_fail.window_start, lookup_throttle_fail.blocked_until, p_now)
    ON CONFLICT (key) DO UPDATE
    SET failures = EXCLUDED.failures, "windowStart" = EXCLUDED."windowStart",
        "blockedUntil" = EXCLUDED."blockedUntil", "updatedAt" = EXCLUDED."updatedAt";
END;
$$;

-- 2. The member's current code (spend_code_attempt: the newest unused, unexpired one) was read
--    by walking the primary key backwards from the newest code of anyone, skipping every other
--    member's codes: 100 us at 60 codes per member in the bench's data, and growing with them.
--    Unused codes by member and id answer it from the member's own few entries (5 us), and also
--    serve the other reads of unused codes (a new code supersedes them; a purchase uses one by
--    id). Nothing reads used codes by member.
DROP INDEX "SpendCode_memberId_usedAt_idx";
CREATE INDEX "SpendCode_member_unused_idx" ON "SpendCode" ("memberId", id) WHERE "usedAt" IS NULL;
