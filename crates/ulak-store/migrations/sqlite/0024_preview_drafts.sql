-- Drafts made by the web UI's preview step (preview = 1): a preview left open and never sent
-- nor edited keeps its draft, which nothing else would ever remove; the server purges them a
-- day after they were made (Store::purge_preview_drafts). Drafts made through the API stay.

ALTER TABLE campaigns ADD COLUMN preview INTEGER NOT NULL DEFAULT 0;

CREATE INDEX campaigns_preview_drafts ON campaigns (created_at)
    WHERE state = 'draft' AND preview = 1;
