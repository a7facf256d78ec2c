-- Listing what was sent (issue 13, point 9): `GET /api/v1/messages` pages newest first by
-- (created_at, id) with keyset cursors, filtered by state, campaign, recipient or sender and
-- a time range. Each filter gets an index that starts with its equality columns and ends in
-- (created_at, id), so a page is a range read of the index whatever the table's size.
--   messages_company        replaces (company_id, id): no filter, or a time range only;
--   messages_campaign       replaces (campaign_id, state): still serves the per-state
--                           counts, and now a campaign's messages in one state;
--   messages_campaign_time  a campaign's messages in any state (and its CSV export);
--   messages_state          one state across the company;
--   messages_recipient      one number or TC ID number;
--   messages_sender         one sender header.
-- Only messages_state and messages_campaign hold the state, so only they change when a
-- message moves on; the others are written once, at insert.
DROP INDEX messages_company;
CREATE INDEX messages_company ON messages (company_id, created_at, id);
DROP INDEX messages_campaign;
CREATE INDEX messages_campaign ON messages (campaign_id, state, created_at, id);
CREATE INDEX messages_campaign_time ON messages (campaign_id, created_at, id);
CREATE INDEX messages_state ON messages (company_id, state, created_at, id);
CREATE INDEX messages_recipient ON messages (company_id, recipient, created_at, id);
CREATE INDEX messages_sender ON messages (company_id, sender, created_at, id);

-- `GET /api/v1/receipts/unmatched`: a company's unmatched delivery reports, newest first.
CREATE INDEX receipts_unmatched_company ON receipts_unmatched (company_id, id);
