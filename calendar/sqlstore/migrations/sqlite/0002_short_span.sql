-- Objects whose every instance lies within a week of start_utc ("short":
-- single meetings, all-day events, short series) are found by a tight
-- range on start_utc; the long ones (recurring without end, long series)
-- are few and scanned on their own. A month view then reads about a month
-- of index instead of everything before the month.
ALTER TABLE objects ADD COLUMN short_span SMALLINT NOT NULL DEFAULT 0;
UPDATE objects SET short_span = 1 WHERE end_utc IS NOT NULL AND end_utc - start_utc <= 604800000000;
CREATE INDEX objects_short_component_range ON objects (calendar_id, short_span, component, start_utc, end_utc);
CREATE INDEX objects_short_range ON objects (calendar_id, short_span, start_utc, end_utc);
