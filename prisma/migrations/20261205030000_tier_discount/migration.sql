-- Issue 15: the tier discount is applied at the till (src/domain/purchases/quote.ts).
-- A purchase keeps the tier whose discount it got, the discount and what was paid in money; a
-- return keeps the discount share it took back and the money it refunded; the member keeps a
-- running total of what they saved, so the balance screen needs no aggregate.

ALTER TABLE "Purchase" ADD COLUMN "tierCode" TEXT;
ALTER TABLE "Purchase" ADD COLUMN "discountMinor" BIGINT NOT NULL DEFAULT 0;
-- NULL for purchases recorded before discounts existed: what was paid in money was not kept.
ALTER TABLE "Purchase" ADD COLUMN "paidMinor" BIGINT;
ALTER TABLE "PurchaseReturn" ADD COLUMN "discountMinor" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "PurchaseReturn" ADD COLUMN "refundMinor" BIGINT;
ALTER TABLE "Member" ADD COLUMN "savedMinor" BIGINT NOT NULL DEFAULT 0;

-- What counts toward a spend tier is what the purchase cost after the tier discount (points
-- included: they are the member's to spend), minus the returned share. The returned discount
-- share is the cumulative floor(discount * returned / amount), as src/domain/ledger/earn-rules.ts
-- `proportionalShare` computes it, so a full return leaves exactly 0. numeric: the product of two
-- bills may exceed bigint.
CREATE OR REPLACE FUNCTION qualifying_total(p_member_id integer, p_metric text, p_since timestamp(3))
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_total bigint;
BEGIN
    IF p_metric = 'spend' THEN
        IF p_since IS NULL THEN
            SELECT COALESCE(SUM(p."amountMinor" - p."returnedMinor" - p."discountMinor"
                                + CASE WHEN p."returnedMinor" = 0 OR p."discountMinor" = 0 THEN 0
                                       ELSE div(p."discountMinor"::numeric * p."returnedMinor", p."amountMinor") END), 0)::bigint INTO v_total
            FROM "Purchase" p WHERE p."memberId" = p_member_id;
        ELSE
            SELECT COALESCE(SUM(p."amountMinor" - p."returnedMinor" - p."discountMinor"
                                + CASE WHEN p."returnedMinor" = 0 OR p."discountMinor" = 0 THEN 0
                                       ELSE div(p."discountMinor"::numeric * p."returnedMinor", p."amountMinor") END), 0)::bigint INTO v_total
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

-- record_purchase takes three more arguments (tier, discount, money paid): a new signature, so
-- the old function is dropped rather than replaced (CREATE OR REPLACE would add an overload).
-- Everything else (assumptions, STALE, SP409, outbox rows) is as in 20261124020000_record_purchase.
DROP FUNCTION record_purchase(integer, integer, text, bigint, integer, integer, text, text, "ActorType", text, text, text, timestamp(3),
    bigint, bigint, text, text, text, timestamp(3), text, jsonb, text, jsonb, text, text, jsonb, timestamp(3), integer, text);

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
    p_tier_code text,              -- the tier whose discount the bill got (the member's before the purchase)
    p_discount_minor bigint,       -- the tier discount taken off the bill
    p_paid_minor bigint,           -- what the customer paid in money (bill - discount - points' value)
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
    INSERT INTO "Purchase" ("memberId", "storeId", "receiptNo", "amountMinor", "paidWithPoints", "pointsEarned", "idempotencyKey", "requestHash", "actorType", "actorId", "createdAt",
                            "tierCode", "discountMinor", "paidMinor")
    VALUES (p_member_id, p_store_id, p_receipt_no, p_amount_minor, p_points_to_spend, p_points_earned, p_key, p_request_hash, p_actor_type, p_actor_id, p_created_at,
            p_tier_code, p_discount_minor, p_paid_minor)
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

    -- The tier and the running total of savings (the balance screen reads it from the member row).
    IF p_tier_after IS DISTINCT FROM v_tier OR p_discount_minor > 0 THEN
        UPDATE "Member" SET tier = p_tier_after, "savedMinor" = "savedMinor" + p_discount_minor, "updatedAt" = now() WHERE id = p_member_id;
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
