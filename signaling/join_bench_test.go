package signaling

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/internal/testredis"
)

// BenchmarkJoin measures a whole join through the signalling server (token
// check, routing, the live state, the SFU peer, the joined message) with
// the live state in memory and in Redis; for Redis it reports the round
// trips one join costs, all of them, as an operator's Redis sees them.
func BenchmarkJoin(b *testing.B) {
	run := func(b *testing.B, store roomstate.Store, bus roomstate.Bus, rt *testredis.RoundTrips) {
		if err := store.RenewNode(context.Background(), roomstate.Node{ID: "node-a"}, time.Hour); err != nil {
			b.Fatal(err)
		}
		e := newBenchEnv(b, store, bus)
		before := int64(0)
		if rt != nil {
			before = rt.Count()
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			// Rooms of ten, as meetings are.
			e.benchJoin(b, "room-"+strconv.Itoa(i/10), "P"+strconv.Itoa(i))
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
		if rt != nil {
			b.ReportMetric(float64(rt.Count()-before)/float64(b.N), "roundtrips/join")
		}
	}
	b.Run("memory", func(b *testing.B) {
		mem := roomstate.NewMemory(roomstate.MemoryOptions{})
		run(b, mem, mem, nil)
	})
	b.Run("redis", func(b *testing.B) {
		srv := testredis.NewServer(b)
		c := srv.Client(b)
		rt := &testredis.RoundTrips{}
		c.AddHook(rt)
		rs := roomstate.NewRedis(c, roomstate.RedisOptions{Prefix: "bench"})
		run(b, rs, rs, rt)
	})
}

func newBenchEnv(b *testing.B, store roomstate.Store, bus roomstate.Bus) *testEnv {
	return newEnvWith(b, Config{}, func(o *Options) { o.State, o.Bus, o.Node = store, bus, "node-a" })
}

// benchJoin joins, waits for joined, and hangs up (the participant stays
// in the room for the reconnect grace, so rooms do fill up to ten).
func (e *testEnv) benchJoin(b *testing.B, room, name string) {
	c := e.dial()
	c.send(map[string]any{"type": "join", "v": 1, "token": e.token(room, name, time.Minute)})
	c.expect("joined")
	_ = c.conn.Close()
}
