-- A campaign's indexes hold only campaign messages (issue 13, point 8). Single sends have no
-- campaign, yet each one took an entry in both (under a NULL key that no query reads), and
-- messages_campaign, which holds the state, took a delete and an insert at each of its state
-- changes. Every query that reads these indexes names one campaign (`campaign_id = ?`), which
-- implies the condition, so both databases still choose them (tests/store/message_list.rs).
DROP INDEX messages_campaign;
DROP INDEX messages_campaign_time;
CREATE INDEX messages_campaign ON messages (campaign_id, state, created_at, id)
    WHERE campaign_id IS NOT NULL;
CREATE INDEX messages_campaign_time ON messages (campaign_id, created_at, id)
    WHERE campaign_id IS NOT NULL;
