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
-- step after a wrong code is `afterFailure` in src/domain/rewards/lookup-throttle.ts, written
-- again here because it must run under the lock (test/db/spend-codes.test.ts keeps the two equal).
-- `p_code_hash` is the HMAC of the typed code (NULL: not six digits, always wrong); the
-- database never sees the code. Comparing HMACs with `=` (not in constant time) tells a guesser
-- nothing: without the server's key they cannot tell which code a hash prefix belongs to.
-- `p_skip`: check nothing and write nothing (a replayed purchase
-- spends nothing, so its code does not matter). Outcomes:
--   MATCH    the code is the member's current one: `code_id`; nothing written
--   WRONG    counted: `failures` in the window, `blocked_until` set when this one locked
--   LOCKED   not compared: locked until `blocked_until`
--   SKIPPED  nothing checked
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
    INSERT INTO "LookupThrottle" (key, failures, "windowStart", "blockedUntil", "updatedAt")
    VALUES (p_key, 0, p_now, NULL, p_now)
    ON CONFLICT (key) DO NOTHING;
    SELECT t.failures, t."windowStart", t."blockedUntil" INTO failures, window_start, blocked_until
    FROM "LookupThrottle" t WHERE t.key = p_key FOR UPDATE;
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

    -- afterFailure: a new window once the old one (or a block) is over.
    IF failures = 0 OR p_now - window_start >= p_window_ms * interval '1 millisecond'
       OR (blocked_until IS NOT NULL AND blocked_until <= p_now) THEN
        failures := 1;
        window_start := p_now;
    ELSE
        failures := failures + 1;
    END IF;
    blocked_until := CASE WHEN failures >= p_max_failures THEN p_now + p_block_ms * interval '1 millisecond' END;
    UPDATE "LookupThrottle" t
    SET failures = spend_code_attempt.failures, "windowStart" = window_start, "blockedUntil" = blocked_until, "updatedAt" = p_now
    WHERE t.key = p_key;
    outcome := 'WRONG';
END;
$$;
