-- The key that signs join tokens and RSVP links. It lives in the database,
-- not in a data directory, so that every salon node sharing this database
-- signs and verifies with the same key. salon uses the row with id 1; the
-- fixed id is what lets nodes that start together agree on one key
-- (INSERT … ON CONFLICT DO NOTHING, then read back). The key is hex text
-- rather than a BLOB or BYTEA so that the two engines' files stay the same;
-- keep them in step.
CREATE TABLE signing_keys (
	id         INTEGER PRIMARY KEY,
	-- hex of the KeySize (32) random bytes
	key        TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL
);
