-- The mail outbox: every message salon sends, from the moment the change
-- that caused it commits until a relay accepts it or it is given up on, and
-- afterwards as a record for admins. Times are unix microseconds in UTC; 0
-- means "not set". migrations/postgres holds the same schema in
-- PostgreSQL's words; change both together.
CREATE TABLE mail_outbox (
	-- AUTOINCREMENT: a seq is never reused, even once the newest rows are
	-- deleted, so an admin's link never comes to name another message.
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	-- Message-ID without angle brackets; stable across attempts, so a
	-- receiver can drop the copy a retried delivery may duplicate.
	message_id   TEXT NOT NULL,
	-- The envelope: MAIL FROM, and RCPT TO one address per line.
	sender       TEXT NOT NULL,
	recipients   TEXT NOT NULL,
	subject      TEXT NOT NULL,
	method       TEXT NOT NULL,
	uid          TEXT NOT NULL,
	data         BLOB NOT NULL,
	-- queued, sent, failed or local (mail.State).
	state        TEXT NOT NULL,
	-- Delivery attempts begun; counted when a worker claims the message,
	-- so that a message that crashes its worker is still given up on.
	attempts     INTEGER NOT NULL,
	last_error   TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	-- When a queued message is next due.
	next_attempt BIGINT NOT NULL,
	sent_at      BIGINT NOT NULL,
	-- A worker that claims a message owns it until lease_until; a worker
	-- that dies holding it lets it fall due again then.
	lease_owner  TEXT NOT NULL,
	lease_until  BIGINT NOT NULL
);

-- Workers look for due messages; admins list by state.
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt);
CREATE INDEX mail_outbox_state ON mail_outbox (state, seq);

-- One row per envelope recipient, lower-cased, so that admins can find the
-- mail sent to someone without scanning every message.
CREATE TABLE mail_outbox_recipients (
	address TEXT NOT NULL,
	seq     BIGINT NOT NULL REFERENCES mail_outbox (seq) ON DELETE CASCADE,
	PRIMARY KEY (address, seq)
);

CREATE INDEX mail_outbox_recipients_seq ON mail_outbox_recipients (seq);
