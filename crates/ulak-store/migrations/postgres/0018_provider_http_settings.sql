-- Provider accounts carry the settings of their kind (issue 13): an operator HTTP API's base
-- URL, user name and token beside the SMPP columns. An HTTP account's SMPP columns hold empty
-- values ('' and 0) and an SMPP account's HTTP columns stay NULL; the kind says which apply.
-- The token is a SecretBox value like the password, never clear text.
ALTER TABLE provider_accounts ADD COLUMN base_url TEXT;
ALTER TABLE provider_accounts ADD COLUMN username TEXT;
ALTER TABLE provider_accounts ADD COLUMN token TEXT;
-- Before HTTP accounts were refused, some could be created; they never sent (no HTTP operator
-- is supported yet) but, enabled, could take a company's messages. They stay, disabled, with
-- an empty base URL until an administrator gives them one.
UPDATE provider_accounts SET enabled = 0, base_url = '' WHERE kind = 'http' AND base_url IS NULL;
