package testpg

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/salonhq/salon/internal/db"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func open(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestStartGivesSeparateEmptyDatabases(t *testing.T) {
	ctx := context.Background()
	dsnA, dsnB := Start(t), Start(t)
	if dsnA == dsnB {
		t.Fatalf("two Starts returned the same DSN %s", dsnA)
	}
	if !strings.HasPrefix(dsnA, "postgres://") || !strings.Contains(dsnA, "sslmode=disable") {
		t.Errorf("DSN %q is not a postgres:// URL with sslmode=disable", dsnA)
	}
	a, b := open(t, dsnA), open(t, dsnB)
	if a.Dialect != db.Postgres {
		t.Fatalf("dialect = %s", a.Dialect)
	}
	if _, err := a.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a fresh database holds %d tables", n)
	}
	var enc string
	if err := b.QueryRowContext(ctx, `SHOW server_encoding`).Scan(&enc); err != nil || enc != "UTF8" {
		t.Errorf("server_encoding = %q, %v; want UTF8", enc, err)
	}
}

func TestStartConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			t.Run("db", func(t *testing.T) {
				d := open(t, Start(t))
				if err := d.PingContext(context.Background()); err != nil {
					t.Error(err)
				}
			})
		})
	}
	wg.Wait()
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		d := open(t, Start(t))
		if err := d.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	admin := open(t, Start(t))
	var n int
	if err := admin.QueryRow(`SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}
