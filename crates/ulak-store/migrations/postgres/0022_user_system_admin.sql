-- A web user may be a system administrator (1), as an API key may: only users of company
-- `default`, set by another system administrator (docs/decisions/0007-web-ui.md). The first
-- start's `admin` user of `default` is one, on servers that started before this too.

ALTER TABLE users ADD COLUMN system_admin BIGINT NOT NULL DEFAULT 0;

UPDATE users SET system_admin = 1
WHERE login = 'admin' AND company_id = (SELECT id FROM companies WHERE name = 'default');
