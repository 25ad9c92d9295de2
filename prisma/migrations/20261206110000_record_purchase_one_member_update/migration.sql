-- A purchase updates its member's row once (issue 12). record_purchase took the member's lock,
-- then ledger_post updated the balance for the spend, again for the earn, and record_purchase
-- updated the tier and savings: three new versions of one row per purchase (plus the lock),
-- each a heap write, WAL and later vacuum work. Now the balance (spend and earn), tier and
-- savings move in one UPDATE under the lock, and the entries and lots are written by
-- ledger_write: ledger_post's steps after its balance update (20261206090000_ledger_post_fast_path),
-- the same statements. ledger_post keeps its own copy of them: calling ledger_write from it cost
-- a credit ~10-20 us more of database time (a nested PL/pgSQL call), so a change to how entries,
-- lots or draws are written must be made in both. record_purchase's contract (arguments,
-- outcomes, locks, SQLSTATEs) is unchanged (20261124020000_record_purchase, 20261205030000_tier_discount).
-- Measured in one database, each purchase in one transaction of 4,000, four rounds alternating
-- old and new: an earn-only purchase ~0.86x of the database time, a spend + earn ~0.87x.

-- The entry of a post whose balance change is already made (the caller holds the member's row
-- lock and has moved the balance; `p_balance_after` is what it left), and its lot (a credit) or
-- its draw on the open lots (a debit). A key already used inserts nothing and answers NULL:
-- the caller decides whether that is a replay or a conflict.
CREATE FUNCTION ledger_write(
    p_member_id integer,
    p_kind text,                 -- 'credit' | 'debit'
    p_type "EntryType",
    p_amount integer,            -- 0 or positive; the direction comes from p_kind
    p_balance_after integer,
    p_key text,
    p_actor_type "ActorType",
    p_actor_id text,
    p_reason text,
    p_store_id integer,
    p_purchase_id integer,
    p_expires_at timestamp(3),   -- credit: when the new lot expires (NULL: never)
    p_created_at timestamp(3)    -- from the injected clock, never now() (DESIGN.md, principle 9)
) RETURNS "LedgerEntry" LANGUAGE plpgsql AS $$
DECLARE
    v_entry "LedgerEntry";
    v_left integer;
    v_part integer;
    v_lot record;
BEGIN
    INSERT INTO "LedgerEntry" ("memberId", "type", "amount", "balanceAfter", "idempotencyKey", "actorType", "actorId", "reason", "storeId", "purchaseId", "createdAt")
    VALUES (p_member_id, p_type, CASE WHEN p_kind = 'credit' THEN p_amount ELSE -p_amount END, p_balance_after, p_key, p_actor_type, p_actor_id, p_reason, p_store_id, p_purchase_id, p_created_at)
    ON CONFLICT ("idempotencyKey") DO NOTHING
    RETURNING * INTO v_entry;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF p_kind = 'credit' THEN
        INSERT INTO "PointLot" ("memberId", "entryId", "amount", "remaining", "expiresAt", "createdAt")
        VALUES (p_member_id, v_entry.id, p_amount, p_amount, p_expires_at, p_created_at);
    ELSIF p_amount > 0 THEN
        -- FIFO as src/domain/ledger/fifo.ts orders it: soonest expiry first, never-expiring last,
        -- ties by lot id. The cursor walks the member's open lots in that order on
        -- PointLot_member_open_by_expiry_idx and stops once the debit is covered, so only the lots
        -- drawn are read and locked: a set-based draw read and locked every open lot, and a member
        -- with 10,000 of them made each spend ~3x slower.
        v_left := p_amount;
        FOR v_lot IN
            SELECT l.id, l.remaining FROM "PointLot" l
            WHERE l."memberId" = p_member_id AND l.remaining > 0
            ORDER BY l."expiresAt" ASC NULLS LAST, l.id ASC
            FOR UPDATE
        LOOP
            v_part := LEAST(v_lot.remaining, v_left);
            UPDATE "PointLot" SET remaining = remaining - v_part WHERE id = v_lot.id;
            INSERT INTO "LotAllocation" ("entryId", "lotId", "amount") VALUES (v_entry.id, v_lot.id, v_part);
            v_left := v_left - v_part;
            EXIT WHEN v_left = 0;
        END LOOP;
        IF v_left <> 0 THEN
            -- Balance and lots disagree: never paper over it.
            RAISE EXCEPTION 'ledger invariant broken: lots of member % hold % of % points', p_member_id, p_amount - v_left, p_amount;
        END IF;
    END IF;
    RETURN v_entry;
END;
$$;

-- record_purchase as in 20261205030000_tier_discount, with one member update.
CREATE OR REPLACE FUNCTION record_purchase(
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
    v_entry "LedgerEntry";
BEGIN
    -- The lock ledger_post takes: purchases, posts and tier changes of one member are
    -- serialised, always member first. The one update below is made under it.
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
    END IF;

    -- The member row once: the spend and the earn (in that order, so the balance checked above
    -- covers the spend before the earn is added), the tier and the running total of savings (the
    -- balance screen reads it from the member row). Nothing to change, no update, as before.
    IF p_points_to_spend > 0 OR p_points_earned > 0 OR p_tier_after IS DISTINCT FROM v_tier OR p_discount_minor > 0 THEN
        UPDATE "Member"
        SET balance = balance - p_points_to_spend + p_points_earned, tier = p_tier_after,
            "savedMinor" = "savedMinor" + p_discount_minor, "updatedAt" = now()
        WHERE id = p_member_id;
    END IF;
    IF p_points_to_spend > 0 THEN
        member_balance := member_balance - p_points_to_spend;
        v_entry := ledger_write(p_member_id, 'debit', 'SPEND', p_points_to_spend, member_balance, replace(p_spend_key, '{id}', purchase_id::text),
            p_actor_type, p_actor_id, 'purchase', p_store_id, purchase_id, NULL, p_created_at);
        IF v_entry.id IS NULL THEN
            -- The key names the purchase just inserted: this cannot happen quietly.
            RAISE EXCEPTION 'record_purchase: the spend key of purchase % is taken', purchase_id;
        END IF;
    END IF;
    IF p_points_earned > 0 THEN
        member_balance := member_balance + p_points_earned;
        v_entry := ledger_write(p_member_id, 'credit', 'EARN', p_points_earned, member_balance, replace(p_earn_key, '{id}', purchase_id::text),
            p_actor_type, p_actor_id, 'purchase', p_store_id, purchase_id, p_earn_expires_at, p_created_at);
        IF v_entry.id IS NULL THEN
            RAISE EXCEPTION 'record_purchase: the earn key of purchase % is taken', purchase_id;
        END IF;
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
