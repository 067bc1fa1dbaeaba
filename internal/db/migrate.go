package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
)

// migrationsTable records which migration files each owner has applied.
const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	owner      TEXT NOT NULL,
	name       TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (owner, name)
)`

// migrationLock is the PostgreSQL advisory lock key that serialises
// migrations across salon processes ("salon" in ASCII).
const migrationLock = 0x73616c6f6e

// Migrate applies the *.sql files at the root of migrations, in lexical
// order, that owner has not applied yet. Each file runs in its own
// transaction together with the row recording it, so a failed file leaves no
// trace and is retried on the next start. owner is the name of the package
// that owns the tables (e.g. "meeting"); file names only need to be unique
// within one owner. Name files so that their order is clear, e.g.
// 0001_meetings.sql.
//
// Several salon processes may migrate one database at the same time: each
// file is applied once.
func (db *DB) Migrate(ctx context.Context, owner string, migrations fs.FS) error {
	if owner == "" {
		return errors.New("migrate: empty owner")
	}
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return fmt.Errorf("migrate %s: %w", owner, err)
	}
	if len(names) == 0 {
		return fmt.Errorf("migrate %s: no *.sql files found", owner)
	}
	sort.Strings(names)

	err = db.lockedTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, migrationsTable)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate %s: create schema_migrations: %w", owner, err)
	}
	for _, name := range names {
		script, err := fs.ReadFile(migrations, name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", owner, err)
		}
		if err := db.lockedTx(ctx, func(tx *sql.Tx) error {
			return db.apply(ctx, tx, owner, name, string(script))
		}); err != nil {
			return fmt.Errorf("migrate %s: %s: %w", owner, name, err)
		}
	}
	return nil
}

// apply runs one migration file unless it is recorded as applied.
func (db *DB) apply(ctx context.Context, tx *sql.Tx, owner, name, script string) error {
	var n int
	err := tx.QueryRowContext(ctx, db.Rebind(
		`SELECT COUNT(*) FROM schema_migrations WHERE owner = ? AND name = ?`), owner, name).Scan(&n)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(
		`INSERT INTO schema_migrations (owner, name) VALUES (?, ?)`), owner, name); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// lockedTx runs f in a transaction that no other process migrating the same
// database runs beside. On SQLite every transaction already begins with the
// write lock (_txlock=immediate); PostgreSQL takes an advisory lock that
// ends with the transaction.
func (db *DB) lockedTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if db.Dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			tx.Rollback()
			return fmt.Errorf("lock: %w", err)
		}
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
