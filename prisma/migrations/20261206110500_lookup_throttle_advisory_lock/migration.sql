-- The guessing lock of a key (a member's spend codes, an operator's coupon lookups) is a
-- transaction-level advisory lock instead of the row's FOR UPDATE (issue 12). Both serialise
-- every check under one key behind the one before, until its transaction ends, and the check
-- then reads the count the last one committed (each statement of these volatile functions takes
-- a new snapshot). But a row lock writes: it stamps the row (a WAL record) and gives the
-- transaction an id, so its commit writes a commit record and waits for the WAL flush. So every
-- till purchase with a spend code flushed the WAL twice, once for its snapshot (whose right
-- code writes nothing else) and once for record_purchase; now only a wrong guess, which counts,
-- makes its check's transaction write. Contract, callers (spend_code_attempt,
-- coupon_lookup_attempt) and outcomes are unchanged (20261206010000_spend_code_attempt).
--
-- Advisory locks of two int4 keys are a space apart from the one-bigint keys the app uses
-- elsewhere (the migration lock, the survey dispatcher); 19540 ('LT') names this one. Two keys
-- whose hashes collide only wait for each other.
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
        -- The key's first check: created empty (lookup_throttle_fail updates it), as before.
        INSERT INTO "LookupThrottle" (key, failures, "windowStart", "blockedUntil", "updatedAt")
        VALUES (p_key, 0, p_now, NULL, p_now)
        ON CONFLICT (key) DO NOTHING;
        SELECT t.failures, t."windowStart", t."blockedUntil" INTO failures, window_start, blocked_until
        FROM "LookupThrottle" t WHERE t.key = p_key;
    END IF;
END;
$$;
