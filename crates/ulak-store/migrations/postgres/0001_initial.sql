-- Ulak store, PostgreSQL. Portable schema (see docs/decisions/0003-store.md): i64 ids, i64 unix-ms
-- timestamps, TEXT; enums as their stable names; JSON as TEXT. Unique constraints end in the
-- column a conflict is reported on.

CREATE TABLE companies (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT NOT NULL CONSTRAINT companies_uq_name UNIQUE,
    display_name    TEXT NOT NULL,
    country_type    TEXT NOT NULL,
    tckn_sender     TEXT,
    tckn_active     BIGINT NOT NULL DEFAULT 0,
    otp_username    TEXT,
    otp_password    TEXT,            -- SecretBox value, never clear text
    search_key      TEXT NOT NULL DEFAULT '',
    credit_lock     BIGINT NOT NULL DEFAULT 0, -- bumped to serialise credit changes
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE users (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    login           TEXT NOT NULL,
    display_name    TEXT,
    phone           TEXT,
    email           TEXT,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,   -- Argon2id PHC string
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT users_uq_login UNIQUE (company_id, login)
);

CREATE TABLE api_keys (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        TEXT NOT NULL CONSTRAINT api_keys_uq_key_hash UNIQUE, -- hex SHA-256 of the key
    role            TEXT NOT NULL,
    system_admin    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_keys_company ON api_keys (company_id, id);

CREATE TABLE subscribers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    phone           TEXT NOT NULL,   -- E.164
    tckn            TEXT,
    attributes      TEXT NOT NULL DEFAULT '{}',
    consent         TEXT NOT NULL,
    search_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT subscribers_uq_phone UNIQUE (company_id, phone)
);
CREATE INDEX subscribers_company ON subscribers (company_id, id);

CREATE TABLE subscriber_groups (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    search_key      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    CONSTRAINT subscriber_groups_uq_name UNIQUE (company_id, name)
);

CREATE TABLE group_members (
    group_id        BIGINT NOT NULL REFERENCES subscriber_groups(id) ON DELETE CASCADE,
    subscriber_id   BIGINT NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, subscriber_id)
);
CREATE INDEX group_members_subscriber ON group_members (subscriber_id);

CREATE TABLE opt_outs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    phone           TEXT NOT NULL,
    reason          TEXT,
    search_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    CONSTRAINT opt_outs_uq_phone UNIQUE (company_id, phone)
);

CREATE TABLE credit_ledger (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    note            TEXT,
    balance_after   BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX credit_ledger_company ON credit_ledger (company_id, id);

CREATE TABLE sender_headers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    is_default      BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    CONSTRAINT sender_headers_uq_name UNIQUE (company_id, name)
);

CREATE TABLE provider_accounts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    host            TEXT NOT NULL,
    port            BIGINT NOT NULL,
    system_id       TEXT NOT NULL,
    password        TEXT,            -- SecretBox value, never clear text
    system_type     TEXT NOT NULL,
    bind_mode       TEXT NOT NULL,
    binds           BIGINT NOT NULL,
    window_size     BIGINT NOT NULL,
    rate_per_sec    BIGINT NOT NULL,
    text_policy     TEXT NOT NULL,
    source_ton      BIGINT NOT NULL,
    source_npi      BIGINT NOT NULL,
    dest_ton        BIGINT NOT NULL,
    dest_npi        BIGINT NOT NULL,
    enabled         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT provider_accounts_uq_name UNIQUE (company_id, name)
);

CREATE TABLE customer_accounts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    code            TEXT NOT NULL,
    title           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    phones          TEXT NOT NULL,   -- JSON array of E.164 strings
    balance_minor   BIGINT NOT NULL,
    attributes      TEXT NOT NULL DEFAULT '{}',
    search_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT customer_accounts_uq_code UNIQUE (company_id, code)
);

CREATE TABLE sms_templates (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    body            TEXT NOT NULL,
    search_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT sms_templates_uq_name UNIQUE (company_id, name)
);

-- At most one default sender header per company.
CREATE UNIQUE INDEX sender_headers_one_default ON sender_headers (company_id) WHERE is_default = 1;
