-- 0007: where the site's objection (名单异议) and complaint (投诉建议)
-- codes point, as the registry published them; NULL: the site has none,
-- and the kiosk shows no such code.
ALTER TABLE sites ADD COLUMN objection_url TEXT;
ALTER TABLE sites ADD COLUMN complaint_url TEXT;
