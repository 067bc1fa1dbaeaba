// Package db opens salon's SQL database and runs each package's schema
// migrations. It knows the two engines salon supports — SQLite (the
// embedded default, through modernc.org/sqlite) and PostgreSQL (through
// pgx) — and nothing about the tables other packages keep in them.
//
// Packages write one SQL dialect for both engines: `?` placeholders passed
// through DB.Rebind, TEXT, INTEGER, BOOLEAN and TIMESTAMP columns, and times
// stored in UTC.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// SQLiteFile is the name of the SQLite database inside the data directory.
const SQLiteFile = "salon.db"

// DB is an open database and the dialect to speak to it.
type DB struct {
	*sql.DB
	Dialect Dialect
}

// Open connects to the database named by dsn, the value of the --db flag.
// An empty dsn opens (creating if needed) the SQLite database
// {dataDir}/salon.db; a postgres:// or postgresql:// URL opens PostgreSQL.
// Open pings the database so that a wrong address fails here, not at the
// first request.
func Open(ctx context.Context, dsn, dataDir string) (*DB, error) {
	var (
		d      *DB
		err    error
		target string
	)
	switch {
	case dsn == "":
		target, err = filepath.Abs(filepath.Join(dataDir, SQLiteFile))
		if err != nil {
			return nil, fmt.Errorf("locate SQLite database: %w", err)
		}
		d, err = openSQLite(target)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		target = redact(dsn)
		d, err = openPostgres(dsn)
	default:
		return nil, fmt.Errorf("--db %q: want empty (SQLite in the data directory) or a postgres://user:password@host/dbname URL", redact(dsn))
	}
	if err != nil {
		return nil, err
	}
	if err := d.PingContext(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open %s database %s: %w", d.Dialect, target, err)
	}
	return d, nil
}

func openSQLite(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	q := url.Values{}
	// busy_timeout makes a second writer wait instead of failing, and
	// comes first: switching to WAL takes a lock that another process
	// opening the same database (a second node on one data directory) may
	// hold. WAL lets readers run beside the writer; SQLite leaves foreign
	// keys off unless asked.
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Taking the write lock at BEGIN means a transaction never fails with
	// SQLITE_BUSY halfway, when it turns from reader into writer.
	q.Set("_txlock", "immediate")
	// The format SQLite's own date functions read.
	q.Set("_time_format", "sqlite")
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	sqlDB, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	return &DB{DB: sqlDB, Dialect: SQLite}, nil
}

func openPostgres(dsn string) (*DB, error) {
	sqlDB, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL database %s: %w", redact(dsn), err)
	}
	return &DB{DB: sqlDB, Dialect: Postgres}, nil
}

// redact hides the password of a database URL so it can be logged.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(dsn, "@") {
			return "(unparsable URL)"
		}
		return dsn
	}
	return u.Redacted()
}
