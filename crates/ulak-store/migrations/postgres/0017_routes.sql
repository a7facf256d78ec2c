-- Routing (issue 13): a company's ordered routes, each matching a recipient kind, zone,
-- number prefix and traffic class (NULL matches anything) and spreading its messages over
-- one to eight of the company's provider accounts by weight. A company without routes
-- sends through its first enabled account, as before.
CREATE TABLE routes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,
    recipient_kind  TEXT,
    zone            TEXT,
    prefix          TEXT,
    class           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX routes_company ON routes (company_id, position, id);
-- A deleted account's targets go with it (a route left with none matches nothing).
CREATE TABLE route_targets (
    route_id            BIGINT NOT NULL REFERENCES routes(id) ON DELETE CASCADE,
    ord                 BIGINT NOT NULL,
    provider_account_id BIGINT NOT NULL REFERENCES provider_accounts(id) ON DELETE CASCADE,
    weight              BIGINT NOT NULL,
    PRIMARY KEY (route_id, ord)
);
CREATE INDEX route_targets_account ON route_targets (provider_account_id);
-- The route that chose a message's account (NULL: the company's first enabled account, no
-- route). No foreign key: a message keeps the id of a route deleted since.
ALTER TABLE messages ADD COLUMN route_id BIGINT;
