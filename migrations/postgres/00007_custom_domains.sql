-- +goose Up
-- Providers' custom domains: a host name of the provider's own (api.acme.com)
-- that the gateway routes to the organisation, with the certificate it
-- serves for that name over TLS (selected by SNI). A host name belongs to at
-- most one organisation platform-wide. The private key is sealed with the
-- master key (context "custom-domain:" + hostname); the chain is public.
CREATE TABLE custom_domains (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    hostname     TEXT NOT NULL UNIQUE CHECK (hostname = lower(hostname)),
    cert_chain   TEXT NOT NULL,         -- PEM certificates, leaf first
    key_sealed   TEXT NOT NULL,         -- PEM private key, sealed
    not_before   TIMESTAMPTZ NOT NULL,
    not_after    TIMESTAMPTZ NOT NULL,
    fingerprint  TEXT NOT NULL,         -- hex SHA-256 of the leaf certificate (DER)
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX custom_domains_org_idx ON custom_domains(org_id, hostname);

-- +goose Down
DROP TABLE custom_domains;
