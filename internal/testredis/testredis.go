// Package testredis gives tests throw-away Redis servers: redis-server from
// Debian's redis-server package, on a free loopback port, without
// persistence.
//
// Client gives a test a database of its own (SELECT n) on one server shared
// by the whole test binary, started on first use; Run, called from TestMain,
// stops it when the tests are done. Databases isolate keys but not pub/sub
// channels, which Redis shares between databases: tests that publish must
// use channel names of their own (a prefix made from t.Name(), say).
//
// NewServer starts a server of the test's own, for tests that Stop,
// Restart or Pause it ("Redis unreachable, then back"); those must never be
// done to the shared server, which other tests use at the same time.
//
// Every server quits with its test binary, even one killed by a test
// timeout or a panic, and leaves no files behind.
package testredis

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	// running is set by Run, so that Client can tell a test binary that
	// would leak its server to call Run.
	running atomic.Bool

	startOnce sync.Once
	mu        sync.Mutex // guards shared against Run's stop
	shared    *Server
	startErr  error
)

// Run runs the tests of m and then stops the shared server if a test
// started one. Every package that calls Client needs a TestMain of this
// form:
//
//	func TestMain(m *testing.M) { os.Exit(testredis.Run(m)) }
func Run(m *testing.M) int {
	running.Store(true)
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		if err := shared.close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		shared = nil
	}
	return code
}

// Client returns a client of an empty database of its own on the test
// binary's shared server, starting the server on first use. The database
// is flushed and the client closed when t ends. When redis-server is not
// installed, or cannot start, Client fails the test; it never skips it.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	if !running.Load() {
		t.Fatal("testredis: call testredis.Run from TestMain before using Client: func TestMain(m *testing.M) { os.Exit(testredis.Run(m)) }")
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
		t.Fatal("testredis: the shared server was already stopped; Client must be called from a test, not after Run returns")
	}
	return s.Client(t)
}

// NewServer starts a server of t's own, stopped when t ends. When
// redis-server is not installed, or cannot start, it fails the test.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Client returns a client of an empty database of its own on s, flushed
// and closed when t ends. Its timeouts are short (see ClientOptions), so
// that a test of a stopped or paused server fails its calls quickly.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	s.mu.Lock()
	if len(s.freeDBs) == 0 {
		s.mu.Unlock()
		t.Fatalf("testredis: all %d databases of %s are in use: too many tests hold a client at once", databases-1, s.Addr())
	}
	db := s.freeDBs[len(s.freeDBs)-1]
	s.freeDBs = s.freeDBs[:len(s.freeDBs)-1]
	s.mu.Unlock()

	c := redis.NewClient(s.ClientOptions(db))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := c.FlushDB(ctx).Err()
		c.Close()
		if err != nil {
			// A database whose keys may remain is not handed out
			// again; there are plenty.
			t.Logf("testredis: flush database %d: %v", db, err)
			return
		}
		s.mu.Lock()
		s.freeDBs = append(s.freeDBs, db)
		s.mu.Unlock()
	})
	return c
}

// ClientOptions are the options of the clients that Client makes, for
// tests that build their own client (with a hook, say). Timeouts are short
// and retries few: the server is on loopback, and tests of an unreachable
// server should see errors within about a second, not after go-redis's
// default retries and 5 s timeouts.
func (s *Server) ClientOptions(db int) *redis.Options {
	return &redis.Options{
		Addr:                  s.Addr(),
		DB:                    db,
		DialTimeout:           500 * time.Millisecond,
		DialerRetries:         1,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           2 * time.Second,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
		// redis-server 7.0 (Debian 12) does not know CLIENT SETINFO.
		DisableIdentity: true,
	}
}
