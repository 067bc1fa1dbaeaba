-- The SQLite and PostgreSQL schemas differ only in how ids are generated;
-- keep the two files in step.

-- A salon account. name is the login and the principal's URL segment.
-- AUTOINCREMENT: an id is never reused, so nothing left pointing at a
-- deleted user can come to point at a new one.
CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	name          TEXT NOT NULL UNIQUE,
	email         TEXT NOT NULL,
	display_name  TEXT NOT NULL DEFAULT '',
	admin         BOOLEAN NOT NULL DEFAULT FALSE,
	-- argon2id in PHC string format: $argon2id$v=19$m=…,t=…,p=…$salt$hash
	password_hash TEXT NOT NULL,
	created_at    TIMESTAMP NOT NULL
);

-- One account per calendar user address: scheduling finds users by e-mail.
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Extra passwords a user makes for CalDAV clients, each revocable alone.
CREATE TABLE app_passwords (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	label        TEXT NOT NULL,
	-- hex SHA-256 of the random secret
	hash         TEXT NOT NULL,
	created_at   TIMESTAMP NOT NULL,
	last_used_at TIMESTAMP,
	UNIQUE (user_id, label)
);
