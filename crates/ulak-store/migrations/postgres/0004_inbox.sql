-- The inbox (issue 6): messages subscribers send to the company's numbers, linked to the
-- subscriber when the number is known; opt-out keywords per company.

ALTER TABLE companies ADD COLUMN opt_out_keywords TEXT NOT NULL DEFAULT 'RET,IPTAL';

CREATE TABLE inbound_messages (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    provider_account_id BIGINT,
    sender              TEXT NOT NULL,      -- E.164 when it reads as a number, else as sent
    recipient           TEXT NOT NULL,      -- the company's number or short code
    body                TEXT NOT NULL,
    complete            BIGINT NOT NULL,   -- 0 when released with parts missing
    subscriber_id       BIGINT REFERENCES subscribers(id) ON DELETE SET NULL,
    opt_out             BIGINT NOT NULL DEFAULT 0, -- it was an opt-out keyword
    received_at         BIGINT NOT NULL
);
CREATE INDEX inbound_messages_company ON inbound_messages (company_id, id);
CREATE INDEX inbound_messages_dedup ON inbound_messages (company_id, sender, received_at);
