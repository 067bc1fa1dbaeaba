package sqlstore

import (
	"testing"

	"github.com/salonhq/salon/internal/db"
)

func TestSQLite(t *testing.T) {
	testStore(t, openSQLite)
}

func openSQLite(t *testing.T, opts Options) *Store {
	t.Helper()
	d, err := db.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s := New(d, opts)
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
