package roomstate_test

import (
	"os"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/internal/roomstate/storetest"
	"github.com/salonhq/salon/internal/testredis"
)

func TestMain(m *testing.M) { os.Exit(testredis.Run(m)) }

// testBusBuffer is small so that the suite's slow subscriber overflows
// quickly.
const testBusBuffer = 32

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clock := storetest.NewFakeClock(time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC))
		m := roomstate.NewMemory(roomstate.MemoryOptions{Now: clock.Now, BusBuffer: testBusBuffer})
		t.Cleanup(func() { m.Close() })
		return storetest.Harness{
			Store:     m,
			Bus:       m,
			Now:       clock.Now,
			Advance:   clock.Advance,
			Lease:     time.Minute,
			BusBuffer: testBusBuffer,
		}
	})
}

// TestMemoryDefaults runs the suite on the real clock with the default
// options, as salon serve without --redis does.
func TestMemoryDefaults(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		m := roomstate.NewMemory(roomstate.MemoryOptions{})
		t.Cleanup(func() { m.Close() })
		return storetest.Harness{Store: m, Bus: m, Now: time.Now, Lease: 300 * time.Millisecond, BusBuffer: roomstate.DefaultBusBuffer}
	})
}

func TestRedis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		r := roomstate.NewRedis(testredis.Client(t), roomstate.RedisOptions{Prefix: testPrefix(t), BusBuffer: testBusBuffer})
		t.Cleanup(func() { r.Close() })
		return storetest.Harness{
			Store: r, Bus: r, Now: time.Now,
			// Long enough for a busy machine to make the calls that
			// need the node alive before it dies.
			Lease:     1500 * time.Millisecond,
			BusBuffer: testBusBuffer,
		}
	})
}
