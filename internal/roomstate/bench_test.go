package roomstate_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/internal/testredis"
)

// benchNode looks like the node IDs salon serve makes: host name and a
// random suffix.
const benchNode = "salon-1-9f3a2b1c"

// benchParticipant is participant i of a 10-person room, with IDs and a
// name the size of salon's own (signaling: 8 random bytes in hex).
func benchParticipant(i int) roomstate.Participant {
	return roomstate.Participant{
		ID:         fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15),
		Room:       fmt.Sprintf("weekly-sync-%06d", i/10),
		Name:       fmt.Sprintf("Participant %d", i),
		Role:       "guest",
		Node:       benchNode,
		JoinedAt:   time.Now(),
		AudioMuted: i%3 == 0,
	}
}

// BenchmarkJoin measures what a join costs the room state: HostRoom, Join
// and Participants, into rooms of 10 (one join in ten opens a new room).
// Over Redis it reports the round trips per join too.
//
//	go test -run '^$' -bench BenchmarkJoin -benchtime 2s ./internal/roomstate/
func BenchmarkJoin(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		benchJoin(b, roomstate.NewMemory(roomstate.MemoryOptions{}), nil)
	})
	b.Run("redis", func(b *testing.B) {
		c := testredis.Client(b)
		rt := &testredis.RoundTrips{}
		c.AddHook(rt)
		benchJoin(b, roomstate.NewRedis(c, roomstate.RedisOptions{Prefix: testPrefix(b)}), rt)
	})
}

func benchJoin(b *testing.B, s roomstate.Store, rt *testredis.RoundTrips) {
	ctx := context.Background()
	if err := s.RenewNode(ctx, roomstate.Node{ID: benchNode}, time.Hour); err != nil {
		b.Fatal(err)
	}
	// Load the scripts before counting.
	if err := join(ctx, s, benchParticipant(-1)); err != nil {
		b.Fatal(err)
	}
	var before int64
	if rt != nil {
		before = rt.Count()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := join(ctx, s, benchParticipant(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
	if rt != nil {
		b.ReportMetric(float64(rt.Count()-before)/float64(b.N), "roundtrips/join")
	}
}

// join is what signaling does when someone joins.
func join(ctx context.Context, s roomstate.Store, p roomstate.Participant) error {
	if _, err := s.HostRoom(ctx, p.Room, p.Node); err != nil {
		return err
	}
	if err := s.Join(ctx, p); err != nil {
		return err
	}
	_, err := s.Participants(ctx, p.Room)
	return err
}

// BenchmarkRedisMemoryPerParticipant measures what Redis holds per
// participant: used_memory before and after 10,000 participants join
// 1,000 rooms of 10 (room keys included, node keys not), on a server of
// its own so that nothing else moves the figure.
//
//	go test -run '^$' -bench BenchmarkRedisMemoryPerParticipant -benchtime 1x ./internal/roomstate/
func BenchmarkRedisMemoryPerParticipant(b *testing.B) {
	const participants = 10000
	ctx := context.Background()
	srv := testredis.NewServer(b)
	c := srv.Client(b)
	s := roomstate.NewRedis(c, roomstate.RedisOptions{})
	usedMemory := func() int64 {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			b.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				return n
			}
		}
		b.Fatal("INFO memory has no used_memory")
		return 0
	}
	var perParticipant float64
	for range b.N {
		b.StopTimer()
		if err := c.FlushDB(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		if err := s.RenewNode(ctx, roomstate.Node{ID: benchNode, MediaAddr: "192.0.2.1:7882"}, time.Hour); err != nil {
			b.Fatal(err)
		}
		// Warm: scripts loaded, connections open.
		if err := join(ctx, s, benchParticipant(-1)); err != nil {
			b.Fatal(err)
		}
		before := usedMemory()
		b.StartTimer()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < participants; i += 8 {
					p := benchParticipant(i)
					if _, err := s.HostRoom(ctx, p.Room, p.Node); err != nil {
						errs <- err
						return
					}
					if err := s.Join(ctx, p); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		perParticipant = float64(usedMemory()-before) / participants
		b.StartTimer()
	}
	b.ReportMetric(perParticipant, "bytes/participant")
}
