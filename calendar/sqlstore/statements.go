package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// statements prepares each query text once per Store and database
// connection. On SQLite, parsing and planning took a fifth of a PUT's CPU
// and more than half of a sync-collection delta's time; pgx would cache
// on its own, and sharing the path keeps the engines alike. Only fixed query texts go through it: a text built
// from a list's length would fill it with statements used once.
type statements struct {
	mu       sync.Mutex
	prepared map[string]*sql.Stmt // by query text as written, before Rebind
	// wanted holds queries first met inside a transaction, to prepare
	// once it has ended.
	wanted map[string]bool
}

// stmt returns query prepared, and bound to tx unless tx is nil.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.stmts.mu.Lock()
	st, ok := s.stmts.prepared[query]
	if !ok && tx != nil {
		s.stmts.wanted[query] = true
	}
	s.stmts.mu.Unlock()
	switch {
	case ok && tx != nil:
		return tx.StmtContext(ctx, st), nil
	case ok:
		return st, nil
	case tx != nil:
		// Preparing on the database would take a second connection,
		// and wait for ever if the pool allows only the one tx holds.
		return tx.PrepareContext(ctx, s.db.Rebind(query))
	}
	return s.prepare(ctx, query)
}

// prepare prepares query on the database and keeps it.
func (s *Store) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := s.db.PrepareContext(ctx, s.db.Rebind(query))
	if err != nil {
		return nil, err
	}
	s.stmts.mu.Lock()
	delete(s.stmts.wanted, query)
	prev, ok := s.stmts.prepared[query]
	if !ok {
		s.stmts.prepared[query] = st
	}
	s.stmts.mu.Unlock()
	if ok {
		// Another goroutine was first. Close outside the lock: closing
		// waits for the connection the statement was prepared on, which
		// a transaction may hold while it waits for a row lock that
		// another transaction holds while it waits for this lock.
		st.Close()
		return prev, nil
	}
	return st, nil
}

// prepareWanted prepares the queries transactions have met unprepared.
// It runs after a transaction, so a failure costs only speed: the query
// stays wanted and is tried again after the next one.
func (s *Store) prepareWanted(ctx context.Context) {
	s.stmts.mu.Lock()
	var wanted []string
	for q := range s.stmts.wanted {
		wanted = append(wanted, q)
	}
	s.stmts.mu.Unlock()
	for _, q := range wanted {
		if _, err := s.prepare(ctx, q); err != nil {
			return
		}
	}
}

// exec runs a fixed statement, in tx unless it is nil.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// query runs a fixed query, in tx unless it is nil.
func (s *Store) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a fixed query for one row, in tx unless it is nil.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) scanner {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return failedRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// failedRow is a row whose query could not be prepared.
type failedRow struct{ err error }

func (r failedRow) Scan(...any) error { return r.err }

// Close releases the Store's prepared statements; closing the database
// releases them too. A Store used after Close prepares them again.
func (s *Store) Close() error {
	s.stmts.mu.Lock()
	prepared := s.stmts.prepared
	s.stmts.prepared = map[string]*sql.Stmt{}
	clear(s.stmts.wanted)
	s.stmts.mu.Unlock()
	// Closed outside the lock, for the reason prepare gives.
	var first error
	for _, st := range prepared {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
