-- The language of the pages and mail salon makes for a user: 'en' or
-- 'fr'; '' means the default, English. Validated by the application, not
-- by a CHECK, so that a new language needs no table rebuild in SQLite.
ALTER TABLE users ADD COLUMN lang TEXT NOT NULL DEFAULT '';
