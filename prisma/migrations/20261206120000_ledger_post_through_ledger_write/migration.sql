-- ledger_post writes its entry and its lot (a credit) or its FIFO draw (a debit) through
-- ledger_write (20261206110000_record_purchase_one_member_update), so how a post is written
-- lives in one function that record_purchase and ledger_post share (issue 13: one home per
-- rule). The nested PL/pgSQL call costs a credit some 10-20 us of database time, against a
-- round trip of about 1 ms. What ledger_post decides is unchanged from
-- 20261206090000_ledger_post_fast_path: the balance update first when it can (credits, covered
-- debits), the unique key telling a replay (the balance is put back), and otherwise the member's
-- lock, the replay check, the amount taken and the balance update before the write.
CREATE OR REPLACE FUNCTION ledger_post(
    p_member_id integer,
    p_kind text,                 -- 'credit' | 'debit'
    p_type "EntryType",
    p_amount integer,            -- positive; the direction comes from p_kind
    p_up_to_balance boolean,     -- debit: take what there is, up to p_amount (possibly 0)
    p_key text,
    p_actor_type "ActorType",
    p_actor_id text,
    p_reason text,
    p_store_id integer,
    p_purchase_id integer,
    p_expires_at timestamp(3),   -- credit: when the new lot expires (NULL: never)
    p_created_at timestamp(3),   -- from the injected clock, never now() (DESIGN.md, principle 9)
    OUT outcome text,
    OUT member_balance integer,
    OUT entry "LedgerEntry"
) LANGUAGE plpgsql AS $$
DECLARE
    v_take integer;
    v_balance integer;
    v_delta integer;
BEGIN
    -- Fast path: a credit, or a debit the balance covers. The update takes the member's lock.
    IF p_amount > 0 AND (p_kind = 'credit' OR NOT p_up_to_balance) THEN
        v_delta := CASE WHEN p_kind = 'credit' THEN p_amount ELSE -p_amount END;
        UPDATE "Member" m
        SET balance = m.balance + v_delta, "updatedAt" = now()
        WHERE m.id = p_member_id AND (p_kind = 'credit' OR m.balance >= p_amount)
        RETURNING m.balance INTO v_balance;
        IF FOUND THEN
            member_balance := v_balance - v_delta;
            entry := ledger_write(p_member_id, p_kind, p_type, p_amount, v_balance, p_key, p_actor_type, p_actor_id, p_reason,
                p_store_id, p_purchase_id, p_expires_at, p_created_at);
            IF entry.id IS NULL THEN
                -- The key was used: a replay (answered with the first entry) or a conflict.
                UPDATE "Member" m SET balance = m.balance - v_delta WHERE m.id = p_member_id;
                SELECT e.* INTO entry FROM "LedgerEntry" e WHERE e."idempotencyKey" = p_key;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'IDEMPOTENCY_CONFLICT: key % is taken', p_key USING ERRCODE = 'LE409';
                END IF;
                outcome := 'REPLAYED';
                RETURN;
            END IF;
            outcome := 'POSTED';
            RETURN;
        END IF;
    END IF;

    -- The rest: no such member, a debit the balance does not cover, an up-to-balance debit, 0.
    SELECT m.balance INTO member_balance FROM "Member" m WHERE m.id = p_member_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        outcome := 'MEMBER_NOT_FOUND';
        RETURN;
    END IF;

    SELECT e.* INTO entry FROM "LedgerEntry" e WHERE e."idempotencyKey" = p_key;
    IF FOUND THEN
        outcome := 'REPLAYED';
        RETURN;
    END IF;

    v_take := CASE WHEN p_kind = 'debit' AND p_up_to_balance THEN LEAST(p_amount, member_balance) ELSE p_amount END;

    v_balance := member_balance;
    IF v_take > 0 THEN
        UPDATE "Member" m
        SET balance = m.balance + CASE WHEN p_kind = 'credit' THEN v_take ELSE -v_take END, "updatedAt" = now()
        WHERE m.id = p_member_id AND (p_kind = 'credit' OR m.balance >= v_take)
        RETURNING m.balance INTO v_balance;
        IF NOT FOUND THEN
            outcome := 'INSUFFICIENT_POINTS';
            RETURN;
        END IF;
    END IF;

    entry := ledger_write(p_member_id, p_kind, p_type, v_take, v_balance, p_key, p_actor_type, p_actor_id, p_reason,
        p_store_id, p_purchase_id, p_expires_at, p_created_at);
    IF entry.id IS NULL THEN
        RAISE EXCEPTION 'IDEMPOTENCY_CONFLICT: key % is taken', p_key USING ERRCODE = 'LE409';
    END IF;
    outcome := 'POSTED';
END;
$$;
