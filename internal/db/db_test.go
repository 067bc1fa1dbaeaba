package db

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestOpenSQLite(t *testing.T) {
	// A data directory that does not exist yet, with characters that mean
	// something in a URI.
	dir := filepath.Join(t.TempDir(), "my data?#%", "nested")
	d, err := Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Dialect != SQLite {
		t.Errorf("Dialect = %q, want %q", d.Dialect, SQLite)
	}
	if _, err := os.Stat(filepath.Join(dir, SQLiteFile)); err != nil {
		t.Errorf("database file not where expected: %v", err)
	}
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"busy_timeout": "5000",
		"foreign_keys": "1",
	} {
		var got string
		if err := d.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestOpenRefusesUnknownDSN(t *testing.T) {
	for _, dsn := range []string{
		"mysql://root@localhost/salon",
		"salon.db",
		"sqlite:///tmp/x.db",
		"redis://localhost",
		"mysql://root:hunter2@localhost/salon",
	} {
		t.Run(dsn, func(t *testing.T) {
			_, err := Open(context.Background(), dsn, t.TempDir())
			if err == nil {
				t.Fatal("Open accepted it")
			}
			msg := err.Error()
			if !strings.Contains(msg, "--db") || !strings.Contains(msg, "postgres://") {
				t.Errorf("error %q does not name the flag and the accepted forms", msg)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error %q leaks the password", msg)
			}
		})
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	// Nothing listens on port 1; Open must fail at once with a clear error
	// that does not leak the password.
	ctx := context.Background()
	_, err := Open(ctx, "postgres://salon:hunter2@127.0.0.1:1/salon?connect_timeout=2", "")
	if err == nil {
		t.Fatal("Open succeeded without a server")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q leaks the password", err)
	}
	if !strings.Contains(err.Error(), "postgres") {
		t.Errorf("error %q does not say which database", err)
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	v1 := fstest.MapFS{
		"0002_b.sql": {Data: []byte(`ALTER TABLE a ADD COLUMN note TEXT;
INSERT INTO a (id, note) VALUES (2, 'second?');`)},
		"0001_a.sql": {Data: []byte(`CREATE TABLE a (id INTEGER PRIMARY KEY);
-- a comment; with a semicolon
INSERT INTO a (id) VALUES (1);`)},
		"README.md":      {Data: []byte("not a migration")},
		"sub/0000_x.sql": {Data: []byte("not at the root")},
	}
	if err := d.Migrate(ctx, "test", v1); err != nil {
		t.Fatal(err)
	}
	// Running again changes nothing: a second INSERT of id 1 would fail.
	if err := d.Migrate(ctx, "test", v1); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	assertCount(t, d, `SELECT COUNT(*) FROM a`, 2)
	assertCount(t, d, `SELECT COUNT(*) FROM schema_migrations WHERE owner = 'test'`, 2)

	// A later release adds a file; only that one runs.
	v1["0003_c.sql"] = &fstest.MapFile{Data: []byte(`INSERT INTO a (id) VALUES (3);`)}
	if err := d.Migrate(ctx, "test", v1); err != nil {
		t.Fatal(err)
	}
	assertCount(t, d, `SELECT COUNT(*) FROM a`, 3)

	// Another owner may reuse file names.
	other := fstest.MapFS{"0001_a.sql": {Data: []byte(`CREATE TABLE other_a (id INTEGER);`)}}
	if err := d.Migrate(ctx, "other", other); err != nil {
		t.Fatal(err)
	}
	assertCount(t, d, `SELECT COUNT(*) FROM schema_migrations`, 4)

	var appliedAt string
	if err := d.QueryRow(`SELECT applied_at FROM schema_migrations WHERE owner='test' AND name='0001_a.sql'`).Scan(&appliedAt); err != nil {
		t.Fatalf("applied_at: %v", err)
	}
}

func TestMigrateFailedFileLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	bad := fstest.MapFS{
		"0001_ok.sql":  {Data: []byte(`CREATE TABLE ok (id INTEGER);`)},
		"0002_bad.sql": {Data: []byte(`CREATE TABLE half (id INTEGER); THIS IS NOT SQL;`)},
		"0003_no.sql":  {Data: []byte(`CREATE TABLE never (id INTEGER);`)},
	}
	err := d.Migrate(ctx, "test", bad)
	if err == nil {
		t.Fatal("Migrate succeeded with a broken file")
	}
	if !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Errorf("error %q does not name the file", err)
	}
	assertCount(t, d, `SELECT COUNT(*) FROM schema_migrations`, 1)
	for _, table := range []string{"half", "never"} {
		assertCount(t, d, `SELECT COUNT(*) FROM sqlite_master WHERE name = '`+table+`'`, 0)
	}

	// Fixed in the next release: the migration runs.
	bad["0002_bad.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE half (id INTEGER);`)}
	if err := d.Migrate(ctx, "test", bad); err != nil {
		t.Fatal(err)
	}
	assertCount(t, d, `SELECT COUNT(*) FROM schema_migrations`, 3)
}

func TestMigrateRefuses(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	if err := d.Migrate(ctx, "", fstest.MapFS{"1.sql": {}}); err == nil {
		t.Error("Migrate accepted an empty owner")
	}
	if err := d.Migrate(ctx, "test", fstest.MapFS{"x.txt": {}}); err == nil {
		t.Error("Migrate accepted an FS without migrations")
	}
}

func TestMigrateConcurrentCallers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	migrations := fstest.MapFS{
		"0001.sql": {Data: []byte(`CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);`)},
	}
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			d, err := Open(ctx, "", dir)
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			errs <- d.Migrate(ctx, "test", migrations)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	d, err := Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	assertCount(t, d, `SELECT COUNT(*) FROM t`, 1)
}

func assertCount(t *testing.T, d *DB, query string, want int) {
	t.Helper()
	var got int
	if err := d.QueryRow(query).Scan(&got); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if got != want {
		t.Errorf("%s = %d, want %d", query, got, want)
	}
}
