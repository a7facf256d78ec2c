-- Ulak store, SQLite. Portable schema (see docs/decisions/0003-store.md): i64 ids, i64 unix-ms
-- timestamps, TEXT; enums as their stable names; JSON as TEXT. Unique constraints end in the
-- column a conflict is reported on.

CREATE TABLE companies (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    country_type    TEXT NOT NULL,
    tckn_sender     TEXT,
    tckn_active     INTEGER NOT NULL DEFAULT 0,
    otp_username    TEXT,
    otp_password    TEXT,            -- SecretBox value, never clear text
    search_key      TEXT NOT NULL DEFAULT '',
    credit_lock     INTEGER NOT NULL DEFAULT 0, -- bumped to serialise credit changes
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    login           TEXT NOT NULL,
    display_name    TEXT,
    phone           TEXT,
    email           TEXT,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,   -- Argon2id PHC string
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (company_id, login)
);

CREATE TABLE api_keys (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE, -- hex SHA-256 of the key
    role            TEXT NOT NULL,
    system_admin    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX api_keys_company ON api_keys (company_id, id);

CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    phone           TEXT NOT NULL,   -- E.164
    tckn            TEXT,
    attributes      TEXT NOT NULL DEFAULT '{}',
    consent         TEXT NOT NULL,
    search_key      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (company_id, phone)
);
CREATE INDEX subscribers_company ON subscribers (company_id, id);

CREATE TABLE subscriber_groups (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    search_key      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    UNIQUE (company_id, name)
);

CREATE TABLE group_members (
    group_id        INTEGER NOT NULL REFERENCES subscriber_groups(id) ON DELETE CASCADE,
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, subscriber_id)
);
CREATE INDEX group_members_subscriber ON group_members (subscriber_id);

CREATE TABLE opt_outs (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    phone           TEXT NOT NULL,
    reason          TEXT,
    search_key      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (company_id, phone)
);

CREATE TABLE credit_ledger (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    note            TEXT,
    balance_after   INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX credit_ledger_company ON credit_ledger (company_id, id);

CREATE TABLE sender_headers (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    is_default      INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    UNIQUE (company_id, name)
);

CREATE TABLE provider_accounts (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    host            TEXT NOT NULL,
    port            INTEGER NOT NULL,
    system_id       TEXT NOT NULL,
    password        TEXT,            -- SecretBox value, never clear text
    system_type     TEXT NOT NULL,
    bind_mode       TEXT NOT NULL,
    binds           INTEGER NOT NULL,
    window_size     INTEGER NOT NULL,
    rate_per_sec    INTEGER NOT NULL,
    text_policy     TEXT NOT NULL,
    source_ton      INTEGER NOT NULL,
    source_npi      INTEGER NOT NULL,
    dest_ton        INTEGER NOT NULL,
    dest_npi        INTEGER NOT NULL,
    enabled         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (company_id, name)
);

CREATE TABLE customer_accounts (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    code            TEXT NOT NULL,
    title           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    phones          TEXT NOT NULL,   -- JSON array of E.164 strings
    balance_minor   INTEGER NOT NULL,
    attributes      TEXT NOT NULL DEFAULT '{}',
    search_key      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (company_id, code)
);

CREATE TABLE sms_templates (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    body            TEXT NOT NULL,
    search_key      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (company_id, name)
);

-- At most one default sender header per company.
CREATE UNIQUE INDEX sender_headers_one_default ON sender_headers (company_id) WHERE is_default = 1;
