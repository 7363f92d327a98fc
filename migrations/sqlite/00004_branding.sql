-- +goose Up
-- Provider branding for the organisation's public page in the market.
ALTER TABLE organizations ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN website_url TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN logo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN brand_color TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE organizations DROP COLUMN brand_color;
ALTER TABLE organizations DROP COLUMN logo_url;
ALTER TABLE organizations DROP COLUMN website_url;
ALTER TABLE organizations DROP COLUMN description;
