-- +goose Up
-- Plans: what a provider sells on an API. A plan is a slug with numbered
-- revisions. Once a revision is published its prices and limits never change:
-- subscribers keep the terms of the revision they subscribed to, so a change
-- to a published plan is a new draft revision that supersedes it, and
-- publishing that draft deprecates the revision it supersedes.

CREATE TABLE plans (
    id                      TEXT PRIMARY KEY,
    org_id                  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_id                  TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
    slug                    TEXT NOT NULL,
    revision                INTEGER NOT NULL CHECK (revision >= 1),
    name                    TEXT NOT NULL,
    description             TEXT NOT NULL,
    price_cents             BIGINT NOT NULL CHECK (price_cents >= 0),          -- per month; 0 = free
    currency                TEXT NOT NULL,                                     -- ISO 4217, lower-case
    included_calls          BIGINT NOT NULL CHECK (included_calls >= 0),       -- per month
    overage_cents_per_1000  BIGINT CHECK (overage_cents_per_1000 >= 0),        -- NULL = hard limit: calls beyond are refused
    rate_rps                INTEGER CHECK (rate_rps >= 1),                     -- NULL = no rate limit
    rate_burst              INTEGER CHECK (rate_burst >= rate_rps),
    quota_day               BIGINT CHECK (quota_day >= 1),                     -- NULL = no daily quota
    quota_month             BIGINT CHECK (quota_month >= 1),                   -- NULL = no monthly quota
    versions                TEXT NOT NULL,                                     -- JSON array of API version names granted
    approval                TEXT NOT NULL CHECK (approval IN ('auto','manual')),
    trial_days              INTEGER NOT NULL CHECK (trial_days BETWEEN 0 AND 365),
    state                   TEXT NOT NULL CHECK (state IN ('draft','published','deprecated','closed')),
    supersedes_id           TEXT REFERENCES plans(id) ON DELETE SET NULL,      -- the revision this one replaces
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    published_at            TIMESTAMPTZ,
    UNIQUE (api_id, slug, revision),
    CHECK ((rate_rps IS NULL) = (rate_burst IS NULL))
);
CREATE INDEX plans_api_state_idx ON plans(api_id, state);
CREATE INDEX plans_org_idx ON plans(org_id);
-- A plan has at most one draft (its pending changes) and at most one
-- published revision (the one new subscriptions get).
CREATE UNIQUE INDEX plans_one_draft_idx ON plans(api_id, slug) WHERE state = 'draft';
CREATE UNIQUE INDEX plans_one_published_idx ON plans(api_id, slug) WHERE state = 'published';

-- +goose Down
DROP TABLE plans;
