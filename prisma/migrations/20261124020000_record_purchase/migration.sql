-- A purchase in one round trip of writes (issue 12). The rules stay in the domain
-- (src/domain/purchases/record-purchase.ts: idempotency and replay, the points cap, earn rules,
-- the tier decision); the domain reads once, plans the purchase, and this function executes
-- the plan as one statement, so it commits atomically without BEGIN/COMMIT round trips.

-- What counts toward a tier (src/domain/members/overview.ts `qualification`): purchases minus
-- returns, or points credited by EARN minus REVERSE, since `p_since` (NULL: lifetime). The one
-- place this is written in SQL: src/db/qualification.ts calls it, and so does record_purchase.
-- PL/pgSQL so that each branch keeps a cached plan that uses the (memberId, createdAt) indexes.
CREATE FUNCTION qualifying_total(p_member_id integer, p_metric text, p_since timestamp(3))
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_total bigint;
BEGIN
    IF p_metric = 'spend' THEN
        IF p_since IS NULL THEN
            SELECT COALESCE(SUM(p."amountMinor" - p."returnedMinor"), 0)::bigint INTO v_total
            FROM "Purchase" p WHERE p."memberId" = p_member_id;
        ELSE
            SELECT COALESCE(SUM(p."amountMinor" - p."returnedMinor"), 0)::bigint INTO v_total
            FROM "Purchase" p WHERE p."memberId" = p_member_id AND p."createdAt" >= p_since;
        END IF;
    ELSIF p_since IS NULL THEN
        SELECT COALESCE(SUM(e.amount), 0)::bigint INTO v_total
        FROM "LedgerEntry" e WHERE e."memberId" = p_member_id AND e.type IN ('EARN', 'REVERSE');
    ELSE
        SELECT COALESCE(SUM(e.amount), 0)::bigint INTO v_total
        FROM "LedgerEntry" e WHERE e."memberId" = p_member_id AND e.type IN ('EARN', 'REVERSE') AND e."createdAt" >= p_since;
    END IF;
    RETURN v_total;
END;
$$;

-- Executes a purchase the domain planned from what it read (member, store, replay, qualifying
-- total). Under the member's lock it first checks that the plan still holds: the member is
-- active with the tier the earn rate was taken from, the store is active, the receipt and key
-- are unused, and the qualifying total is still inside the band where the domain's tier
-- decision holds. If not, it writes nothing and answers STALE: the domain reads again and plans
-- again (concurrent purchases of one member rarely move a tier, so this is rare).
--
-- Keys and payloads come from the domain with the facts only this function knows filled in:
-- '{id}' in a key is the new purchase's id; the receipt gets the balance after the purchase,
-- the event gets `purchaseId`. Outcomes:
--   RECORDED             everything written: purchase, spend and earn posts (ledger_post), the
--                        tier, the receipt and tier messages (Delivery) and the event (DomainEvent)
--   STALE                nothing written; read again
--   INSUFFICIENT_POINTS  nothing written; member_balance says what there is
CREATE FUNCTION record_purchase(
    p_member_id integer,
    p_store_id integer,
    p_receipt_no text,
    p_amount_minor bigint,
    p_points_to_spend integer,
    p_points_earned integer,
    p_key text,
    p_request_hash text,
    p_actor_type "ActorType",
    p_actor_id text,
    -- the plan's assumptions
    p_tier_before text,
    p_metric text,
    p_since timestamp(3),
    p_total_min bigint,            -- the qualifying total before the purchase must lie in
    p_total_max bigint,            -- [min, max] (NULL: unbounded) for the tier decision to hold
    -- the plan's writes
    p_tier_after text,
    p_spend_key text,
    p_earn_key text,
    p_earn_expires_at timestamp(3),
    p_receipt_key text,
    p_receipt jsonb,
    p_tier_key text,
    p_tier_notice jsonb,           -- NULL: no tier message
    p_event_id text,
    p_event_type text,
    p_event_payload jsonb,
    p_created_at timestamp(3),     -- from the injected clock, never now() (DESIGN.md, principle 9)
    p_spend_code_id integer,       -- the member's proof of presence for a spend (DESIGN principle 10):
    p_spend_request_id text,       -- a one-time code or an approved request, used up here (NULL: none)
    OUT outcome text,
    OUT purchase_id integer,
    OUT member_balance integer,
    OUT receipt_delivery_id integer,
    OUT tier_delivery_id integer,
    OUT event_written boolean
) LANGUAGE plpgsql AS $$
DECLARE
    v_status "MemberStatus";
    v_tier text;
    v_total bigint;
    v_post record;
BEGIN
    -- The same lock ledger_post takes (it takes it again below, a no-op within this transaction):
    -- purchases, posts and tier changes of one member are serialised, always member first.
    SELECT m.status, m.tier, m.balance INTO v_status, v_tier, member_balance
    FROM "Member" m WHERE m.id = p_member_id FOR NO KEY UPDATE;
    IF NOT FOUND OR v_status <> 'ACTIVE' OR v_tier IS DISTINCT FROM p_tier_before
       OR NOT EXISTS (SELECT 1 FROM "Store" s WHERE s.id = p_store_id AND s.active)
       OR EXISTS (SELECT 1 FROM "Purchase" p WHERE p."idempotencyKey" = p_key)
       OR EXISTS (SELECT 1 FROM "Purchase" p WHERE p."storeId" = p_store_id AND p."receiptNo" = p_receipt_no) THEN
        outcome := 'STALE';
        RETURN;
    END IF;
    v_total := qualifying_total(p_member_id, p_metric, p_since);
    IF (p_total_min IS NOT NULL AND v_total < p_total_min) OR (p_total_max IS NOT NULL AND v_total > p_total_max) THEN
        outcome := 'STALE';
        RETURN;
    END IF;
    IF member_balance < p_points_to_spend THEN
        outcome := 'INSUFFICIENT_POINTS';
        RETURN;
    END IF;

    -- A twin of another member (same key or receipt) may commit while we hold only our member's
    -- lock: ON CONFLICT waits for it and inserts nothing, and we answer STALE (the re-read sees it).
    INSERT INTO "Purchase" ("memberId", "storeId", "receiptNo", "amountMinor", "paidWithPoints", "pointsEarned", "idempotencyKey", "requestHash", "actorType", "actorId", "createdAt")
    VALUES (p_member_id, p_store_id, p_receipt_no, p_amount_minor, p_points_to_spend, p_points_earned, p_key, p_request_hash, p_actor_type, p_actor_id, p_created_at)
    ON CONFLICT DO NOTHING
    RETURNING id INTO purchase_id;
    IF purchase_id IS NULL THEN
        outcome := 'STALE';
        RETURN;
    END IF;

    IF p_points_to_spend > 0 THEN
        -- The proof is used up with the spend, in this statement: of two purchases racing with one
        -- proof, one spends and the other rolls back whole (SQLSTATE SP409, mapped by the caller).
        IF p_spend_code_id IS NOT NULL THEN
            UPDATE "SpendCode" c SET "usedAt" = p_created_at, "purchaseId" = purchase_id
            WHERE c.id = p_spend_code_id AND c."memberId" = p_member_id AND c."usedAt" IS NULL AND c."expiresAt" > p_created_at;
        ELSE
            UPDATE "SpendRequest" r SET "usedAt" = p_created_at, "purchaseId" = purchase_id
            WHERE r.id = p_spend_request_id AND r."memberId" = p_member_id AND r."storeId" = p_store_id AND r.points = p_points_to_spend
              AND r.status = 'APPROVED' AND r."usedAt" IS NULL AND r."expiresAt" > p_created_at;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'record_purchase: the spend proof of purchase % is no longer valid', purchase_id USING ERRCODE = 'SP409';
        END IF;
        SELECT * INTO v_post FROM ledger_post(p_member_id, 'debit', 'SPEND', p_points_to_spend, false, replace(p_spend_key, '{id}', purchase_id::text),
            p_actor_type, p_actor_id, 'purchase', p_store_id, purchase_id, NULL, p_created_at);
        IF v_post.outcome <> 'POSTED' THEN
            -- Checked above under the same lock, and the key is new: this cannot happen quietly.
            RAISE EXCEPTION 'record_purchase: spend of purchase % answered %', purchase_id, v_post.outcome;
        END IF;
        member_balance := (v_post.entry)."balanceAfter";
    END IF;
    IF p_points_earned > 0 THEN
        SELECT * INTO v_post FROM ledger_post(p_member_id, 'credit', 'EARN', p_points_earned, false, replace(p_earn_key, '{id}', purchase_id::text),
            p_actor_type, p_actor_id, 'purchase', p_store_id, purchase_id, p_earn_expires_at, p_created_at);
        IF v_post.outcome <> 'POSTED' THEN
            RAISE EXCEPTION 'record_purchase: earn of purchase % answered %', purchase_id, v_post.outcome;
        END IF;
        member_balance := (v_post.entry)."balanceAfter";
    END IF;

    IF p_tier_after IS DISTINCT FROM v_tier THEN
        UPDATE "Member" SET tier = p_tier_after, "updatedAt" = now() WHERE id = p_member_id;
    END IF;

    -- The outbox rows commit with the purchase (DESIGN.md, principle 8); their keys make a
    -- second write a no-op, as in src/db/event-repository.ts and delivery-repository.ts.
    INSERT INTO "Delivery" ("dedupeKey", "memberId", "kind", "class", "payload", "createdAt", "updatedAt")
    VALUES (replace(p_receipt_key, '{id}', purchase_id::text), p_member_id, p_receipt->>'kind', 'transactional',
            p_receipt || jsonb_build_object('balance', member_balance), p_created_at, now())
    ON CONFLICT ("dedupeKey") DO NOTHING
    RETURNING id INTO receipt_delivery_id;
    IF p_tier_notice IS NOT NULL THEN
        INSERT INTO "Delivery" ("dedupeKey", "memberId", "kind", "class", "payload", "createdAt", "updatedAt")
        VALUES (replace(p_tier_key, '{id}', purchase_id::text), p_member_id, p_tier_notice->>'kind', 'transactional', p_tier_notice, p_created_at, now())
        ON CONFLICT ("dedupeKey") DO NOTHING
        RETURNING id INTO tier_delivery_id;
    END IF;
    INSERT INTO "DomainEvent" (id, type, payload, "createdAt")
    VALUES (replace(p_event_id, '{id}', purchase_id::text), p_event_type, p_event_payload || jsonb_build_object('purchaseId', purchase_id), p_created_at)
    ON CONFLICT (id) DO NOTHING;
    event_written := FOUND;
    outcome := 'RECORDED';
END;
$$;
