-- One typed spend code checked against the member's current one (DESIGN principle 10), with
-- the guess counted in the same step as the compare. Before, the compare ran on what a read
-- returned and a wrong code was counted afterwards, so N concurrent guesses all saw "fewer than
-- 5 wrong" and all were compared. Here every check of one member's codes first takes the
-- member's guessing-lock row (LookupThrottle `p_key`) FOR UPDATE, in every process: whether a
-- guess is refused as locked, accepted, or counted as wrong is decided from the latest count,
-- one guess at a time. So at most `p_max_failures` wrong codes are ever answered per window,
-- and while the member is locked no code is compared at all, not even the right one.
--
-- The policy's numbers come from the caller (SPEND_CODE_POLICY in src/domain/spending); the
-- lock and the step after a wrong code are lookup_throttle_lock and lookup_throttle_fail (below).
-- `p_code_hash` is the HMAC of the typed code (NULL: not six digits, always wrong); the
-- database never sees the code. Comparing HMACs with `=` (not in constant time) tells a guesser
-- nothing: without the server's key they cannot tell which code a hash prefix belongs to.
-- `p_skip`: check nothing and write nothing (a replayed purchase
-- spends nothing, so its code does not matter). Outcomes:
--   MATCH    the code is the member's current one: `code_id`; nothing written
--   WRONG    counted: `failures` in the window, `blocked_until` set when this one locked
--   LOCKED   not compared: locked until `blocked_until`
--   SKIPPED  nothing checked
-- The guessing lock of one key (a member's spend codes, an operator's coupon lookups), taken
-- FOR UPDATE so that every check under that key waits for the one before; created empty when new.
CREATE FUNCTION lookup_throttle_lock(
    p_key text,
    p_now timestamp(3),
    OUT failures integer,
    OUT window_start timestamp(3),
    OUT blocked_until timestamp(3)
) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "LookupThrottle" (key, failures, "windowStart", "blockedUntil", "updatedAt")
    VALUES (p_key, 0, p_now, NULL, p_now)
    ON CONFLICT (key) DO NOTHING;
    SELECT t.failures, t."windowStart", t."blockedUntil" INTO failures, window_start, blocked_until
    FROM "LookupThrottle" t WHERE t.key = p_key FOR UPDATE;
END;
$$;

-- One wrong guess counted on a row lookup_throttle_lock holds: `afterFailure` in
-- src/domain/rewards/lookup-throttle.ts, written again here because it must run under the lock
-- (test/db/spend-codes.test.ts and coupon-guessing.test.ts keep the two equal). A new window
-- once the old one (or a block) is over; locked for `p_block_ms` at the `p_max_failures`-th.
CREATE FUNCTION lookup_throttle_fail(
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
    UPDATE "LookupThrottle" t
    SET failures = lookup_throttle_fail.failures, "windowStart" = lookup_throttle_fail.window_start,
        "blockedUntil" = lookup_throttle_fail.blocked_until, "updatedAt" = p_now
    WHERE t.key = p_key;
END;
$$;

CREATE FUNCTION spend_code_attempt(
    p_member_id integer,
    p_key text,
    p_code_hash text,
    p_now timestamp(3),
    p_max_failures integer,
    p_window_ms integer,
    p_block_ms integer,
    p_skip boolean,
    OUT outcome text,
    OUT code_id integer,
    OUT failures integer,
    OUT window_start timestamp(3),
    OUT blocked_until timestamp(3)
) LANGUAGE plpgsql AS $$
DECLARE
    v_hash text;
BEGIN
    IF p_skip THEN
        outcome := 'SKIPPED';
        RETURN;
    END IF;
    SELECT l.failures, l.window_start, l.blocked_until INTO failures, window_start, blocked_until
    FROM lookup_throttle_lock(p_key, p_now) l;
    IF blocked_until > p_now THEN
        outcome := 'LOCKED';
        RETURN;
    END IF;

    -- The member's current code (SpendCodeRepository.current): the newest unused, unexpired one.
    SELECT c.id, c."codeHash" INTO code_id, v_hash FROM "SpendCode" c
    WHERE c."memberId" = p_member_id AND c."usedAt" IS NULL AND c."expiresAt" > p_now
    ORDER BY c.id DESC LIMIT 1;
    IF code_id IS NOT NULL AND v_hash = p_code_hash THEN
        outcome := 'MATCH';
        RETURN;
    END IF;
    code_id := NULL;

    SELECT f.failures, f.window_start, f.blocked_until INTO failures, window_start, blocked_until
    FROM lookup_throttle_fail(p_key, p_now, failures, window_start, blocked_until, p_max_failures, p_window_ms, p_block_ms) f;
    outcome := 'WRONG';
END;
$$;
