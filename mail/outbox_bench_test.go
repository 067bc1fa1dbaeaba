package mail

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/db"
)

// burstSize is the invitations of one event with many attendees.
const burstSize = 50

// burst queues burstSize messages in one transaction, as a calendar change
// does, and returns how long until the relay has them all.
func burst(tb testing.TB, d *db.DB, o *Outbox, srv *testSMTPD, round int) time.Duration {
	tb.Helper()
	ctx := context.Background()
	before := len(srv.messages())
	msgs := testMessages(fmt.Sprintf("burst-%d", round), burstSize)
	start := time.Now()
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := o.EnqueueTx(ctx, tx, msgs); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	o.Wake()
	srv.waitMessages(before+burstSize, waitLong)
	return time.Since(start)
}

func newBurstOutbox(tb testing.TB, e engine) (*db.DB, *Outbox, *testSMTPD) {
	srv := newTestSMTPD(tb, testSMTPDConfig{})
	d := e.open(tb)
	opts := testOptions(tb)
	opts.Logger = slog.New(slog.DiscardHandler) // a line per message would be the benchmark
	o := newOutbox(tb, d, OutboxConfig{Relay: srv.relay("", "")}, opts)
	run(tb, o)
	return d, o, srv
}

// BenchmarkOutboxBurst measures a burst from the calendar's commit to the
// last message in the relay, on each engine.
func BenchmarkOutboxBurst(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			d, o, srv := newBurstOutbox(b, e)
			var total time.Duration
			round := 0
			for b.Loop() {
				total += burst(b, d, o, srv, round)
				round++
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(round), "ms/burst")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestOutboxBurst: the invitations of a 50-attendee event all reach a
// local relay, each once. How fast is BenchmarkOutboxBurst's business
// (goal: within 2 s); a wall-clock limit here would fail on a loaded CI
// machine without saying anything about salon.
func TestOutboxBurst(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			d, o, srv := newBurstOutbox(t, e)
			took := burst(t, d, o, srv, 0)
			t.Logf("%d messages in %v", burstSize, took)
			onceEach(t, srv.messages(), testMessages("burst-0", burstSize))
		})
	}
}
