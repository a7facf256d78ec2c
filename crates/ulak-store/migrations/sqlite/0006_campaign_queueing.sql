-- Streamed campaign start (issue 6, the 1,000,000-recipient step): a started campaign's
-- messages are queued in chunks, each chunk its own transaction, so sending begins while the
-- rest is still being queued and a crash leaves a cursor to resume from. One row per started
-- campaign, apart from `campaigns`: a campaign's row holds its audience (15 MB of JSON for a
-- million pasted numbers), SQLite rebuilds a whole row on every update, and the cursor moves
-- with every chunk.
--   queueing      0: every recipient is queued, or the campaign was cancelled;
--                 1: chunks are still being written;
--                 2: queueing stopped and waits for a resume (credit ran short, or the setup
--                    broke); a resume turns it back to 1.
--   queued_pos    audience candidates consumed so far (queued, skipped and duplicates alike).
--   reserve_left  credit reserved at start not yet used by a queued chunk (released at the
--                 end or on cancel).
--   queue_at      when a node last wrote a chunk or said it is working on it (unix ms);
--                 older than 30 s means nobody is, and a node takes it over.

CREATE TABLE campaign_queueing (
    campaign_id         INTEGER PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
    company_id          INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    queueing            INTEGER NOT NULL DEFAULT 0,
    queued_pos          INTEGER NOT NULL DEFAULT 0,
    reserve_left        INTEGER NOT NULL DEFAULT 0,
    queue_at            INTEGER
);
CREATE INDEX campaign_queueing_active ON campaign_queueing (queueing, queue_at);
