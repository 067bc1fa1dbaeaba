package e2e

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
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
	a := startSalon(t, "--data", shared, "--redis", redisURL, "--log-level", "info")
	b := startSalon(t, "--data", shared, "--redis", redisURL, "--log-level", "info")
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

	// Redis goes away: the call keeps its media, node A says it is not
	// ready; Redis comes back empty and the nodes put the room back
	// together by themselves (Bob's signalling may reconnect).
	rs.Stop(t)
	waitFor(t, 20*time.Second, "node A to say it is not ready", func() bool { return readyz(a.base) == http.StatusServiceUnavailable })
	ada.waitMediaGrowing("during the Redis outage")
	rs.Restart(t)
	waitFor(t, 30*time.Second, "node A to be ready again", func() bool { return readyz(a.base) == http.StatusOK })
	tiles := `document.querySelectorAll('.tile:not([data-source="screen"])').length`
	ada.waitTrue(60*time.Second, "two tiles for Ada after Redis came back", tiles+` === 2`)
	bob.waitTrue(60*time.Second, "two tiles for Bob after Redis came back", tiles+` === 2`)
	ada.waitMediaGrowing("after Redis came back")
	bob.waitMediaGrowing("after Redis came back")
	// The shared list is the truth again: the two of them, no ghost of
	// Bob's first socket, nobody twice.
	client, err := roomstate.NewRedisClient(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	state := roomstate.NewRedis(client, roomstate.RedisOptions{})
	room := strings.TrimPrefix(slug, "/m/")
	waitFor(t, 30*time.Second, "Ada and Bob, once each, in the shared list", func() bool {
		ps, err := state.Participants(context.Background(), room)
		if err != nil || len(ps) != 2 {
			return false
		}
		return ps[0].Name != ps[1].Name
	})

	// kill -9 of Bob's node: Ada sees him go within a lease.
	start := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ada.waitTrue(30*time.Second, "Bob's tile gone after his node died", tiles+` === 1`)
	t.Logf("Bob left Ada's list %v after his node was killed", time.Since(start).Round(100*time.Millisecond))

	// He comes back through the node that is left.
	bob2 := join(t, browser, a.demo, "Bob")
	ada.waitMediaFrom(bob2)
	bob2.waitMediaFrom(ada)
}

func readyz(base string) int {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitMediaGrowing waits until video from someone else keeps decoding.
func (p *participant) waitMediaGrowing(when string) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	first := p.stats()
	for {
		_ = ctxWait(p.ctx, time.Second)
		now := p.stats()
		for id, s := range now {
			if s.VideoFramesDecoded > first[id].VideoFramesDecoded && first[id].VideoFramesDecoded > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no growing video %s: %+v", p.name, when, now)
		}
		first = now
	}
}

// TestDrainMovesTheRoom: SIGTERM of the node that hosts a room (a rolling
// restart) ends its lease first and tells its participants; the one whose
// socket is on the other node rejoins at once through it, the room moves
// there, and newcomers meet them there.
func TestDrainMovesTheRoom(t *testing.T) {
	rs := testredis.NewServer(t)
	redisURL := "redis://" + rs.Addr() + "/6"
	shared := t.TempDir()
	a := startSalon(t, "--data", shared, "--redis", redisURL, "--log-level", "info")
	b := startSalon(t, "--data", shared, "--redis", redisURL, "--log-level", "info")
	slug := a.demo[strings.LastIndex(a.demo, "/m/"):]

	browser := newBrowser(t)
	ada := join(t, browser, a.demo, "Ada") // the room starts on node A
	bob := join(t, browser, b.base+slug, "Bob")
	bob.waitMediaFrom(ada)

	a.stop() // SIGTERM, and a clean exit
	bob.waitTrue(30*time.Second, "Bob back in the call after node A left",
		`window.salon.state() === "connected" && document.querySelectorAll('.tile:not([data-source="screen"])').length === 1`)

	client, err := roomstate.NewRedisClient(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	state := roomstate.NewRedis(client, roomstate.RedisOptions{})
	room := strings.TrimPrefix(slug, "/m/")
	nodes, err := state.Nodes(context.Background())
	if err != nil || len(nodes) != 1 {
		t.Fatalf("live nodes after the drain: %+v, %v", nodes, err)
	}
	waitFor(t, 10*time.Second, "the room hosted by node B", func() bool {
		r, err := state.Room(context.Background(), room)
		return err == nil && r.Node == nodes[0].ID
	})

	// Bob rejoined: he has a new participant ID.
	bob.id = bob.evalString(`window.salon.self()`)
	carol := join(t, browser, b.base+slug, "Carol")
	carol.waitMediaFrom(bob)
	bob.waitMediaFrom(carol)
}
