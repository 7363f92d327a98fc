-- +goose Up
-- The version of the gateway configuration: one row, bumped (and announced
-- with NOTIFY portico_gateway_config) after every change the gateway must
-- see — a deployment, a rollback, a key created or revoked, a subscription
-- approved, suspended or ended. Gateway nodes compare it with the version
-- they serve and rebuild only when it moved, so every node reports the same
-- number.
CREATE TABLE gateway_config_version (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO gateway_config_version (id, version, changed_at) VALUES (1, 1, now());

-- +goose Down
DROP TABLE gateway_config_version;
