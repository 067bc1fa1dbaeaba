-- A meeting made for a calendar event: the organizer's user name and the
-- event's UID find the same room on every save of the event, of every
-- occurrence of a series, and after the event moves between calendars.
ALTER TABLE meetings ADD COLUMN organizer TEXT;
ALTER TABLE meetings ADD COLUMN event_uid TEXT;

CREATE UNIQUE INDEX meetings_event ON meetings (organizer, event_uid) WHERE event_uid IS NOT NULL;
