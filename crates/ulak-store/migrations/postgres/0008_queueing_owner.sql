-- Issue 12: the node writing a campaign's queueing signs it (the same id as its message
-- leases), so a node restarted with the same id takes its unfinished queueing back at once
-- instead of waiting for the 30 s stale time that covers other nodes' crashes.
ALTER TABLE campaign_queueing ADD COLUMN queue_owner TEXT;
