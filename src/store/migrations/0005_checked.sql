-- 0005: a site's online check deadline and whether its clerks check the
-- holder of a printed card, as the registry configured the site.
ALTER TABLE sites ADD COLUMN online_deadline_ms INTEGER NOT NULL DEFAULT 300;
ALTER TABLE sites ADD COLUMN check_holder INTEGER NOT NULL DEFAULT 1 CHECK (check_holder IN (0, 1));
