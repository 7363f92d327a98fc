-- +goose Up
-- The partner side: apps, their AK/SK keys, users' management-API keys, and
-- subscriptions of apps to plans with their history.

CREATE TABLE apps (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    environment  TEXT NOT NULL CHECK (environment IN ('test','production')),
    owner_id     TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    deleted_at   TIMESTAMPTZ            -- deleted apps keep their rows for billing history
);
CREATE INDEX apps_org_idx ON apps(org_id, id);

-- AK/SK credentials. access_key is 20 upper-case letters/digits starting
-- with PK (apps) or PU (users); the secret is sealed with the master key.
CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    access_key    TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('app','user')),
    org_id        TEXT REFERENCES organizations(id) ON DELETE CASCADE, -- app keys: the app's org
    app_id        TEXT REFERENCES apps(id) ON DELETE CASCADE,
    user_id       TEXT REFERENCES users(id) ON DELETE CASCADE,         -- user keys
    name          TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active','revoked')),
    expires_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    CHECK ((kind = 'app' AND app_id IS NOT NULL AND org_id IS NOT NULL) OR (kind = 'user' AND user_id IS NOT NULL))
);
CREATE INDEX access_keys_app_idx ON access_keys(app_id, status);
CREATE INDEX access_keys_user_idx ON access_keys(user_id, status);

CREATE TABLE subscriptions (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE, -- the partner
    app_id               TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    provider_org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_id               TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
    version              TEXT NOT NULL,       -- the version subscribed through (the plan grants others too)
    plan_id              TEXT NOT NULL REFERENCES plans(id),   -- a plan revision: its terms are the subscriber's
    next_plan_id         TEXT REFERENCES plans(id),            -- a downgrade waiting for the period end
    status               TEXT NOT NULL CHECK (status IN ('pending_approval','pending_payment','active','suspended','rejected','cancelled','terminated','ended')),
    message              TEXT NOT NULL,       -- the partner's note to the provider
    reason               TEXT NOT NULL,       -- the provider's reason for a rejection, suspension or termination
    period_start         TIMESTAMPTZ NOT NULL,
    period_end           TIMESTAMPTZ NOT NULL,
    cancel_at_period_end BOOLEAN NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    ended_at             TIMESTAMPTZ
);
CREATE INDEX subscriptions_org_idx ON subscriptions(org_id, id);
CREATE INDEX subscriptions_provider_idx ON subscriptions(provider_org_id, api_id, status);
CREATE INDEX subscriptions_app_idx ON subscriptions(app_id, api_id, status);

CREATE TABLE subscription_events (
    id               TEXT PRIMARY KEY,
    subscription_id  TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,       -- created, approved, rejected, plan_changed, plan_change_scheduled, cancelled, suspended, resumed, terminated, ended
    from_status      TEXT NOT NULL,
    to_status        TEXT NOT NULL,
    from_plan_id     TEXT,
    to_plan_id       TEXT,
    actor_id         TEXT,
    actor_email      TEXT NOT NULL,
    note             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX subscription_events_sub_idx ON subscription_events(subscription_id, id);

-- +goose Down
DROP TABLE subscription_events;
DROP TABLE subscriptions;
DROP TABLE access_keys;
DROP TABLE apps;
