-- Users can be deactivated (issue 14): 0 = may not sign in (web sessions are refused), the
-- row and its history stay. Existing users stay active.

ALTER TABLE users ADD COLUMN active BIGINT NOT NULL DEFAULT 1;
