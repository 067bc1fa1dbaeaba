// Package testpg gives tests a throw-away PostgreSQL database. The first
// Start in a test binary runs initdb into a temporary directory and starts a
// private server from Debian's postgresql package; every Start then creates
// a fresh, empty database on that server, so tests never see each other's
// rows. Run, called from TestMain, stops the server and removes its files
// when the tests are done.
//
// The server's directory is in /dev/shm when that has room, since a
// memory-backed directory makes it many times faster, and in the temporary
// directory otherwise.
//
// The server listens only on a Unix socket in its own directory: no TCP
// port to pick or collide on, and it works in a network namespace whose
// loopback interface is down. It runs with fsync off: fast, and useless
// after a crash, which is fine for data that lives as long as one test
// binary.
//
// It does not know salon's schema; callers open the DSN with internal/db.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// superuser is the role initdb creates; the server trusts every local
// connection, so it needs no password.
const superuser = "postgres"

var (
	// running is set by Run, so that Start can tell a test binary that
	// would leak its server to call Run.
	running atomic.Bool

	startOnce sync.Once
	mu        sync.Mutex // guards shared against Run's stop
	shared    *server
	startErr  error
)

// Run runs the tests of m and then stops the server if a test started one.
// Every package that calls Start needs a TestMain of this form:
//
//	func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }
func Run(m *testing.M) int {
	running.Store(true)
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testpg:", err)
		}
		shared = nil
	}
	return code
}

// Start returns the DSN of a new, empty database (postgres://…?host=<socket
// directory>&sslmode=disable) on the test binary's PostgreSQL server,
// starting the server on first use. The database is dropped when t ends.
// When PostgreSQL is not installed, or the server cannot start, Start fails
// the test; it never skips it.
func Start(t testing.TB) string {
	t.Helper()
	if !running.Load() {
		t.Fatal("testpg: call testpg.Run from TestMain before using Start: func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }")
	}
	startOnce.Do(func() {
		s, err := startServer()
		mu.Lock()
		shared, startErr = s, err
		mu.Unlock()
	})
	mu.Lock()
	s, err := shared, startErr
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		t.Fatal("testpg: the server was already stopped; Start must be called from a test, not after Run returns")
	}

	var b [8]byte
	rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	// template0 is never connected to, so CREATE DATABASE cannot fail
	// because another test happens to use the template at that moment.
	if _, err := s.admin.ExecContext(context.Background(),
		`CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8'`); err != nil {
		t.Fatalf("testpg: create database: %v%s", err, s.logTail())
	}
	t.Cleanup(func() {
		// FORCE ends sessions a test left open; the data goes with the
		// server directory anyway, so a failure here only costs disk.
		if _, err := s.admin.ExecContext(context.Background(),
			`DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("testpg: drop database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// dsn is the URL of database name on the server's socket. pgx reads a host
// that is an absolute path as a Unix socket directory.
func (s *server) dsn(name string) string {
	q := url.Values{}
	q.Set("host", s.sockDir)
	q.Set("port", fmt.Sprint(port))
	q.Set("sslmode", "disable")
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Host: "", Path: "/" + name, RawQuery: q.Encode()}
	return u.String()
}

// openAdmin connects to the server's maintenance database, from which Start
// creates and drops the test databases.
func (s *server) openAdmin() (*sql.DB, error) {
	return sql.Open("pgx", s.dsn("postgres"))
}
