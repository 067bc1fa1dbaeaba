-- Scheduling (RFC 6638). migrations/postgres/0003_scheduling.sql holds the
-- same change; change both together.

-- What a collection is: '' an ordinary calendar, 'inbox' the owner's
-- scheduling inbox. Fixed at creation. Existing calendars are ordinary.
ALTER TABLE calendars ADD COLUMN kind TEXT NOT NULL DEFAULT '';

-- The schedule-tag of a scheduling object resource, quoted like an ETag;
-- '' for other objects, which every existing object is.
ALTER TABLE objects ADD COLUMN schedule_tag TEXT NOT NULL DEFAULT '';

-- Finding an object by UID across an owner's calendars needs no new index:
-- UNIQUE (owner, name) finds the owner's calendars and UNIQUE
-- (calendar_id, uid) the object in each.
