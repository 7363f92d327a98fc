-- +goose Up
-- App codes: a weaker credential for clients that cannot sign at all, sent as
-- X-Portico-App-Code to API versions that opt in. Only the SHA-256 of the
-- code is stored (codes are 256-bit random, so a fast hash is enough), plus
-- a short prefix people and usage records can tell codes apart by.
CREATE TABLE app_codes (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,     -- pac_ and the code's first characters
    code_hash     TEXT NOT NULL UNIQUE,     -- hex SHA-256 of the whole code
    status        TEXT NOT NULL CHECK (status IN ('active','revoked')),
    last_used_at  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX app_codes_app_idx ON app_codes(org_id, app_id, status);

-- +goose Down
DROP TABLE app_codes;
