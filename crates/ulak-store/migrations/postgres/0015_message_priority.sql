-- Priority lanes (issue 13): each message carries its traffic class as a priority, 0 for OTP
-- codes, 1 for single (transactional) sends, 2 for campaign messages; a worker hands out the
-- lowest first, so a single send overtakes a running campaign on the same account. Rows
-- queued before this migration were either kind; 2 keeps their order as it was.
ALTER TABLE messages ADD COLUMN priority BIGINT NOT NULL DEFAULT 2;
UPDATE messages SET priority = 1 WHERE campaign_id IS NULL;
-- The claim reads the queue in (priority, due time, id) order, by account; a partial index
-- as before (docs/decisions/0005), with the priority leading.
DROP INDEX messages_due;
CREATE INDEX messages_due ON messages (provider_account_id, priority, next_attempt_at, id, valid_until)
    WHERE state = 'queued';
