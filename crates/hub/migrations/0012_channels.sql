-- 0012: a site's own addresses for the citizens' channels its terminals'
-- codes point to: objection to the list (名单异议) and complaint or
-- suggestion (投诉建议). NULL: the registry's pages under public_url in
-- hub.toml (or none, when the hub has no public address).
ALTER TABLE sites ADD COLUMN objection_url TEXT;
ALTER TABLE sites ADD COLUMN complaint_url TEXT;
