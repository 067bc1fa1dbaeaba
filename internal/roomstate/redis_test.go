package roomstate_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/internal/testredis"
)

// testPrefix is a key prefix of t's own: databases do not separate pub/sub
// channels, which every test on the shared server sees.
func testPrefix(t testing.TB) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "test-" + hex.EncodeToString(b) + ":"
}

// TestRedisRoundTrips pins down the cost of a join: HostRoom of a hosted
// room, Join and Participants take one round trip each; HostRoom of a new
// room two.
func TestRedisRoundTrips(t *testing.T) {
	ctx := context.Background()
	c := testredis.Client(t)
	rt := &testredis.RoundTrips{}
	c.AddHook(rt)
	r := roomstate.NewRedis(c, roomstate.RedisOptions{Prefix: testPrefix(t)})
	if err := r.RenewNode(ctx, roomstate.Node{ID: "n1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	join := func(room, id string) int64 {
		before := rt.Count()
		if _, err := r.HostRoom(ctx, room, "n1"); err != nil {
			t.Fatal(err)
		}
		if err := r.Join(ctx, roomstate.Participant{ID: id, Room: room, Node: "n1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Participants(ctx, room); err != nil {
			t.Fatal(err)
		}
		return rt.Count() - before
	}
	// The first call of each script loads it.
	join("warm-up", "p")
	if n := join("room", "first"); n != 4 {
		t.Errorf("joining a new room took %d round trips, want 4", n)
	}
	if n := join("room", "second"); n != 3 {
		t.Errorf("joining a hosted room took %d round trips, want 3", n)
	}
}

func TestRedisKeyLayout(t *testing.T) {
	ctx := context.Background()
	c := testredis.Client(t)
	r := roomstate.NewRedis(c, roomstate.RedisOptions{Prefix: "pre{fix}:"})
	if err := r.RenewNode(ctx, roomstate.Node{ID: "n{1}"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := r.HostRoom(ctx, "a}:{b%", "n{1}"); err != nil {
		t.Fatal(err)
	}
	if err := r.Join(ctx, roomstate.Participant{ID: "p", Room: "a}:{b%", Node: "n{1}"}); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"pre%7Bfix%7D:{nodes}:lease":            true,
		"pre%7Bfix%7D:{nodes}:info":             true,
		"pre%7Bfix%7D:{room:a%7D:%7Bb%25}:meta": true,
		"pre%7Bfix%7D:{room:a%7D:%7Bb%25}:p":    true,
	}
	if len(keys) != len(want) {
		t.Errorf("keys = %q, want %d", keys, len(want))
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
		// Every key's hash tag is its whole group name.
		tag := k[strings.Index(k, "{")+1:]
		tag = tag[:strings.Index(tag, "}")]
		if tag != "nodes" && tag != "room:a%7D:%7Bb%25" {
			t.Errorf("key %q has hash tag %q", k, tag)
		}
	}
	// The room's keys expire unless touched; the leases do not.
	for _, k := range keys {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		isRoom := strings.Contains(k, "{room:")
		if isRoom && (ttl <= 0 || ttl > roomstate.DefaultRoomTTL) {
			t.Errorf("PTTL %s = %s, want up to %s", k, ttl, roomstate.DefaultRoomTTL)
		}
		if !isRoom && ttl != -1 {
			t.Errorf("PTTL %s = %s, want none", k, ttl)
		}
	}
}

// TestRedisScriptsReloaded: Redis forgets scripts when it restarts or
// fails over; the store sends them again.
func TestRedisScriptsReloaded(t *testing.T) {
	ctx := context.Background()
	c := testredis.Client(t)
	r := roomstate.NewRedis(c, roomstate.RedisOptions{Prefix: testPrefix(t)})
	if err := r.RenewNode(ctx, roomstate.Node{ID: "n1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.HostRoom(ctx, "room", "n1"); err != nil {
		t.Fatalf("HostRoom after SCRIPT FLUSH: %v", err)
	}
	if err := r.Join(ctx, roomstate.Participant{ID: "p", Room: "room", Node: "n1"}); err != nil {
		t.Fatalf("Join after SCRIPT FLUSH: %v", err)
	}
}

// TestRedisForeignKey: a key of the wrong type under salon's prefix is a
// lasting error that says what is wrong, not "try again".
func TestRedisForeignKey(t *testing.T) {
	ctx := context.Background()
	c := testredis.Client(t)
	prefix := testPrefix(t)
	r := roomstate.NewRedis(c, roomstate.RedisOptions{Prefix: prefix})
	if err := c.Set(ctx, prefix+"{room:r}:p", "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err := r.Join(ctx, roomstate.Participant{ID: "p", Room: "r", Node: "n1"})
	if err == nil || errors.Is(err, roomstate.ErrUnavailable) || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), prefix) {
		t.Errorf("Join over a foreign key = %v; want a lasting error naming WRONGTYPE and the prefix", err)
	}
}

// TestRedisUnavailable: with Redis stopped, every call fails quickly with
// roomstate.ErrUnavailable and subscriptions end; once it is back (empty), the same
// store and client work again.
func TestRedisUnavailable(t *testing.T) {
	ctx := context.Background()
	s := testredis.NewServer(t)
	r := roomstate.NewRedis(s.Client(t), roomstate.RedisOptions{})
	if err := r.RenewNode(ctx, roomstate.Node{ID: "n1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	sub, err := r.Subscribe(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}

	s.Stop(t)
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Error("a message arrived from a stopped Redis")
		}
	case <-time.After(5 * time.Second):
		t.Error("the subscription did not end when Redis stopped")
	}
	calls := append(validCallsOf(r), call{"Subscribe", func(ctx context.Context) error {
		s, err := r.Subscribe(ctx, "t")
		if err == nil {
			s.Close()
		}
		return err
	}})
	for _, c := range calls {
		start := time.Now()
		err := c.do(ctx)
		if !errors.Is(err, roomstate.ErrUnavailable) {
			t.Errorf("%s with Redis stopped = %v, want roomstate.ErrUnavailable", c.name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %s to fail", c.name, d)
		}
	}

	s.Restart(t)
	for _, c := range calls {
		// The client's pools probe a server that refused them about
		// once a second.
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := c.do(ctx)
			// A publish to nobody reached Redis: it is back.
			if err == nil || errors.Is(err, roomstate.ErrNotFound) || errors.Is(err, roomstate.ErrNoSubscriber) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still failing after Redis came back: %v", c.name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	sub, err = r.Subscribe(ctx, "events")
	if err != nil {
		t.Fatalf("Subscribe after Redis came back: %v", err)
	}
	defer sub.Close()
	if err := r.Publish(ctx, "events", []byte("back")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C():
		if string(m) != "back" {
			t.Errorf("got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Error("no message after Redis came back")
	}
}

// TestRedisHung: a Redis that stops answering (paused) fails calls with
// roomstate.ErrUnavailable after the client's timeouts, or with the context's error
// when its deadline comes first.
func TestRedisHung(t *testing.T) {
	ctx := context.Background()
	s := testredis.NewServer(t)
	r := roomstate.NewRedis(s.Client(t), roomstate.RedisOptions{})
	if err := r.RenewNode(ctx, roomstate.Node{ID: "n1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	defer s.Resume(t)

	start := time.Now()
	if _, err := r.Participants(ctx, "room"); !errors.Is(err, roomstate.ErrUnavailable) {
		t.Errorf("Participants of a hung Redis = %v, want roomstate.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Participants of a hung Redis took %s", d)
	}

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := r.Participants(short, "room"); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, roomstate.ErrUnavailable) {
		t.Errorf("Participants with a 200 ms deadline = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Participants with a 200 ms deadline took %s", d)
	}
}

// TestRedisHungEndsSubscription: a subscription whose Redis stops
// answering ends after its health check goes unanswered.
func TestRedisHungEndsSubscription(t *testing.T) {
	ctx := context.Background()
	s := testredis.NewServer(t)
	r := roomstate.NewRedis(s.Client(t), roomstate.RedisOptions{HealthInterval: 200 * time.Millisecond})
	sub, err := r.Subscribe(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// Answered pings keep a quiet subscription alive.
	select {
	case m, ok := <-sub.C():
		t.Fatalf("a quiet subscription delivered %q (open %v)", m, ok)
	case <-time.After(time.Second):
	}
	s.Pause(t)
	defer s.Resume(t)
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Error("a message arrived from a hung Redis")
		}
	case <-time.After(5 * time.Second):
		t.Error("the subscription did not end when Redis stopped answering")
	}
}

// TestRedisSubscriberConnectionKilled: when Redis drops a subscriber's
// connection, its channel closes, and subscribing again works.
func TestRedisSubscriberConnectionKilled(t *testing.T) {
	ctx := context.Background()
	s := testredis.NewServer(t)
	c := s.Client(t)
	r := roomstate.NewRedis(c, roomstate.RedisOptions{})
	sub, err := r.Subscribe(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(ctx, "events", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if m := <-sub.C(); string(m) != "one" {
		t.Fatalf("got %q", m)
	}
	if n, err := c.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v; want 1 connection killed", n, err)
	}
	select {
	case m, ok := <-sub.C():
		if ok {
			t.Errorf("got %q after the connection was killed", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription did not end when its connection was killed")
	}
	sub.Close()
	again, err := r.Subscribe(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := r.Publish(ctx, "events", []byte("two")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-again.C():
		if string(m) != "two" {
			t.Errorf("got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message on the new subscription")
	}
}

// call is one Store or Bus method with valid arguments.
type call struct {
	name string
	do   func(ctx context.Context) error
}

func validCallsOf(r *roomstate.Redis) []call {
	p := roomstate.Participant{ID: "p", Room: "r", Node: "n1"}
	return []call{
		{"RenewNode", func(ctx context.Context) error { return r.RenewNode(ctx, roomstate.Node{ID: "n1"}, time.Hour) }},
		{"Nodes", func(ctx context.Context) error { _, err := r.Nodes(ctx); return err }},
		{"HostRoom", func(ctx context.Context) error { _, err := r.HostRoom(ctx, "r", "n1"); return err }},
		{"Room", func(ctx context.Context) error { _, err := r.Room(ctx, "r"); return err }},
		{"SetRoomPolicy", func(ctx context.Context) error { return r.SetRoomPolicy(ctx, "r", true, false) }},
		{"Join", func(ctx context.Context) error { return r.Join(ctx, p) }},
		{"Update", func(ctx context.Context) error { return r.Update(ctx, p) }},
		{"Participants", func(ctx context.Context) error { _, err := r.Participants(ctx, "r"); return err }},
		{"Leave", func(ctx context.Context) error { return r.Leave(ctx, "r", "p") }},
		{"RemoveNode", func(ctx context.Context) error { return r.RemoveNode(ctx, "n2") }},
		{"Publish", func(ctx context.Context) error { return r.Publish(ctx, "t", []byte("m")) }},
	}
}
