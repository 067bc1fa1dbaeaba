package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/testredis"
)

// TestTwoNodesOneRoom runs two salon processes behind one Redis, sharing
// one data directory (the durable records), as several nodes on one
// machine would. Two browsers enter the same meeting through different
// nodes: each sees and hears the other (the second one's signalling is
// relayed to the node that hosts the room, its media goes straight
// there). Then the node holding the second browser's socket is killed
// with SIGKILL: the first browser sees them leave within the 20 s a
// node's lease allows.
func TestTwoNodesOneRoom(t *testing.T) {
	rs := testredis.NewServer(t)
	redisURL := "redis://" + rs.Addr() + "/5"
	shared := t.TempDir()
	a := startSalon(t, "--data", shared, "--redis", redisURL)
	b := startSalon(t, "--data", shared, "--redis", redisURL)
	slug := a.demo[strings.LastIndex(a.demo, "/m/"):]
	if !strings.HasSuffix(b.demo, slug) {
		t.Fatalf("the nodes disagree on the demo meeting: %s vs %s", a.demo, b.demo)
	}

	browser := newBrowser(t)
	ada := join(t, browser, a.demo, "Ada")
	bob := join(t, browser, b.base+slug, "Bob")
	ada.waitMediaFrom(bob)
	bob.waitMediaFrom(ada)
	ada.waitTrue(10*time.Second, "a tile for Bob", tileSel(bob.id))
	bob.waitTrue(10*time.Second, "a tile for Ada", tileSel(ada.id))

	// Mute states cross nodes too.
	bob.click("#toggle-audio")
	ada.waitTrue(10*time.Second, "Bob shown muted", tileSel(bob.id)+`?.dataset.audioMuted === "true"`)

	// kill -9 of Bob's node: Ada sees him go within a lease.
	start := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ada.waitTrue(30*time.Second, "Bob's tile gone after his node died", "!"+tileSel(bob.id))
	t.Log(fmt.Sprintf("Bob left Ada's list %v after his node was killed", time.Since(start).Round(100*time.Millisecond)))
}
