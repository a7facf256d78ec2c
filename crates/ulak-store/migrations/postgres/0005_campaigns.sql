-- Campaigns (issue 6): bulk sends to an audience, with their lifecycle. Their messages are
-- rows of `messages` with `campaign_id`; recipients left out are rows in state `skipped`.

CREATE TABLE campaigns (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    state               TEXT NOT NULL,      -- draft | running | paused | finished | cancelled
    state_reason        TEXT,
    sender              TEXT,
    body                TEXT NOT NULL,      -- text with optional {{placeholders}}
    audience            TEXT NOT NULL,      -- JSON
    scheduled_at        BIGINT,
    validity_s          BIGINT NOT NULL,
    recipients          BIGINT NOT NULL DEFAULT 0,
    skipped             BIGINT NOT NULL DEFAULT 0,
    cost                BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT
);
CREATE INDEX campaigns_company ON campaigns (company_id, id);
CREATE INDEX messages_campaign ON messages (campaign_id, state);
