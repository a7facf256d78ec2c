-- Message counts kept as messages change, so that a dashboard, a campaign's progress and the
-- metrics read a few rows instead of counting a million (docs/decisions/0008-message-tallies.md).
--
-- kind 0: every message, by its company, campaign (0 without one), quarter hour of creation
--         (created_at / 900000: any zone's midnight is a quarter-hour boundary) and state now;
-- kind 1: a campaign's messages that have a final time, by the minute of it (final_at / 60000)
--         and their state, for the delivery chart.
-- Concurrent transactions adding to the same count would wait for each other's commit (and
-- could deadlock, taking rows in different orders): each statement on messages appends its
-- net changes to message_tally_deltas instead, and the engine folds them into message_tallies
-- (Store::fold_message_tallies). Readers add both, in one statement, so they see one snapshot.

-- Writers wait while this runs: a message written between the counting below and the
-- triggers' creation would be in neither, and its count wrong for good.
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE message_tallies (
    company_id      BIGINT NOT NULL,
    kind            BIGINT NOT NULL,
    campaign_id     BIGINT NOT NULL,
    bucket          BIGINT NOT NULL,
    state           TEXT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (company_id, kind, campaign_id, bucket, state)
);
CREATE INDEX message_tallies_time ON message_tallies (company_id, kind, bucket);

CREATE TABLE message_tally_deltas (
    id              BIGSERIAL PRIMARY KEY,
    company_id      BIGINT NOT NULL,
    kind            BIGINT NOT NULL,
    campaign_id     BIGINT NOT NULL,
    bucket          BIGINT NOT NULL,
    state           TEXT NOT NULL,
    n               BIGINT NOT NULL
);

-- backfill: start (the store's tests run this part again: tests/store/tallies.rs)
INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
SELECT company_id, 0, COALESCE(campaign_id, 0), created_at / 900000, state, COUNT(*)
FROM messages GROUP BY 1, 2, 3, 4, 5;
INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
SELECT company_id, 1, campaign_id, final_at / 60000, state, COUNT(*)
FROM messages WHERE campaign_id IS NOT NULL AND final_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5;
-- backfill: end

-- Each function takes one statement's rows as (company, campaign, created, final, state,
-- +1 or -1) and appends the net change of every count, zeros left out (an update that kept
-- the state nets to nothing). One function per event, as transition tables need one trigger
-- per event, and each statement static: PL/pgSQL keeps its plan, where one function with a
-- dynamic statement cost about 60 µs more per statement on messages.
CREATE FUNCTION message_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (SELECT company_id, campaign_id, created_at, final_at, state, 1 AS d FROM new_rows)
    INSERT INTO message_tally_deltas (company_id, kind, campaign_id, bucket, state, n)
    SELECT company_id, kind, campaign_id, bucket, state, SUM(d) FROM (
        SELECT company_id, 0 AS kind, COALESCE(campaign_id, 0) AS campaign_id,
               created_at / 900000 AS bucket, state, d FROM changed
        UNION ALL
        SELECT company_id, 1, campaign_id, final_at / 60000, state, d FROM changed
        WHERE campaign_id IS NOT NULL AND final_at IS NOT NULL
    ) t GROUP BY company_id, kind, campaign_id, bucket, state HAVING SUM(d) <> 0;
    RETURN NULL;
END $$;
CREATE FUNCTION message_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (SELECT company_id, campaign_id, created_at, final_at, state, -1 AS d FROM old_rows
        UNION ALL SELECT company_id, campaign_id, created_at, final_at, state, 1 FROM new_rows)
    INSERT INTO message_tally_deltas (company_id, kind, campaign_id, bucket, state, n)
    SELECT company_id, kind, campaign_id, bucket, state, SUM(d) FROM (
        SELECT company_id, 0 AS kind, COALESCE(campaign_id, 0) AS campaign_id,
               created_at / 900000 AS bucket, state, d FROM changed
        UNION ALL
        SELECT company_id, 1, campaign_id, final_at / 60000, state, d FROM changed
        WHERE campaign_id IS NOT NULL AND final_at IS NOT NULL
    ) t GROUP BY company_id, kind, campaign_id, bucket, state HAVING SUM(d) <> 0;
    RETURN NULL;
END $$;
CREATE FUNCTION message_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (SELECT company_id, campaign_id, created_at, final_at, state, -1 AS d FROM old_rows)
    INSERT INTO message_tally_deltas (company_id, kind, campaign_id, bucket, state, n)
    SELECT company_id, kind, campaign_id, bucket, state, SUM(d) FROM (
        SELECT company_id, 0 AS kind, COALESCE(campaign_id, 0) AS campaign_id,
               created_at / 900000 AS bucket, state, d FROM changed
        UNION ALL
        SELECT company_id, 1, campaign_id, final_at / 60000, state, d FROM changed
        WHERE campaign_id IS NOT NULL AND final_at IS NOT NULL
    ) t GROUP BY company_id, kind, campaign_id, bucket, state HAVING SUM(d) <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_tally_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_tally_insert();
CREATE TRIGGER messages_tally_update AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_tally_update();
CREATE TRIGGER messages_tally_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_tally_delete();
