-- +goose Up
-- The usage ledger: what the gateway answered, per subscription, operation
-- and minute. It is the one source for quota dashboards and billing.
CREATE TABLE usage_ledger (
    subscription_id  TEXT NOT NULL,
    operation_id     TEXT NOT NULL,
    minute           TIMESTAMPTZ NOT NULL,
    provider_org_id  TEXT NOT NULL,
    partner_org_id   TEXT NOT NULL,
    api_id           TEXT NOT NULL,
    version          TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    calls            BIGINT NOT NULL,
    billable         BIGINT NOT NULL,
    errors           BIGINT NOT NULL,
    bytes_in         BIGINT NOT NULL,
    bytes_out        BIGINT NOT NULL,
    latency_ms_sum   BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, operation_id, minute)
);
CREATE INDEX usage_ledger_partner_idx ON usage_ledger(partner_org_id, minute);
CREATE INDEX usage_ledger_provider_idx ON usage_ledger(provider_org_id, minute);

-- +goose Down
DROP TABLE usage_ledger;
