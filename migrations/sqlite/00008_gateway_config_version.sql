-- +goose Up
-- The version of the gateway configuration: one row, bumped after every
-- change the gateway must see — a deployment, a rollback, a key created or
-- revoked, a subscription approved, suspended or ended. The gateway compares
-- it with the version it serves and rebuilds only when it moved.
CREATE TABLE gateway_config_version (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL,
    changed_at  DATETIME NOT NULL
);
INSERT INTO gateway_config_version (id, version, changed_at) VALUES (1, 1, CURRENT_TIMESTAMP);

-- +goose Down
DROP TABLE gateway_config_version;
