-- The sending queue's indexes hold only the rows they are for (issue 6, the
-- 1,000,000-recipient step). A message changes state three or four times on its way to its
-- receipt; indexes keyed on the state took a delete and an insert at every change. Partial
-- indexes are touched only when a message enters or leaves the states they serve:
--   messages_due        queued messages by account, in claim order; `valid_until` rides
--                       along so expiring them reads the index alone;
--   messages_scheduled  scheduled messages by account and time;
--   messages_leases     messages being submitted, by lease end.
DROP INDEX messages_due;
DROP INDEX messages_leases;
CREATE INDEX messages_due ON messages (provider_account_id, next_attempt_at, id, valid_until)
    WHERE state = 'queued';
CREATE INDEX messages_scheduled ON messages (provider_account_id, next_attempt_at)
    WHERE state = 'scheduled';
CREATE INDEX messages_leases ON messages (lease_until) WHERE state = 'sending';
