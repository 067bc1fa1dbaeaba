package testredis

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestClientsHaveDatabasesOfTheirOwn(t *testing.T) {
	ctx := context.Background()
	a, b := Client(t), Client(t)
	if err := a.Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Get(ctx, "k").Err(); err != redis.Nil {
		t.Errorf("GET k in another test's database = %v, want redis.Nil", err)
	}
	if n, err := a.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Errorf("DBSIZE = %d, %v; want 1", n, err)
	}
}

func TestServerHasNoPersistence(t *testing.T) {
	ctx := context.Background()
	c := Client(t)
	for param, want := range map[string]string{"save": "", "appendonly": "no", "bind": "127.0.0.1"} {
		got, err := c.ConfigGet(ctx, param).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got[param] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", param, got[param], want)
		}
	}
}

func TestClientsConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			t.Run("client", func(t *testing.T) {
				if err := Client(t).Ping(context.Background()).Err(); err != nil {
					t.Error(err)
				}
			})
		})
	}
	wg.Wait()
}

func TestDatabaseFlushedAfterTest(t *testing.T) {
	s := NewServer(t)
	var db int
	t.Run("inner", func(t *testing.T) {
		c := s.Client(t)
		db = c.Options().DB
		if err := c.Set(context.Background(), "left", "behind", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	c := redis.NewClient(s.ClientOptions(db))
	defer c.Close()
	if n, err := c.DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Errorf("database %d holds %d keys after its test ended (%v)", db, n, err)
	}
}

func TestStopAndRestartOnTheSamePort(t *testing.T) {
	ctx := context.Background()
	s := NewServer(t)
	c := s.Client(t)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()

	s.Stop(t)
	start := time.Now()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING of a stopped server succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("PING of a stopped server took %s to fail", d)
	}

	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("restarted on %s, was %s", s.Addr(), addr)
	}
	// The client's pool may still hold its dial error for a moment.
	waitFor(t, 5*time.Second, func() error { return c.Ping(ctx).Err() })
	if err := c.Get(ctx, "k").Err(); err != redis.Nil {
		t.Errorf("GET k after a restart = %v, want redis.Nil: the server must start empty", err)
	}
}

func TestPauseMakesCallsTimeOut(t *testing.T) {
	ctx := context.Background()
	s := NewServer(t)
	c := s.Client(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	start := time.Now()
	err := c.Ping(ctx).Err()
	if err == nil {
		t.Fatal("PING of a paused server succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("PING of a paused server took %s to fail", d)
	}
	s.Resume(t)
	waitFor(t, 5*time.Second, func() error { return c.Ping(ctx).Err() })
}

func TestServerGoneWhenTestEnds(t *testing.T) {
	var addr string
	t.Run("inner", func(t *testing.T) {
		addr = NewServer(t).Addr()
	})
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after its test ended", addr)
	}
}

// waitFor polls f until it returns nil, failing t after timeout.
func waitFor(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
