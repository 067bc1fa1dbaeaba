-- A meeting is a durable room reached at /m/{slug}.
CREATE TABLE meetings (
	slug       TEXT PRIMARY KEY,
	title      TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL,
	-- The meeting made on first start so that a fresh install has a room to try.
	demo       BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE UNIQUE INDEX meetings_one_demo ON meetings (demo) WHERE demo;
