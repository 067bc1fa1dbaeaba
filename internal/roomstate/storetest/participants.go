package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

var participantTests = []test{
	{"JoinRoundTrip", testJoinRoundTrip},
	{"JoinOrder", testJoinOrder},
	{"JoinReplaces", testJoinReplaces},
	{"Update", testUpdate},
	{"DeadNodeParticipantsVanish", testDeadNodeParticipantsVanish},
	{"RoomOfDeadParticipantsForgotten", testRoomOfDeadParticipantsForgotten},
}

func join(t *testing.T, h Harness, p roomstate.Participant) {
	t.Helper()
	if err := h.Store.Join(context.Background(), p); err != nil {
		t.Fatalf("Join(%q in %q): %v", p.ID, p.Room, err)
	}
}

func leave(t *testing.T, h Harness, room, id string) {
	t.Helper()
	if err := h.Store.Leave(context.Background(), room, id); err != nil {
		t.Fatalf("Leave(%q, %q): %v", room, id, err)
	}
}

func participants(t *testing.T, h Harness, room string) []roomstate.Participant {
	t.Helper()
	ps, err := h.Store.Participants(context.Background(), room)
	if err != nil {
		t.Fatalf("Participants(%q): %v", room, err)
	}
	return ps
}

// wantParticipants checks the IDs, in order, of the room's participants.
func wantParticipants(t *testing.T, h Harness, room string, ids ...string) {
	t.Helper()
	got := participantIDs(participants(t, h, room))
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("Participants(%q) = %q, want %q", room, got, ids)
	}
}

func participantIDs(ps []roomstate.Participant) []string {
	ids := []string{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

// sameParticipant compares every field, times to the millisecond.
func sameParticipant(got, want roomstate.Participant) bool {
	g, w := got, want
	g.JoinedAt, w.JoinedAt = time.Time{}, time.Time{}
	return g == w && got.JoinedAt.Equal(ms(want.JoinedAt))
}

func testJoinRoundTrip(t *testing.T, h Harness) {
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	renew(t, h, roomstate.Node{ID: "n2"}, long)
	hostRoom(t, h, "room", "n1")
	t0 := h.Now().Add(-time.Hour).Add(123456 * time.Microsecond)
	want := []roomstate.Participant{
		{ID: "p1", Room: "room", Name: "Zoë Ångström 🎥", Role: "host", Node: "n1", JoinedAt: t0, AudioMuted: true, HandRaised: true},
		{ID: "p2", Room: "room", Name: "Bob\nthe second line", Role: "guest", Node: "n2", JoinedAt: t0.Add(time.Second), VideoMuted: true},
		{ID: "p3", Room: "room", Name: "", Role: "", Node: "n1", JoinedAt: t0.Add(2 * time.Second), AudioMuted: true, VideoMuted: true, HandRaised: true},
	}
	for _, p := range want {
		join(t, h, p)
	}
	got := participants(t, h, "room")
	if len(got) != len(want) {
		t.Fatalf("Participants = %+v", got)
	}
	for i := range want {
		if !sameParticipant(got[i], want[i]) {
			t.Errorf("participant %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if r := room(t, h, "room"); r.Participants != 3 {
		t.Errorf("Room().Participants = %d, want 3", r.Participants)
	}

	// JoinedAt defaults to now.
	before := ms(h.Now())
	join(t, h, roomstate.Participant{ID: "p4", Room: "room", Node: "n2"})
	after := h.Now()
	got = participants(t, h, "room")
	if len(got) != 4 || got[3].ID != "p4" || got[3].JoinedAt.Before(before) || got[3].JoinedAt.After(after) {
		t.Errorf("a Join without JoinedAt: %+v, want p4 last joined within [%v, %v]", got, before, after)
	}
}

func testJoinOrder(t *testing.T, h Harness) {
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	t0 := h.Now()
	// By JoinedAt first (a node re-joining its participants after Redis
	// restarted keeps their place), then by order of first Join.
	join(t, h, roomstate.Participant{ID: "late", Room: "room", Node: "n1", JoinedAt: t0.Add(time.Minute)})
	join(t, h, roomstate.Participant{ID: "tie-1", Room: "room", Node: "n1", JoinedAt: t0})
	join(t, h, roomstate.Participant{ID: "tie-2", Room: "room", Node: "n1", JoinedAt: t0})
	join(t, h, roomstate.Participant{ID: "early", Room: "room", Node: "n1", JoinedAt: t0.Add(-time.Minute)})
	join(t, h, roomstate.Participant{ID: "tie-0", Room: "room", Node: "n1", JoinedAt: t0.Add(-time.Minute)})
	wantParticipants(t, h, "room", "early", "tie-0", "tie-1", "tie-2", "late")
	// Re-joining keeps one's place among ties.
	join(t, h, roomstate.Participant{ID: "tie-1", Room: "room", Node: "n1", JoinedAt: t0, Name: "again"})
	wantParticipants(t, h, "room", "early", "tie-0", "tie-1", "tie-2", "late")
	// Leaving and joining again does not.
	leave(t, h, "room", "tie-1")
	join(t, h, roomstate.Participant{ID: "tie-1", Room: "room", Node: "n1", JoinedAt: t0})
	wantParticipants(t, h, "room", "early", "tie-0", "tie-2", "tie-1", "late")
}

func testJoinReplaces(t *testing.T, h Harness) {
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	renew(t, h, roomstate.Node{ID: "n2"}, long)
	hostRoom(t, h, "room", "n1")
	t0 := ms(h.Now())
	join(t, h, roomstate.Participant{ID: "p", Room: "room", Node: "n1", Name: "Old", JoinedAt: t0, AudioMuted: true})
	// The same person reconnects through another node.
	p := roomstate.Participant{ID: "p", Room: "room", Node: "n2", Name: "New", Role: "guest", JoinedAt: t0}
	join(t, h, p)
	got := participants(t, h, "room")
	if len(got) != 1 || !sameParticipant(got[0], p) {
		t.Errorf("after a second Join: %+v, want only %+v", got, p)
	}
	if r := room(t, h, "room"); r.Participants != 1 {
		t.Errorf("Room().Participants = %d after a replacing Join, want 1", r.Participants)
	}
	// Counted on its new node: n1's end does not take it away.
	if err := h.Store.RemoveNode(context.Background(), "n1"); err != nil {
		t.Fatal(err)
	}
	if r := room(t, h, "room"); r.Participants != 1 {
		t.Errorf("Room().Participants = %d after the old node ended, want 1", r.Participants)
	}
	wantParticipants(t, h, "room", "p")
}

func testUpdate(t *testing.T, h Harness) {
	ctx := context.Background()
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	t0 := ms(h.Now())
	join(t, h, roomstate.Participant{ID: "p", Room: "room", Node: "n1", Name: "Ada", Role: "guest", JoinedAt: t0})
	join(t, h, roomstate.Participant{ID: "q", Room: "room", Node: "n1", Name: "Bob", JoinedAt: t0})

	// Update takes the mutable fields only: not the node, not JoinedAt.
	upd := roomstate.Participant{ID: "p", Room: "room", Node: "elsewhere", Name: "Ada L.", Role: "host",
		JoinedAt: t0.Add(time.Hour), AudioMuted: true, VideoMuted: true, HandRaised: true}
	if err := h.Store.Update(ctx, upd); err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := roomstate.Participant{ID: "p", Room: "room", Node: "n1", Name: "Ada L.", Role: "host",
		JoinedAt: t0, AudioMuted: true, VideoMuted: true, HandRaised: true}
	got := participants(t, h, "room")
	if len(got) != 2 || !sameParticipant(got[0], want) || got[1].Name != "Bob" {
		t.Errorf("after Update: %+v\nwant first %+v", got, want)
	}
	upd.AudioMuted, upd.VideoMuted, upd.HandRaised = false, false, false
	if err := h.Store.Update(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if got := participants(t, h, "room"); got[0].AudioMuted || got[0].VideoMuted || got[0].HandRaised {
		t.Errorf("flags not cleared: %+v", got[0])
	}

	for _, p := range []roomstate.Participant{
		{ID: "nobody", Room: "room", Node: "n1"},
		{ID: "p", Room: "other-room", Node: "n1"},
	} {
		if err := h.Store.Update(ctx, p); !errors.Is(err, roomstate.ErrNotFound) {
			t.Errorf("Update(%q in %q) = %v, want ErrNotFound", p.ID, p.Room, err)
		}
	}
	leave(t, h, "room", "q")
	if err := h.Store.Update(ctx, roomstate.Participant{ID: "q", Room: "room", Node: "n1"}); !errors.Is(err, roomstate.ErrNotFound) {
		t.Errorf("Update after Leave = %v, want ErrNotFound", err)
	}
	if _, err := h.Store.Participants(ctx, "room"); err != nil {
		t.Fatal(err)
	}
}

func testDeadNodeParticipantsVanish(t *testing.T, h Harness) {
	ctx := context.Background()
	renew(t, h, roomstate.Node{ID: "dies"}, h.Lease)
	renew(t, h, roomstate.Node{ID: "stays"}, long)
	hostRoom(t, h, "room", "stays")
	join(t, h, roomstate.Participant{ID: "a", Room: "room", Node: "dies"})
	join(t, h, roomstate.Participant{ID: "b", Room: "room", Node: "stays"})
	join(t, h, roomstate.Participant{ID: "c", Room: "room", Node: "dies"})
	// Participants of a node that never registered are not alive either.
	join(t, h, roomstate.Participant{ID: "d", Room: "room", Node: "never-registered"})
	wantParticipants(t, h, "room", "a", "b", "c")
	if r := room(t, h, "room"); r.Participants != 3 {
		t.Fatalf("Room().Participants = %d, want 3", r.Participants)
	}
	expire(t, h, "the participants of the dead node are still listed", func() bool {
		ps, err := h.Store.Participants(ctx, "room")
		return err == nil && len(ps) == 1 && ps[0].ID == "b"
	})
	if r := room(t, h, "room"); r.Participants != 1 || r.Node != "stays" {
		t.Errorf("Room() = %+v, want 1 participant, host stays", r)
	}
	// The node comes back: it must Join its people again.
	renew(t, h, roomstate.Node{ID: "dies"}, long)
	join(t, h, roomstate.Participant{ID: "a", Room: "room", Node: "dies"})
	if r := room(t, h, "room"); r.Participants < 2 {
		t.Errorf("Room().Participants = %d after the node re-joined a, want at least 2", r.Participants)
	}
}

func testRoomOfDeadParticipantsForgotten(t *testing.T, h Harness) {
	renew(t, h, roomstate.Node{ID: "dies"}, h.Lease)
	renew(t, h, roomstate.Node{ID: "stays"}, long)
	hostRoom(t, h, "room", "dies")
	join(t, h, roomstate.Participant{ID: "a", Room: "room", Node: "dies"})
	join(t, h, roomstate.Participant{ID: "b", Room: "room", Node: "stays"})
	expire(t, h, "the dead node's participant is still listed", func() bool {
		ps, err := h.Store.Participants(context.Background(), "room")
		return err == nil && len(ps) == 1
	})
	// The last live participant leaves: the room is empty, though the
	// dead node's entries may still be kept.
	leave(t, h, "room", "b")
	wantNoRoom(t, h, "room")
	wantParticipants(t, h, "room")
	if r := hostRoom(t, h, "room", "stays"); r.Node != "stays" || r.Participants != 0 {
		t.Errorf("HostRoom of the forgotten room = %+v", r)
	}
	wantParticipants(t, h, "room")
}
