package signaling

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

// flakyStore is a roomstate.Store that can be made unreachable, as Redis
// going away would.
type flakyStore struct {
	roomstate.Store
	down atomic.Bool
}

func (f *flakyStore) check() error {
	if f.down.Load() {
		return roomstate.ErrUnavailable
	}
	return nil
}

func (f *flakyStore) HostRoom(ctx context.Context, room, candidate string) (roomstate.Room, error) {
	if err := f.check(); err != nil {
		return roomstate.Room{}, err
	}
	return f.Store.HostRoom(ctx, room, candidate)
}

func (f *flakyStore) Join(ctx context.Context, p roomstate.Participant) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.Join(ctx, p)
}

func (f *flakyStore) Update(ctx context.Context, p roomstate.Participant) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.Update(ctx, p)
}

func (f *flakyStore) Leave(ctx context.Context, room, id string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.Leave(ctx, room, id)
}

func (f *flakyStore) Participants(ctx context.Context, room string) ([]roomstate.Participant, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.Store.Participants(ctx, room)
}

// names lists who the live state says is in room.
func names(t *testing.T, s roomstate.Store, room string) map[string]bool {
	t.Helper()
	ps, err := s.Participants(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range ps {
		out[p.Name] = true
	}
	return out
}

func waitNames(t *testing.T, s roomstate.Store, room string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := names(t, s, room)
		ok := len(got) == len(want)
		for _, w := range want {
			ok = ok && got[w]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("live state of %s: %v, want %v", room, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLiveStateMirrorsParticipants: joins, updates and leaves reach the
// shared room state; with the state unreachable new joins get a clear
// refusal while the people already in the room carry on; when it comes
// back, Reconcile leaves no ghost and loses no one.
func TestLiveStateMirrorsParticipants(t *testing.T) {
	mem := roomstate.NewMemory(roomstate.MemoryOptions{})
	store := &flakyStore{Store: mem}
	if err := mem.RenewNode(context.Background(), roomstate.Node{ID: "node-a"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, Config{}, func(o *Options) { o.State = store; o.Node = "node-a" })

	ada, _ := e.join("room-1", "Ada")
	bob, _ := e.join("room-1", "Bob")
	ada.expect("participant-joined")
	waitNames(t, mem, "room-1", "Ada", "Bob")
	r, err := mem.Room(context.Background(), "room-1")
	if err != nil || r.Node != "node-a" {
		t.Fatalf("room host: %+v, %v", r, err)
	}

	bob.send(map[string]any{"type": "update", "audioMuted": true})
	ada.expect("participant-updated")
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps, _ := mem.Participants(context.Background(), "room-1")
		muted := false
		for _, p := range ps {
			muted = muted || p.Name == "Bob" && p.AudioMuted
		}
		if muted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mute not mirrored: %+v", ps)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The state goes away: a newcomer is refused, clearly; Bob leaves,
	// which the state cannot learn yet; Ada is unaffected.
	store.down.Store(true)
	carol := e.dial()
	carol.send(map[string]any{"type": "join", "token": e.token("room-1", "Carol", time.Minute)})
	refusal := carol.expect("error")
	if refusal["code"] != "unavailable" || refusal["fatal"] != true {
		t.Fatalf("join with the state down: %v", refusal)
	}
	bob.send(map[string]any{"type": "leave"})
	ada.expect("participant-left")
	ada.send(map[string]any{"type": "ping", "id": "still-here"})
	ada.expect("pong")
	if err := e.srv.Reconcile(context.Background(), true); err == nil {
		t.Error("Reconcile with the state down reported success")
	}

	// It comes back still holding Bob, whose leave it missed: Reconcile
	// removes the ghost.
	store.down.Store(false)
	waitNames(t, mem, "room-1", "Ada", "Bob")
	if err := e.srv.Reconcile(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	waitNames(t, mem, "room-1", "Ada")
	e.join("room-1", "Dave")
	waitNames(t, mem, "room-1", "Ada", "Dave")
}

// TestLiveStateRoomElsewhere: a room whose media another live node hosts
// is refused with the retryable "unavailable" until nodes relay to each
// other.
func TestLiveStateRoomElsewhere(t *testing.T) {
	mem := roomstate.NewMemory(roomstate.MemoryOptions{})
	ctx := context.Background()
	for _, n := range []string{"node-a", "node-b"} {
		if err := mem.RenewNode(ctx, roomstate.Node{ID: n}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mem.HostRoom(ctx, "room-2", "node-b"); err != nil {
		t.Fatal(err)
	}
	if err := mem.Join(ctx, roomstate.Participant{ID: "p1", Room: "room-2", Name: "Eve", Node: "node-b", JoinedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, Config{}, func(o *Options) { o.State = mem; o.Node = "node-a" })
	c := e.dial()
	c.send(map[string]any{"type": "join", "token": e.token("room-2", "Ada", time.Minute)})
	if m := c.expect("error"); m["code"] != "unavailable" {
		t.Fatalf("join of a room hosted elsewhere: %v", m)
	}
}
