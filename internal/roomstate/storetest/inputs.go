package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

var inputTests = []test{
	{"ContextCanceled", testContextCanceled},
	{"InvalidArguments", testInvalidArguments},
	{"LimitsAreInclusive", testLimitsAreInclusive},
	{"IDsWithBracesAndColons", testIDsWithBracesAndColons},
}

// call is one method of a Store or Bus with arguments that are valid.
type call struct {
	name string
	do   func(ctx context.Context, h Harness) error
}

var validCalls = []call{
	{"RenewNode", func(ctx context.Context, h Harness) error {
		return h.Store.RenewNode(ctx, roomstate.Node{ID: "n1"}, long)
	}},
	{"RemoveNode", func(ctx context.Context, h Harness) error { return h.Store.RemoveNode(ctx, "n1") }},
	{"Nodes", func(ctx context.Context, h Harness) error { _, err := h.Store.Nodes(ctx); return err }},
	{"HostRoom", func(ctx context.Context, h Harness) error { _, err := h.Store.HostRoom(ctx, "r", "n1"); return err }},
	{"Room", func(ctx context.Context, h Harness) error { _, err := h.Store.Room(ctx, "r"); return err }},
	{"SetRoomPolicy", func(ctx context.Context, h Harness) error { return h.Store.SetRoomPolicy(ctx, "r", true, true) }},
	{"Join", func(ctx context.Context, h Harness) error {
		return h.Store.Join(ctx, roomstate.Participant{ID: "p", Room: "r", Node: "n1"})
	}},
	{"Update", func(ctx context.Context, h Harness) error {
		return h.Store.Update(ctx, roomstate.Participant{ID: "p", Room: "r", Node: "n1"})
	}},
	{"Leave", func(ctx context.Context, h Harness) error { return h.Store.Leave(ctx, "r", "p") }},
	{"Participants", func(ctx context.Context, h Harness) error { _, err := h.Store.Participants(ctx, "r"); return err }},
	{"Publish", func(ctx context.Context, h Harness) error { return h.Bus.Publish(ctx, "t", []byte("m")) }},
	{"Subscribe", func(ctx context.Context, h Harness) error {
		s, err := h.Bus.Subscribe(ctx, "t")
		if err == nil {
			s.Close()
		}
		return err
	}},
}

func testContextCanceled(t *testing.T, h Harness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range validCalls {
		err := c.do(ctx, h)
		if !errors.Is(err, context.Canceled) || errors.Is(err, roomstate.ErrUnavailable) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled (not ErrUnavailable)", c.name, err)
		}
	}
	// A context that ends later ends the calls of Store the same way:
	// the state is untouched by the calls refused above.
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	if ns := nodes(t, h); len(ns) != 1 {
		t.Errorf("Nodes = %+v", ns)
	}
	wantNoRoom(t, h, "r")
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	if _, err := h.Store.Participants(dctx, "r"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Participants after the deadline = %v, want context.DeadlineExceeded", err)
	}
}

func testInvalidArguments(t *testing.T, h Harness) {
	ctx := context.Background()
	tooLong := strings.Repeat("x", roomstate.MaxIDBytes+1)
	p := func(f func(*roomstate.Participant)) roomstate.Participant {
		p := roomstate.Participant{ID: "p", Room: "r", Node: "n1", Name: "Ada", Role: "guest"}
		f(&p)
		return p
	}
	cases := []struct {
		name string
		do   func() error
	}{
		{"RenewNode empty ID", func() error { return h.Store.RenewNode(ctx, roomstate.Node{}, time.Minute) }},
		{"RenewNode long ID", func() error { return h.Store.RenewNode(ctx, roomstate.Node{ID: tooLong}, time.Minute) }},
		{"RenewNode ID with a line feed", func() error { return h.Store.RenewNode(ctx, roomstate.Node{ID: "a\nb"}, time.Minute) }},
		{"RenewNode zero lease", func() error { return h.Store.RenewNode(ctx, roomstate.Node{ID: "n"}, 0) }},
		{"RenewNode negative lease", func() error { return h.Store.RenewNode(ctx, roomstate.Node{ID: "n"}, -time.Second) }},
		{"RenewNode negative load", func() error { return h.Store.RenewNode(ctx, roomstate.Node{ID: "n", Load: -1}, time.Minute) }},
		{"RenewNode long media address", func() error {
			return h.Store.RenewNode(ctx, roomstate.Node{ID: "n", MediaAddr: strings.Repeat("1", roomstate.MaxMediaAddrBytes+1)}, time.Minute)
		}},
		{"RemoveNode empty ID", func() error { return h.Store.RemoveNode(ctx, "") }},
		{"HostRoom empty room", func() error { _, err := h.Store.HostRoom(ctx, "", "n1"); return err }},
		{"HostRoom empty candidate", func() error { _, err := h.Store.HostRoom(ctx, "r", ""); return err }},
		{"HostRoom long room", func() error { _, err := h.Store.HostRoom(ctx, tooLong, "n1"); return err }},
		{"Room empty ID", func() error { _, err := h.Store.Room(ctx, ""); return err }},
		{"Room invalid UTF-8", func() error { _, err := h.Store.Room(ctx, "r\xff"); return err }},
		{"SetRoomPolicy empty room", func() error { return h.Store.SetRoomPolicy(ctx, "", true, true) }},
		{"Join empty ID", func() error { return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.ID = "" })) }},
		{"Join empty room", func() error { return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.Room = "" })) }},
		{"Join empty node", func() error { return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.Node = "" })) }},
		{"Join long name", func() error {
			return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.Name = strings.Repeat("é", roomstate.MaxNameBytes/2+1) }))
		}},
		{"Join huge name", func() error {
			return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.Name = strings.Repeat("x", 10<<20) }))
		}},
		{"Join name not UTF-8", func() error { return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.Name = "Ada\xc3" })) }},
		{"Join long role", func() error {
			return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.Role = strings.Repeat("r", roomstate.MaxRoleBytes+1) }))
		}},
		{"Join role with a line feed", func() error { return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.Role = "host\nguest" })) }},
		{"Join ID with a NUL", func() error { return h.Store.Join(ctx, p(func(p *roomstate.Participant) { p.ID = "p\x00" })) }},
		{"Update long name", func() error {
			return h.Store.Update(ctx, p(func(p *roomstate.Participant) { p.Name = strings.Repeat("x", roomstate.MaxNameBytes+1) }))
		}},
		{"Leave empty room", func() error { return h.Store.Leave(ctx, "", "p") }},
		{"Leave empty ID", func() error { return h.Store.Leave(ctx, "r", "") }},
		{"Participants empty room", func() error { _, err := h.Store.Participants(ctx, ""); return err }},
		{"Publish empty topic", func() error { return h.Bus.Publish(ctx, "", []byte("m")) }},
		{"Publish long topic", func() error { return h.Bus.Publish(ctx, tooLong, []byte("m")) }},
		{"Publish huge message", func() error { return h.Bus.Publish(ctx, "t", make([]byte, roomstate.MaxMessageBytes+1)) }},
		{"Subscribe empty topic", func() error { _, err := h.Bus.Subscribe(ctx, ""); return err }},
		{"Subscribe topic with a tab", func() error { _, err := h.Bus.Subscribe(ctx, "a\tb"); return err }},
	}
	for _, c := range cases {
		if err := c.do(); !errors.Is(err, roomstate.ErrInvalid) {
			t.Errorf("%s = %v, want ErrInvalid", c.name, err)
		}
	}
	// Nothing was stored.
	if ns := nodes(t, h); len(ns) != 0 {
		t.Errorf("invalid calls left nodes %+v", ns)
	}
	renew(t, h, roomstate.Node{ID: "n1"}, long)
	wantParticipants(t, h, "r")
}

func testLimitsAreInclusive(t *testing.T, h Harness) {
	id := func(c string) string { return strings.Repeat(c, roomstate.MaxIDBytes) }
	node := id("n")
	renew(t, h, roomstate.Node{ID: node, MediaAddr: strings.Repeat("1", roomstate.MaxMediaAddrBytes)}, long)
	p := roomstate.Participant{
		ID: id("p"), Room: id("r"), Node: node, JoinedAt: h.Now(),
		Name: strings.Repeat("é", roomstate.MaxNameBytes/2),
		Role: strings.Repeat("r", roomstate.MaxRoleBytes),
	}
	if r := hostRoom(t, h, p.Room, node); r.Node != node {
		t.Errorf("HostRoom = %+v", r)
	}
	join(t, h, p)
	got := participants(t, h, p.Room)
	if len(got) != 1 || !sameParticipant(got[0], p) {
		t.Errorf("participant at every limit did not round-trip: %+v", got)
	}
	s := subscribe(t, h, id("t"))
	msg := make([]byte, roomstate.MaxMessageBytes)
	msg[0], msg[len(msg)-1] = 'a', 'z'
	if err := h.Bus.Publish(context.Background(), id("t"), msg); err != nil {
		t.Fatal(err)
	}
	if got := receiveBytes(t, s); len(got) != len(msg) || got[0] != 'a' || got[len(got)-1] != 'z' {
		t.Errorf("the largest message arrived as %d bytes", len(got))
	}
}

// testIDsWithBracesAndColons: IDs hold what key layouts use as
// separators and hash tags; no two rooms may meet, nor a room and the
// nodes.
func testIDsWithBracesAndColons(t *testing.T, h Harness) {
	nodesIDs := []string{"{nodes}", "n:1", "{n}:lease", "%7B"}
	for _, n := range nodesIDs {
		renew(t, h, roomstate.Node{ID: n, MediaAddr: n}, long)
	}
	rooms := []string{"a", "a}", "{a}", "{a", "a:b", "a:meta", "{room:a}:meta", "%7Ba%7D", "}{", "{}", "nodes", "{nodes}", ":", "salon:{room:x}:p"}
	for i, r := range rooms {
		node := nodesIDs[i%len(nodesIDs)]
		if got := hostRoom(t, h, r, node); got.Node != node || got.ID != r {
			t.Errorf("HostRoom(%q) = %+v", r, got)
		}
		join(t, h, roomstate.Participant{ID: "p:{" + r + "}", Room: r, Node: node, Name: "in " + r})
	}
	for i, r := range rooms {
		got := participants(t, h, r)
		if len(got) != 1 || got[0].ID != "p:{"+r+"}" || got[0].Name != "in "+r || got[0].Room != r {
			t.Errorf("Participants(%q) = %+v", r, got)
		}
		if rm := room(t, h, r); rm.Participants != 1 || rm.Node != nodesIDs[i%len(nodesIDs)] {
			t.Errorf("Room(%q) = %+v", r, rm)
		}
	}
	ns := nodes(t, h)
	if len(ns) != len(nodesIDs) {
		t.Errorf("Nodes = %+v", ns)
	}
	for _, n := range ns {
		if n.MediaAddr != n.ID {
			t.Errorf("node %q has media address %q", n.ID, n.MediaAddr)
		}
	}
	for _, r := range rooms {
		leave(t, h, r, "p:{"+r+"}")
		wantNoRoom(t, h, r)
	}
	// Topics alike.
	subs := map[string]roomstate.Subscription{}
	for _, topic := range rooms {
		subs[topic] = subscribe(t, h, topic)
	}
	for _, topic := range rooms {
		publish(t, h, topic, fmt.Sprintf("to %s", topic))
	}
	for _, topic := range rooms {
		if got := receive(t, subs[topic]); got != "to "+topic {
			t.Errorf("topic %q got %q", topic, got)
		}
	}
}
