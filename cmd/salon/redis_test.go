package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/internal/testredis"
)

// TestServeWithRedis runs salon with --redis on a real redis-server: the
// node announces itself with its media address; when Redis goes away
// /readyz says so, and when it comes back (empty, as a restarted Redis
// is) the node is back in the state by itself.
func TestServeWithRedis(t *testing.T) {
	rs := testredis.NewServer(t)
	out, logs, udp := startServe(t, "--redis", "redis://"+rs.Addr()+"/3")
	re := regexp.MustCompile(`(http://\S+)/m/[a-z0-9-]+`)
	waitUntil(t, 20*time.Second, "the demo link", func() bool { return re.MatchString(out.String()) }, logs)
	base := re.FindStringSubmatch(out.String())[1]
	readyz := func() int {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	client, err := roomstate.NewRedisClient("redis://" + rs.Addr() + "/3")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	state := roomstate.NewRedis(client, roomstate.RedisOptions{})
	nodeUp := func() bool {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		nodes, err := state.Nodes(c)
		return err == nil && len(nodes) == 1 && strings.HasSuffix(nodes[0].MediaAddr, fmt.Sprintf(":%d", udp))
	}
	waitUntil(t, 20*time.Second, "the node in Redis", nodeUp, logs)
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz = %d with Redis up", code)
	}

	rs.Stop(t)
	waitUntil(t, 20*time.Second, "/readyz to say not ready", func() bool { return readyz() == http.StatusServiceUnavailable }, logs)
	rs.Restart(t)
	waitUntil(t, 20*time.Second, "/readyz to recover", func() bool { return readyz() == http.StatusOK }, logs)
	waitUntil(t, 30*time.Second, "the node back in the restarted Redis", nodeUp, logs)
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s\n%s", d, what, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
