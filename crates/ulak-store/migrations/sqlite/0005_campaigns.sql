-- Campaigns (issue 6): bulk sends to an audience, with their lifecycle. Their messages are
-- rows of `messages` with `campaign_id`; recipients left out are rows in state `skipped`.

CREATE TABLE campaigns (
    id                  INTEGER PRIMARY KEY,
    company_id          INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    state               TEXT NOT NULL,      -- draft | running | paused | finished | cancelled
    state_reason        TEXT,
    sender              TEXT,
    body                TEXT NOT NULL,      -- text with optional {{placeholders}}
    audience            TEXT NOT NULL,      -- JSON
    scheduled_at        INTEGER,
    validity_s          INTEGER NOT NULL,
    recipients          INTEGER NOT NULL DEFAULT 0,
    skipped             INTEGER NOT NULL DEFAULT 0,
    cost                INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    finished_at         INTEGER
);
CREATE INDEX campaigns_company ON campaigns (company_id, id);
CREATE INDEX messages_campaign ON messages (campaign_id, state);
