package sqlstore

import (
	"os"
	"testing"

	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

func TestPostgres(t *testing.T) {
	testStore(t, openPostgres)
}

// openPostgres opens a fresh database on the test PostgreSQL server.
func openPostgres(t *testing.T, opts Options) *Store {
	t.Helper()
	d, err := db.Open(ctx, testpg.Start(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if d.Dialect != db.Postgres {
		t.Fatalf("testpg gave a %s database", d.Dialect)
	}
	s := New(d, opts)
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
