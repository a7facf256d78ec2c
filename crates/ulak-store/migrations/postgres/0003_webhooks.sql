-- Webhooks (Standard Webhooks signatures): a company's endpoints with their signing secret
-- (SecretBox value, never clear text), the durable outbox of events written in the same
-- transaction as the change they announce, one delivery row per (event, endpoint) with its
-- retry state, and every try of a delivery.

CREATE TABLE webhook_endpoints (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    url                 TEXT NOT NULL,
    description         TEXT,
    event_types         TEXT NOT NULL DEFAULT '[]',  -- JSON array of names; empty = all
    secret              TEXT,                        -- SecretBox value of whsec_...
    enabled             BIGINT NOT NULL DEFAULT 1,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_company ON webhook_endpoints (company_id, id);

CREATE TABLE webhook_messages (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    event_type          TEXT NOT NULL,
    payload             TEXT NOT NULL,               -- the exact body sent (and signed)
    msg_id              TEXT NOT NULL CONSTRAINT webhook_messages_uq_msg_id UNIQUE, -- webhook-id, the same on every try
    created_at          BIGINT NOT NULL
);

CREATE TABLE webhook_attempts (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id          BIGINT NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
    endpoint_id         BIGINT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    state               TEXT NOT NULL,               -- pending | delivered | failed
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_attempt_at     BIGINT NOT NULL,            -- also the claim's lease while in flight
    last_status         BIGINT,
    last_error          TEXT,
    last_attempt_at     BIGINT,
    delivered_at        BIGINT,
    created_at          BIGINT NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX webhook_attempts_due ON webhook_attempts (state, next_attempt_at, id);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);

CREATE TABLE webhook_attempt_log (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    attempt_id          BIGINT NOT NULL REFERENCES webhook_attempts(id) ON DELETE CASCADE,
    at                  BIGINT NOT NULL,
    status              BIGINT,
    error               TEXT,
    duration_ms         BIGINT NOT NULL
);
CREATE INDEX webhook_attempt_log_attempt ON webhook_attempt_log (attempt_id, id);
