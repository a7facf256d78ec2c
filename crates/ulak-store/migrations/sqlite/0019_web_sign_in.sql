-- Signing in to the web UI (issue 14): server-side sessions, lockout after repeated failures,
-- and each user's language.

-- A session is found by the SHA-256 (hex) of its cookie token; the token itself is never
-- stored, so a copy of the database cannot be used to take over a session. Times are unix ms.
CREATE TABLE web_sessions (
    id              INTEGER PRIMARY KEY,
    token_hash      TEXT NOT NULL,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    UNIQUE (token_hash)
);
-- Signing a user out everywhere (after a password change) finds their sessions by user.
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- Failed sign-ins counted per subject: scope 'user' (subject: SHA-256 hex of
-- "<company id>:<folded login>") or 'address' (subject: SHA-256 hex of the client address),
-- so no login name or IP address is kept in clear. A count older than the window starts over.
CREATE TABLE sign_in_failures (
    scope           TEXT NOT NULL,
    subject         TEXT NOT NULL,
    failures        INTEGER NOT NULL,
    first_at        INTEGER NOT NULL,
    locked_until    INTEGER,
    PRIMARY KEY (scope, subject)
);

-- The language a user sees the web UI in: 'tr' or 'en'.
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'tr';
