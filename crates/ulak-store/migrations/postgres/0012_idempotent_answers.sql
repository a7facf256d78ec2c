-- An idempotent replay returns the first answer exactly (status and body), not the message as
-- it is now: a client that retries after a timeout must see what it would have seen, even when
-- the message has since been delivered or its number opted out. Keys written before this have
-- no answer; their replays are rebuilt from the message, as before.
ALTER TABLE idempotency_keys ADD COLUMN answer_status INTEGER;
ALTER TABLE idempotency_keys ADD COLUMN answer_body TEXT;
