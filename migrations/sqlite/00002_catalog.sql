-- +goose Up
-- The API catalog: APIs, their versions side by side, the operations each
-- version exposes, backend signing keys, and per-environment immutable
-- revisions with the live deployment of each environment.

CREATE TABLE apis (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    slug         TEXT NOT NULL,
    name         TEXT NOT NULL,
    summary      TEXT NOT NULL,
    description  TEXT NOT NULL,
    category     TEXT NOT NULL,
    tags         TEXT NOT NULL,         -- JSON array of strings
    logo_url     TEXT NOT NULL,
    visibility   TEXT NOT NULL CHECK (visibility IN ('public','unlisted','private')),
    contact_url  TEXT NOT NULL,
    terms_url    TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    updated_at   DATETIME NOT NULL,
    UNIQUE (org_id, slug)
);
CREATE INDEX apis_visibility_idx ON apis(visibility, id);

CREATE TABLE api_versions (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_id         TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
    version        TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('draft','published','deprecated','offline')),
    openapi        TEXT NOT NULL,       -- the imported document, as JSON ('' when operations are hand-made)
    upstream       TEXT NOT NULL,       -- JSON: targets, timeouts, retries, health check
    mock           BOOLEAN NOT NULL,
    settings       TEXT NOT NULL,       -- JSON: version-wide gateway settings
    sunset_at      DATETIME,
    deprecated_at  DATETIME,
    offline_at     DATETIME,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL,
    UNIQUE (api_id, version)
);
CREATE INDEX api_versions_org_idx ON api_versions(org_id);

CREATE TABLE operations (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    version_id      TEXT NOT NULL REFERENCES api_versions(id) ON DELETE CASCADE,
    operation_id    TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    summary         TEXT NOT NULL,
    parameters      TEXT NOT NULL,      -- JSON array
    mock            TEXT NOT NULL,      -- JSON: the mock backend's answer, from the spec's examples ('' = none)
    source          TEXT NOT NULL CHECK (source IN ('openapi','manual')),
    timeout_ms      INTEGER,
    max_body_bytes  BIGINT,
    billable        BOOLEAN NOT NULL,
    position        INTEGER NOT NULL,
    UNIQUE (version_id, method, path)
);
CREATE INDEX operations_version_idx ON operations(version_id, position);

CREATE TABLE backend_keys (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    version_id     TEXT NOT NULL REFERENCES api_versions(id) ON DELETE CASCADE,
    key_id         TEXT NOT NULL UNIQUE,
    secret_sealed  TEXT NOT NULL,       -- AES-256-GCM under the master key
    status         TEXT NOT NULL CHECK (status IN ('active','retired')),
    created_at     DATETIME NOT NULL,
    retired_at     DATETIME
);
CREATE INDEX backend_keys_version_idx ON backend_keys(version_id, status);

CREATE TABLE revisions (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    version_id       TEXT NOT NULL REFERENCES api_versions(id) ON DELETE CASCADE,
    environment      TEXT NOT NULL CHECK (environment IN ('test','production')),
    number           INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('deploy','rollback','lifecycle')),
    source_number    INTEGER,           -- for a rollback: the revision it restored
    snapshot         TEXT NOT NULL,     -- JSON: everything the gateway needs, immutable
    snapshot_sha256  TEXT NOT NULL,
    created_by       TEXT,
    created_by_email TEXT NOT NULL,
    note             TEXT NOT NULL,
    created_at       DATETIME NOT NULL,
    UNIQUE (version_id, environment, number)
);

CREATE TABLE deployments (
    version_id   TEXT NOT NULL REFERENCES api_versions(id) ON DELETE CASCADE,
    environment  TEXT NOT NULL CHECK (environment IN ('test','production')),
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    revision_id  TEXT NOT NULL REFERENCES revisions(id),
    updated_at   DATETIME NOT NULL,
    PRIMARY KEY (version_id, environment)
);

-- +goose Down
DROP TABLE deployments;
DROP TABLE revisions;
DROP TABLE backend_keys;
DROP TABLE operations;
DROP TABLE api_versions;
DROP TABLE apis;
