// Package storetest is the one conformance suite of roomstate: every Store
// and Bus implementation runs it, so that salon behaves the same on one
// node in memory as on many over Redis.
//
// Leases are the hard part to test alike: the memory store follows a clock
// the test controls, Redis its own real clock. The suite lets a short lease
// (Harness.Lease) run out either by moving a fake clock past it or, on a
// real clock, by polling with a deadline until the store shows it ended;
// it never sleeps and hopes. Nodes meant to stay alive get an hour.
package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

// Harness is one implementation under test, fresh and empty.
type Harness struct {
	Store roomstate.Store
	Bus   roomstate.Bus
	// Now is the store's clock (JoinedAt, Created, LeaseUntil).
	Now func() time.Time
	// Advance moves the store's clock forward; nil when the store's leases
	// run on a real clock, which the suite then waits for.
	Advance func(time.Duration)
	// Lease is the lease the suite gives the nodes it lets die: anything
	// on a fake clock, a second or two on a real one.
	Lease time.Duration
	// BusBuffer is how many messages a subscriber may fall behind before
	// its subscription ends, as the Bus was configured.
	BusBuffer int
}

// Run runs the suite. newHarness is called once per subtest, which runs in
// parallel with the others.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"nodes", nodeTests},
		{"rooms", roomTests},
		{"participants", participantTests},
		{"bus", busTests},
		{"inputs", inputTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newHarness(t))
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, h Harness)
}

// long is the lease of nodes that must outlive the test.
const long = time.Hour

// FakeClock is a clock that moves only when told, for stores whose clock
// the test controls. It is safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a clock that reads start until advanced.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now reads the clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// expire lets the short leases (Harness.Lease) given so far run out, and
// returns once cond holds: at once on a fake clock moved past them, or
// after polling on a real clock. It fails t with what when cond does not
// come to hold.
func expire(t *testing.T, h Harness, what string, cond func() bool) {
	t.Helper()
	if h.Advance != nil {
		h.Advance(h.Lease + time.Millisecond)
		if !cond() {
			t.Fatalf("after the lease ran out: %s", what)
		}
		return
	}
	eventually(t, h.Lease+10*time.Second, what, cond)
}

// eventually polls cond until it holds, failing t with what after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ms is t as a Store keeps it.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }
