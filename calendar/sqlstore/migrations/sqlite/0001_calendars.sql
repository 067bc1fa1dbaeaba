-- Calendar collections, their objects and the change log behind sync
-- tokens. Times are unix microseconds in UTC. migrations/postgres holds the
-- same schema in PostgreSQL's words; change both together.

-- A calendar collection: /dav/calendars/{owner}/{name}/.
CREATE TABLE calendars (
	-- AUTOINCREMENT: an id is never reused, so nothing that still names a
	-- deleted calendar can reach a newer one.
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	owner        TEXT NOT NULL,
	name         TEXT NOT NULL,
	display_name TEXT NOT NULL,
	description  TEXT NOT NULL,
	color        TEXT NOT NULL,
	sort_order   INTEGER NOT NULL,
	timezone     TEXT NOT NULL,
	-- Supported component names, comma-separated.
	components   TEXT NOT NULL,
	-- Dead properties: a JSON object of "{namespace}local" to raw XML.
	dead_props   TEXT NOT NULL,
	-- The latest change (changes.token); also the ctag.
	sync_token   BIGINT NOT NULL,
	-- The oldest token Changes still answers: compaction dropped the log
	-- entries up to it.
	min_token    BIGINT NOT NULL,
	-- How many changes rows the calendar has, to know when to compact.
	log_rows     BIGINT NOT NULL,
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL,
	UNIQUE (owner, name)
);

-- A calendar object resource: one .ics file, kept byte for byte.
CREATE TABLE objects (
	calendar_id BIGINT NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	uid         TEXT NOT NULL,
	component   TEXT NOT NULL,
	etag        TEXT NOT NULL,
	-- The change that wrote this version.
	token       BIGINT NOT NULL,
	data        BLOB NOT NULL,
	size        INTEGER NOT NULL,
	-- Bounds of every instance; start_utc is the smallest time for
	-- "unbounded", end_utc is NULL when the object recurs forever.
	start_utc   BIGINT NOT NULL,
	end_utc     BIGINT,
	modified    BIGINT NOT NULL,
	PRIMARY KEY (calendar_id, name),
	UNIQUE (calendar_id, uid)
);

-- Time-range queries: by component type (calendar-query names one) and
-- over every type; end_utc rides along so the end test needs no row lookup.
CREATE INDEX objects_component_range ON objects (calendar_id, component, start_utc, end_utc);
CREATE INDEX objects_range ON objects (calendar_id, start_utc, end_utc);

-- The change log: one row per write. token is the sync token, unique across
-- calendars and never reused (AUTOINCREMENT). An empty name records a
-- change of the calendar's own properties.
CREATE TABLE changes (
	token       INTEGER PRIMARY KEY AUTOINCREMENT,
	calendar_id BIGINT NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	deleted     BOOLEAN NOT NULL
);

CREATE INDEX changes_calendar ON changes (calendar_id, token);
