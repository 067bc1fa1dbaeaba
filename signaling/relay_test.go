package signaling

import (
	"context"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

// twoNodes starts two signalling servers sharing one live state and bus,
// each with its own SFU, as two salon processes over one Redis would.
func twoNodes(t *testing.T) (a, b *testEnv, mem *roomstate.Memory) {
	t.Helper()
	mem = roomstate.NewMemory(roomstate.MemoryOptions{})
	cfg := Config{PingInterval: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	start := func(node string) *testEnv {
		if err := mem.RenewNode(ctx, roomstate.Node{ID: node, MediaAddr: "127.0.0.1:7882"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		e := newEnvWith(t, cfg, func(o *Options) { o.State, o.Bus, o.Node = mem, mem, node })
		done := e.srv.StartRelay(ctx)
		t.Cleanup(func() { cancel(); <-done })
		return e
	}
	return start("node-a"), start("node-b"), mem
}

// TestRelayAcrossNodes: sockets on either node share one room, hosted on
// the node where it started; the lists, mute states and leaves are the
// same whichever node a participant's socket is on.
func TestRelayAcrossNodes(t *testing.T) {
	a, b, mem := twoNodes(t)
	ada, _ := a.join("room-1", "Ada")
	bob, joined := b.join("room-1", "Bob")
	others, _ := joined["participants"].([]any)
	if len(others) != 1 || others[0].(map[string]any)["name"] != "Ada" {
		t.Fatalf("Bob, relayed from node-b, sees %v", joined["participants"])
	}
	if res, _ := joined["resume"].(map[string]any); res["room"] != "room-1" {
		t.Errorf("resume ref %v lacks the room", joined["resume"])
	}
	if m := ada.expect("participant-joined"); m["participant"].(map[string]any)["name"] != "Bob" {
		t.Fatalf("Ada saw %v", m)
	}
	r, err := mem.Room(context.Background(), "room-1")
	if err != nil || r.Node != "node-a" {
		t.Fatalf("room host %+v, %v", r, err)
	}
	if n := b.srv.Participants("room-1"); n != 0 {
		t.Errorf("node-b keeps %d participants of a room node-a hosts", n)
	}
	if n := a.srv.Participants("room-1"); n != 2 {
		t.Errorf("node-a has %d participants, want 2", n)
	}

	bob.send(map[string]any{"type": "update", "audioMuted": true})
	if m := ada.expect("participant-updated"); m["participant"].(map[string]any)["audioMuted"] != true {
		t.Errorf("Ada saw %v", m)
	}
	bob.send(map[string]any{"type": "ping", "id": "p1"})
	bob.expect("pong")
	waitNames(t, mem, "room-1", "Ada", "Bob")
	ps, _ := mem.Participants(context.Background(), "room-1")
	for _, p := range ps {
		if p.Name == "Bob" && p.Node != "node-b" {
			t.Errorf("Bob lives by %s's lease, want node-b (his socket's)", p.Node)
		}
	}

	bob.send(map[string]any{"type": "leave"})
	ada.expect("participant-left")
	if code := bob.expectClosed(); code != 1000 {
		t.Errorf("Bob's socket closed with %d, want 1000", code)
	}
	waitNames(t, mem, "room-1", "Ada")
}

// TestRelayFrontDies: when the node holding a relayed socket dies, the
// others see its participant leave within a few pings, not a timeout.
func TestRelayFrontDies(t *testing.T) {
	a, b, mem := twoNodes(t)
	ada, _ := a.join("room-2", "Ada")
	b.join("room-2", "Carol")
	ada.expect("participant-joined")
	if err := mem.RemoveNode(context.Background(), "node-b"); err != nil {
		t.Fatal(err)
	}
	if m := ada.expect("participant-left"); m["id"] == "" {
		t.Errorf("left: %v", m)
	}
	waitNames(t, mem, "room-2", "Ada")
}

// TestRelayHostDies: when the room's node dies, the sockets relayed to it
// are closed with "try again later" so that browsers reconnect and the
// room finds a new home.
func TestRelayHostDies(t *testing.T) {
	a, b, mem := twoNodes(t)
	a.join("room-3", "Ada")
	dave, _ := b.join("room-3", "Dave")
	if err := mem.RemoveNode(context.Background(), "node-a"); err != nil {
		t.Fatal(err)
	}
	if code := dave.expectClosed(); code != 1013 {
		t.Errorf("Dave's socket closed with %d, want 1013 (try again later)", code)
	}
	// The next join re-homes the room on the live node.
	b.join("room-3", "Dave again")
	r, err := mem.Room(context.Background(), "room-3")
	if err != nil || r.Node != "node-b" {
		t.Errorf("room-3 after its host died: %+v, %v", r, err)
	}
}
