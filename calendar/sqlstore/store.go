// Package sqlstore keeps calendars, their objects and their change logs in
// salon's SQL database (SQLite or PostgreSQL, through internal/db). It
// implements calendar.Store: every write is one transaction that also
// appends to the calendar's change log, which is what sync tokens, ctags
// and ETags are made from. Apply makes several writes, across calendars
// and users, one transaction, and queues the mail they cause in it
// through an Outbox, which package mail provides.
//
// It stores iCalendar bytes as given and never parses them: the caller
// supplies an object's UID, component type and time bounds. The CalDAV
// protocol, the query engine and scheduling live in package calendar.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/db"
)

// DefaultChangeLogLimit is how many change-log entries a calendar keeps
// when Options.ChangeLogLimit is zero. A client whose sync token is older
// than that many changes gets calendar.ErrTokenGone and syncs from scratch.
const DefaultChangeLogLimit = 10000

// Options tunes a Store; the zero value is ready for production.
type Options struct {
	// Now is the clock for created, updated and modified times; time.Now
	// when nil.
	Now func() time.Time
	// ChangeLogLimit is how many change-log entries each calendar keeps at
	// least; older ones are dropped in batches. DefaultChangeLogLimit when
	// zero or negative.
	ChangeLogLimit int
	// Outbox queues mail in the transaction of the calendar change that
	// caused it. Nil: an Apply with Mail fails with an error saying no
	// outbox is configured.
	Outbox Outbox
}

// Store is a calendar.Store on a SQL database.
type Store struct {
	db       *db.DB
	now      func() time.Time
	logLimit int64
	// compactAt is the log size at which a write compacts the log back to
	// logLimit entries; the slack makes compaction a batch, not a tax on
	// every write.
	compactAt int64
	// writers serialises this process's write transactions on SQLite,
	// which allows one writer at a time anyway: waiting here is a queue,
	// where waiting in SQLite's busy handler is a sleep-and-retry lottery
	// with long tails. Nil on PostgreSQL, which locks the calendar row.
	writers chan struct{}
	// forUpdate ends a SELECT that locks the calendar row it reads until
	// the transaction ends: " FOR UPDATE" on PostgreSQL; nothing on SQLite,
	// where a write transaction holds the whole database.
	forUpdate string
	stmts     statements
	outbox    Outbox // nil when none is configured
}

var _ calendar.Store = (*Store)(nil)

//go:embed migrations
var migrations embed.FS

// New returns a Store on d. Call Migrate before using it.
func New(d *db.DB, opts Options) *Store {
	s := &Store{
		db:       d,
		now:      opts.Now,
		logLimit: int64(opts.ChangeLogLimit),
		outbox:   opts.Outbox,
		stmts: statements{
			prepared: make(map[string]*sql.Stmt),
			wanted:   make(map[string]bool),
		},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logLimit <= 0 {
		s.logLimit = DefaultChangeLogLimit
	}
	s.compactAt = s.logLimit + s.logLimit/8
	switch d.Dialect {
	case db.Postgres:
		s.forUpdate = " FOR UPDATE"
	default:
		s.writers = make(chan struct{}, 1)
	}
	return s
}

// Migrate creates or updates the tables the Store needs.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(s.db.Dialect))
	if err != nil {
		return err
	}
	return s.db.Migrate(ctx, "calendar", sub)
}

// write runs f in a transaction, committing when f returns nil and rolling
// back otherwise, so that a failed write leaves no trace.
func (s *Store) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	if s.writers != nil {
		select {
		case s.writers <- struct{}{}:
			defer func() { <-s.writers }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	err = f(tx)
	if err != nil {
		tx.Rollback()
	} else {
		err = tx.Commit()
	}
	s.prepareWanted(ctx)
	return err
}

// lock makes the calendar's row this transaction's until it ends (on SQLite
// the whole database already is), so that its writes are numbered in the
// order they commit. It returns calendar.ErrNotFound when there is no such
// calendar.
func (s *Store) lock(ctx context.Context, tx *sql.Tx, calendarID int64) error {
	var id int64
	err := s.queryRow(ctx, tx,
		`SELECT id FROM calendars WHERE id = ?`+s.forUpdate, calendarID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return calendar.ErrNotFound
	}
	return err
}

// logChange appends a change to the calendar's log, makes it the
// calendar's sync token and returns the token. name "" records a change of
// the calendar's own properties, which clients learn from the ctag but
// sync-collection does not list. The caller holds the calendar's lock.
func (s *Store) logChange(ctx context.Context, tx *sql.Tx, calendarID int64, name string, deleted bool, now time.Time) (int64, error) {
	var token int64
	err := s.queryRow(ctx, tx,
		`INSERT INTO changes (calendar_id, name, deleted) VALUES (?, ?, ?) RETURNING token`,
		calendarID, name, deleted).Scan(&token)
	if err != nil {
		return 0, fmt.Errorf("log change: %w", err)
	}
	var rows int64
	err = s.queryRow(ctx, tx,
		`UPDATE calendars SET sync_token = ?, updated_at = ?, log_rows = log_rows + 1 WHERE id = ? RETURNING log_rows`,
		token, micros(now), calendarID).Scan(&rows)
	if err != nil {
		return 0, fmt.Errorf("advance sync token: %w", err)
	}
	if rows >= s.compactAt {
		if err := s.compact(ctx, tx, calendarID); err != nil {
			return 0, fmt.Errorf("compact change log: %w", err)
		}
	}
	return token, nil
}

// compact drops the calendar's oldest change-log entries, keeping the
// newest logLimit, and records the newest dropped token as the oldest one
// Changes can still answer: every change after it is still in the log.
func (s *Store) compact(ctx context.Context, tx *sql.Tx, calendarID int64) error {
	var floor int64
	err := s.queryRow(ctx, tx,
		`SELECT token FROM changes WHERE calendar_id = ? ORDER BY token DESC LIMIT 1 OFFSET ?`,
		calendarID, s.logLimit).Scan(&floor)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // log_rows overcounted; nothing old enough to drop
	}
	if err != nil {
		return err
	}
	res, err := s.exec(ctx, tx,
		`DELETE FROM changes WHERE calendar_id = ? AND token <= ?`, calendarID, floor)
	if err != nil {
		return err
	}
	dropped, err := res.RowsAffected()
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, tx,
		`UPDATE calendars SET min_token = ?, log_rows = log_rows - ? WHERE id = ?`,
		floor, dropped, calendarID)
	return err
}

// exists reports calendar.ErrNotFound when there is no calendar id. Reads
// call it only when they found nothing, to tell an empty calendar from a
// missing one at no cost to the common case.
func (s *Store) exists(ctx context.Context, calendarID int64) error {
	var id int64
	err := s.queryRow(ctx, nil,
		`SELECT id FROM calendars WHERE id = ?`, calendarID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return calendar.ErrNotFound
	}
	return err
}

// micros is t as the tables keep it: unix microseconds, UTC.
func micros(t time.Time) int64 {
	return t.UnixMicro()
}

// fromMicros is the inverse of micros, in UTC.
func fromMicros(us int64) time.Time {
	return time.UnixMicro(us).UTC()
}
