-- When someone of the company marked an inbound message read in the inbox (the web UI), in
-- unix ms; NULL while unread.

ALTER TABLE inbound_messages ADD COLUMN read_at INTEGER;
