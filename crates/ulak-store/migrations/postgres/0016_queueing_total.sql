-- Issue 13, "a campaign starts at once": a start is recorded and answered before its audience
-- is planned, and the queueing shows its progress. `queue_total` is the number of audience
-- entries (the candidates `queued_pos` counts) as counted when the start was recorded, and
-- exactly once the queueing is done; NULL for queueing begun before this migration.
-- `queueing` takes one more value, 3: the start is recorded and the audience is being priced;
-- nothing is reserved or queued yet (docs/decisions/0006-sending-core.md).
ALTER TABLE campaign_queueing ADD COLUMN queue_total BIGINT;
