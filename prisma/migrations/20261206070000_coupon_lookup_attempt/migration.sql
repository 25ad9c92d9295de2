-- One well-formed coupon code looked up for one operator (a staff account or a till), with a
-- miss counted in the same step (the brute-force guard, src/domain/rewards/lookup-throttle.ts).
-- Before, the lock was read first and a miss counted after the lookup, so N concurrent lookups
-- all saw "fewer than 5 misses" and were all answered. Here every lookup by one operator first
-- takes the operator's row in "LookupThrottle" (`p_key`) FOR UPDATE, in every process: whether a
-- lookup is refused as locked, answered, or counted as a miss is decided from the latest count,
-- one lookup at a time. So at most `p_max_failures` unknown codes are answered per window, and
-- while the operator is locked no code is looked up at all, not even an existing one.
-- spend_code_attempt does the same for spend codes.
--
-- The policy's numbers come from the caller (COUPON_LOOKUP_POLICY); the lock and the step after
-- a miss are lookup_throttle_lock and lookup_throttle_fail (the spend_code_attempt migration).
-- Codes the check character rejects never get here: a typo tells a guesser nothing, so it does
-- not count. Outcomes:
--   FOUND    the coupon with code `p_code`: `coupon_id`; nothing written but the empty row
--   WRONG    counted: `failures` in the window, `blocked_until` set when this one locked
--   LOCKED   not looked up: locked until `blocked_until`
CREATE FUNCTION coupon_lookup_attempt(
    p_key text,
    p_code text,
    p_now timestamp(3),
    p_max_failures integer,
    p_window_ms integer,
    p_block_ms integer,
    OUT outcome text,
    OUT coupon_id integer,
    OUT failures integer,
    OUT window_start timestamp(3),
    OUT blocked_until timestamp(3)
) LANGUAGE plpgsql AS $$
BEGIN
    SELECT l.failures, l.window_start, l.blocked_until INTO failures, window_start, blocked_until
    FROM lookup_throttle_lock(p_key, p_now) l;
    IF blocked_until > p_now THEN
        outcome := 'LOCKED';
        RETURN;
    END IF;

    SELECT c.id INTO coupon_id FROM "Coupon" c WHERE c.code = p_code;
    IF coupon_id IS NOT NULL THEN
        outcome := 'FOUND';
        RETURN;
    END IF;

    SELECT f.failures, f.window_start, f.blocked_until INTO failures, window_start, blocked_until
    FROM lookup_throttle_fail(p_key, p_now, failures, window_start, blocked_until, p_max_failures, p_window_ms, p_block_ms) f;
    outcome := 'WRONG';
END;
$$;
