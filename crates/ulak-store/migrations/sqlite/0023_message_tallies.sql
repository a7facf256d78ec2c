-- Message counts kept as messages change, so that a dashboard, a campaign's progress and the
-- metrics read a few rows instead of counting a million (docs/decisions/0008-message-tallies.md).
--
-- kind 0: every message, by its company, campaign (0 without one), quarter hour of creation
--         (created_at / 900000: any zone's midnight is a quarter-hour boundary) and state now;
-- kind 1: a campaign's messages that have a final time, by the minute of it (final_at / 60000)
--         and their state, for the delivery chart.
-- SQLite has one writer at a time: triggers add to the counts directly. (PostgreSQL's append
-- to message_tally_deltas instead, folded in by the engine; on SQLite that table stays empty
-- and the readers' query is the same on both.)

CREATE TABLE message_tallies (
    company_id      INTEGER NOT NULL,
    kind            INTEGER NOT NULL,
    campaign_id     INTEGER NOT NULL,
    bucket          INTEGER NOT NULL,
    state           TEXT NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (company_id, kind, campaign_id, bucket, state)
) WITHOUT ROWID;
CREATE INDEX message_tallies_time ON message_tallies (company_id, kind, bucket);

CREATE TABLE message_tally_deltas (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL,
    kind            INTEGER NOT NULL,
    campaign_id     INTEGER NOT NULL,
    bucket          INTEGER NOT NULL,
    state           TEXT NOT NULL,
    n               INTEGER NOT NULL
);

-- backfill: start (the store's tests run this part again: tests/store/tallies.rs)
INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
SELECT company_id, 0, COALESCE(campaign_id, 0), created_at / 900000, state, COUNT(*)
FROM messages GROUP BY 1, 2, 3, 4, 5;
INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
SELECT company_id, 1, campaign_id, final_at / 60000, state, COUNT(*)
FROM messages WHERE campaign_id IS NOT NULL AND final_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5;
-- backfill: end

CREATE TRIGGER messages_tally_insert AFTER INSERT ON messages
BEGIN
    INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
    VALUES (new.company_id, 0, COALESCE(new.campaign_id, 0), new.created_at / 900000, new.state, 1)
    ON CONFLICT (company_id, kind, campaign_id, bucket, state) DO UPDATE SET n = n + 1;
    INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
    SELECT new.company_id, 1, new.campaign_id, new.final_at / 60000, new.state, 1
    WHERE new.campaign_id IS NOT NULL AND new.final_at IS NOT NULL
    ON CONFLICT (company_id, kind, campaign_id, bucket, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER messages_tally_update AFTER UPDATE OF state, final_at, campaign_id, company_id,
    created_at ON messages
WHEN old.state IS NOT new.state OR old.final_at IS NOT new.final_at
    OR old.campaign_id IS NOT new.campaign_id OR old.company_id IS NOT new.company_id
    OR old.created_at IS NOT new.created_at
BEGIN
    -- kind 0 moves only when one of its keys changed (not for a new final time alone).
    INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
    SELECT old.company_id, 0, COALESCE(old.campaign_id, 0), old.created_at / 900000, old.state, -1
    WHERE old.state IS NOT new.state OR old.campaign_id IS NOT new.campaign_id
        OR old.company_id IS NOT new.company_id OR old.created_at / 900000 IS NOT new.created_at / 900000
    ON CONFLICT (company_id, kind, campaign_id, bucket, state) DO UPDATE SET n = n - 1;
    INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
    SELECT new.company_id, 0, COALESCE(new.campaign_id, 0), new.created_at / 900000, new.state, 1
    WHERE old.state IS NOT new.state OR old.campaign_id IS NOT new.campaign_id
        OR old.company_id IS NOT new.company_id OR old.created_at / 900000 IS NOT new.created_at / 900000
    ON CONFLICT (company_id, kind, campaign_id, bucket, state) DO UPDATE SET n = n + 1;
    INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
    SELECT old.company_id, 1, old.campaign_id, old.final_at / 60000, old.state, -1
    WHERE old.campaign_id IS NOT NULL AND old.final_at IS NOT NULL
    ON CONFLICT (company_id, kind, campaign_id, bucket, state) DO UPDATE SET n = n - 1;
    INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
    SELECT new.company_id, 1, new.campaign_id, new.final_at / 60000, new.state, 1
    WHERE new.campaign_id IS NOT NULL AND new.final_at IS NOT NULL
    ON CONFLICT (company_id, kind, campaign_id, bucket, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER messages_tally_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
    VALUES (old.company_id, 0, COALESCE(old.campaign_id, 0), old.created_at / 900000, old.state, -1)
    ON CONFLICT (company_id, kind, campaign_id, bucket, state) DO UPDATE SET n = n - 1;
    INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n)
    SELECT old.company_id, 1, old.campaign_id, old.final_at / 60000, old.state, -1
    WHERE old.campaign_id IS NOT NULL AND old.final_at IS NOT NULL
    ON CONFLICT (company_id, kind, campaign_id, bucket, state) DO UPDATE SET n = n - 1;
END;
