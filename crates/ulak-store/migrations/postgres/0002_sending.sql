-- Sending (docs/decisions/0005-sending-engine.md): the durable queue, message parts with the
-- operator's ids, the state history, receipts not (yet) matched, idempotency keys, and a
-- running credit balance kept in step with the ledger.

ALTER TABLE companies ADD COLUMN credit_balance BIGINT NOT NULL DEFAULT 0;
ALTER TABLE companies ADD COLUMN price_per_segment BIGINT NOT NULL DEFAULT 1;
UPDATE companies SET credit_balance =
    (SELECT COALESCE(SUM(amount), 0) FROM credit_ledger WHERE company_id = companies.id);

CREATE TABLE messages (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    campaign_id         BIGINT,
    provider_account_id BIGINT REFERENCES provider_accounts(id) ON DELETE SET NULL,
    recipient_kind      TEXT NOT NULL,      -- msisdn | tckn
    recipient           TEXT NOT NULL,      -- E.164, or the 11-digit TC ID number
    sender              TEXT NOT NULL,
    body                TEXT NOT NULL,
    encoding            TEXT NOT NULL,
    segments            BIGINT NOT NULL,
    cost                BIGINT NOT NULL,
    state               TEXT NOT NULL,
    state_reason        TEXT,
    state_at            BIGINT NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_attempt_at     BIGINT NOT NULL,
    valid_until         BIGINT NOT NULL,
    lease_owner         TEXT,
    lease_until         BIGINT,
    error_code          TEXT,
    created_at          BIGINT NOT NULL,
    submitted_at        BIGINT,
    final_at            BIGINT
);
CREATE INDEX messages_company ON messages (company_id, id);
CREATE INDEX messages_due ON messages (provider_account_id, state, next_attempt_at, id);
CREATE INDEX messages_leases ON messages (state, lease_until);

CREATE TABLE message_parts (
    message_id          BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    part_no             BIGINT NOT NULL,
    provider_account_id BIGINT,
    operator_id         TEXT NOT NULL,      -- as the operator wrote it in submit_sm_resp
    id_key              TEXT NOT NULL,      -- canonical form for receipt matching
    id_alt              TEXT,               -- an all-digit id read as hex, canonical
    state               TEXT NOT NULL,
    error_code          TEXT,
    submitted_at        BIGINT NOT NULL,
    receipt_at          BIGINT,
    PRIMARY KEY (message_id, part_no)
);
CREATE INDEX message_parts_key ON message_parts (provider_account_id, id_key);
CREATE INDEX message_parts_alt ON message_parts (provider_account_id, id_alt);

CREATE TABLE message_events (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id          BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    state               TEXT NOT NULL,
    detail              TEXT,
    at                  BIGINT NOT NULL
);
CREATE INDEX message_events_message ON message_events (message_id, id);

CREATE TABLE receipts_unmatched (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_account_id BIGINT NOT NULL,
    company_id          BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    operator_id         TEXT NOT NULL,
    id_key              TEXT NOT NULL,
    id_alt              TEXT,
    state               TEXT NOT NULL,
    error_code          TEXT,
    raw                 TEXT NOT NULL,
    received_at         BIGINT NOT NULL,
    UNIQUE (provider_account_id, id_key, state)
);
CREATE INDEX receipts_unmatched_key ON receipts_unmatched (provider_account_id, id_key);

CREATE TABLE idempotency_keys (
    company_id          BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    idem_key            TEXT NOT NULL,
    request_hash        TEXT NOT NULL,
    message_id          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (company_id, idem_key)
);
