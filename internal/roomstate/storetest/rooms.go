package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

var roomTests = []test{
	{"HostRoomCreates", testHostRoomCreates},
	{"HostRoomRace", testHostRoomRace},
	{"HostRoomRehomesAfterLease", testHostRoomRehomesAfterLease},
	{"HostRoomRehomesAfterRemoveNode", testHostRoomRehomesAfterRemoveNode},
	{"HostRoomDoesNotCheckCandidate", testHostRoomDoesNotCheckCandidate},
	{"SetRoomPolicy", testSetRoomPolicy},
	{"EmptyRoomForgotten", testEmptyRoomForgotten},
}

func hostRoom(t *testing.T, h Harness, room, candidate string) roomstate.Room {
	t.Helper()
	r, err := h.Store.HostRoom(context.Background(), room, candidate)
	if err != nil {
		t.Fatalf("HostRoom(%q, %q): %v", room, candidate, err)
	}
	return r
}

func room(t *testing.T, h Harness, id string) roomstate.Room {
	t.Helper()
	r, err := h.Store.Room(context.Background(), id)
	if err != nil {
		t.Fatalf("Room(%q): %v", id, err)
	}
	return r
}

func wantNoRoom(t *testing.T, h Harness, id string) {
	t.Helper()
	if r, err := h.Store.Room(context.Background(), id); !errors.Is(err, roomstate.ErrNotFound) {
		t.Errorf("Room(%q) = %+v, %v; want ErrNotFound", id, r, err)
	}
}

func testHostRoomCreates(t *testing.T, h Harness) {
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	renew(t, h, roomstate.Node{ID: "n2"}, long)
	wantNoRoom(t, h, "standup")

	before := ms(h.Now())
	r := hostRoom(t, h, "standup", "n1")
	after := h.Now()
	if r.ID != "standup" || r.Node != "n1" || r.Participants != 0 || r.Locked || r.Lobby {
		t.Errorf("new room = %+v", r)
	}
	if r.Created.Before(before) || r.Created.After(after) {
		t.Errorf("Created = %v, want within [%v, %v]", r.Created, before, after)
	}

	again := hostRoom(t, h, "standup", "n2")
	if again.Node != "n1" || !again.Created.Equal(r.Created) {
		t.Errorf("second HostRoom = %+v; want host n1 created %v", again, r.Created)
	}
	if got := room(t, h, "standup"); got.Node != "n1" || !got.Created.Equal(r.Created) {
		t.Errorf("Room = %+v", got)
	}
	// Another room is another host.
	if other := hostRoom(t, h, "retro", "n2"); other.Node != "n2" {
		t.Errorf("HostRoom(retro, n2) = %+v", other)
	}
}

func testHostRoomRace(t *testing.T, h Harness) {
	const racers = 10
	for i := range racers {
		renew(t, h, roomstate.Node{ID: fmt.Sprintf("node-%d", i)}, long)
	}
	var wg sync.WaitGroup
	hosts := make([]string, racers)
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			r, err := h.Store.HostRoom(context.Background(), "contested", fmt.Sprintf("node-%d", i))
			hosts[i], errs[i] = r.Node, err
		})
	}
	close(start)
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if hosts[i] != hosts[0] {
			t.Fatalf("racers disagree on the host: %v", hosts)
		}
	}
	if r := room(t, h, "contested"); r.Node != hosts[0] {
		t.Errorf("Room says host %q, racers said %q", r.Node, hosts[0])
	}
}

func testHostRoomRehomesAfterLease(t *testing.T, h Harness) {
	ctx := context.Background()
	renew(t, h, roomstate.Node{ID: "dies"}, h.Lease)
	renew(t, h, roomstate.Node{ID: "stays"}, long)
	first := hostRoom(t, h, "room", "dies")
	join(t, h, roomstate.Participant{ID: "on-stays", Room: "room", Node: "stays", Name: "Ada"})
	join(t, h, roomstate.Participant{ID: "on-dies", Room: "room", Node: "dies", Name: "Bob"})
	if r := room(t, h, "room"); r.Node != "dies" || r.Participants != 2 {
		t.Fatalf("before the lease ran out: %+v", r)
	}

	expire(t, h, "the room still names its dead host, or counts its participants", func() bool {
		r, err := h.Store.Room(ctx, "room")
		return err == nil && r.Node == "" && r.Participants == 1
	})
	r := hostRoom(t, h, "room", "stays")
	if r.Node != "stays" || r.Participants != 1 {
		t.Errorf("re-homed room = %+v; want host stays, 1 participant", r)
	}
	if !r.Created.Equal(first.Created) {
		t.Errorf("re-homing a room with people in it changed Created from %v to %v", first.Created, r.Created)
	}
	if again := hostRoom(t, h, "room", "dies"); again.Node != "stays" {
		t.Errorf("HostRoom after the re-homing = %+v", again)
	}
	wantParticipants(t, h, "room", "on-stays")
}

func testHostRoomRehomesAfterRemoveNode(t *testing.T, h Harness) {
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	renew(t, h, roomstate.Node{ID: "n2"}, long)
	first := hostRoom(t, h, "room", "n1")
	if err := h.Store.SetRoomPolicy(context.Background(), "room", true, true); err != nil {
		t.Fatal(err)
	}
	if h.Advance != nil {
		h.Advance(time.Second)
	}
	if err := h.Store.RemoveNode(context.Background(), "n1"); err != nil {
		t.Fatal(err)
	}
	wantNoRoom(t, h, "room")
	// Nobody was left: the room starts afresh.
	r := hostRoom(t, h, "room", "n2")
	if r.Node != "n2" || r.Locked || r.Lobby || r.Participants != 0 {
		t.Errorf("re-homed empty room = %+v; want host n2 and no policy", r)
	}
	if r.Created.Before(first.Created) {
		t.Errorf("Created went back from %v to %v", first.Created, r.Created)
	}
	if h.Advance != nil && !r.Created.After(first.Created) {
		t.Errorf("Created = %v, want the time of the re-homing, after %v", r.Created, first.Created)
	}
}

// testHostRoomDoesNotCheckCandidate pins down that HostRoom does not
// choose: the caller must offer a live node that is not draining, which
// Nodes shows.
func testHostRoomDoesNotCheckCandidate(t *testing.T, h Harness) {
	renew(t, h, roomstate.Node{ID: "draining", Draining: true}, long)
	renew(t, h, roomstate.Node{ID: "live"}, long)
	if ns := nodes(t, h); len(ns) != 2 || !ns[0].Draining {
		t.Fatalf("Nodes = %+v", ns)
	}
	if r := hostRoom(t, h, "room", "draining"); r.Node != "draining" {
		t.Errorf("HostRoom with a draining candidate = %+v", r)
	}
	// A candidate without a lease is named host, and loses the room to
	// the next caller.
	if r := hostRoom(t, h, "other", "no-lease"); r.Node != "no-lease" {
		t.Errorf("HostRoom with a candidate without lease = %+v", r)
	}
	wantNoRoom(t, h, "other")
	if r := hostRoom(t, h, "other", "live"); r.Node != "live" {
		t.Errorf("HostRoom after a host without lease = %+v", r)
	}
}

func testSetRoomPolicy(t *testing.T, h Harness) {
	ctx := context.Background()
	if err := h.Store.SetRoomPolicy(ctx, "nobody-here", true, false); !errors.Is(err, roomstate.ErrNotFound) {
		t.Errorf("SetRoomPolicy of an unknown room: %v, want ErrNotFound", err)
	}
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	hostRoom(t, h, "room", "n1")
	for _, p := range []struct{ locked, lobby bool }{{true, false}, {false, true}, {true, true}, {false, false}} {
		if err := h.Store.SetRoomPolicy(ctx, "room", p.locked, p.lobby); err != nil {
			t.Fatalf("SetRoomPolicy(%v, %v): %v", p.locked, p.lobby, err)
		}
		if r := room(t, h, "room"); r.Locked != p.locked || r.Lobby != p.lobby {
			t.Errorf("after SetRoomPolicy(%v, %v): %+v", p.locked, p.lobby, r)
		}
		if r := hostRoom(t, h, "room", "n1"); r.Locked != p.locked || r.Lobby != p.lobby {
			t.Errorf("HostRoom after SetRoomPolicy(%v, %v): %+v", p.locked, p.lobby, r)
		}
	}
	// A room with people in it but no host has a policy too.
	join(t, h, roomstate.Participant{ID: "p", Room: "hostless", Node: "n1"})
	if err := h.Store.SetRoomPolicy(ctx, "hostless", true, false); err != nil {
		t.Errorf("SetRoomPolicy of a room without host: %v", err)
	}
	if r := room(t, h, "hostless"); !r.Locked || r.Node != "" {
		t.Errorf("hostless room = %+v", r)
	}
}

func testEmptyRoomForgotten(t *testing.T, h Harness) {
	ctx := context.Background()
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	renew(t, h, roomstate.Node{ID: "n2"}, long)
	hostRoom(t, h, "room", "n1")
	join(t, h, roomstate.Participant{ID: "a", Room: "room", Node: "n1"})
	join(t, h, roomstate.Participant{ID: "b", Room: "room", Node: "n2"})
	if err := h.Store.SetRoomPolicy(ctx, "room", true, true); err != nil {
		t.Fatal(err)
	}
	leave(t, h, "room", "a")
	leave(t, h, "room", "a") // twice is fine
	if r := room(t, h, "room"); r.Participants != 1 || r.Node != "n1" {
		t.Errorf("after one of two left: %+v", r)
	}
	leave(t, h, "room", "b")
	wantNoRoom(t, h, "room")
	wantParticipants(t, h, "room")
	leave(t, h, "room", "b")

	// Forgotten, host and policy included.
	if r := hostRoom(t, h, "room", "n2"); r.Node != "n2" || r.Locked || r.Lobby {
		t.Errorf("HostRoom of a forgotten room = %+v", r)
	}

	// A Leave of someone who is not there does not forget a hosted room
	// that nobody joined yet.
	hostRoom(t, h, "waiting", "n1")
	leave(t, h, "waiting", "ghost")
	if r := room(t, h, "waiting"); r.Node != "n1" {
		t.Errorf("a Leave of nobody changed the room: %+v", r)
	}
}
