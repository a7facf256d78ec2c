-- Inbound messages whose text cannot be decoded (8-bit data: binary, WAP push, a handset's
-- own coding) keep their bytes instead of an empty text: the user data of every part, joined,
-- without UDH, as lower-case hex; NULL when the text was read. data_coding is the first
-- part's, NULL for messages stored before this migration.

ALTER TABLE inbound_messages ADD COLUMN body_raw TEXT;
ALTER TABLE inbound_messages ADD COLUMN data_coding INTEGER;
