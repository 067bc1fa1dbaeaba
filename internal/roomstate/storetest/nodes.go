package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

var nodeTests = []test{
	{"RenewListRemove", testNodeRenewListRemove},
	{"LeaseRunsOut", testNodeLeaseRunsOut},
}

// renew registers a node with the given lease, failing t on error.
func renew(t *testing.T, h Harness, n roomstate.Node, ttl time.Duration) {
	t.Helper()
	if err := h.Store.RenewNode(context.Background(), n, ttl); err != nil {
		t.Fatalf("RenewNode(%q): %v", n.ID, err)
	}
}

func nodes(t *testing.T, h Harness) []roomstate.Node {
	t.Helper()
	ns, err := h.Store.Nodes(context.Background())
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	return ns
}

func nodeIDs(ns []roomstate.Node) []string {
	ids := []string{}
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	return ids
}

func testNodeRenewListRemove(t *testing.T, h Harness) {
	ctx := context.Background()
	if ns := nodes(t, h); len(ns) != 0 {
		t.Fatalf("a fresh store lists nodes %v", nodeIDs(ns))
	}
	before := h.Now()
	renew(t, h, roomstate.Node{ID: "node-b", MediaAddr: "192.0.2.2:7882", Load: 3}, long)
	renew(t, h, roomstate.Node{ID: "node-a", MediaAddr: "[2001:db8::1]:7882", LeaseUntil: before.Add(-time.Hour)}, long)
	after := h.Now()

	ns := nodes(t, h)
	if got := nodeIDs(ns); !slices.Equal(got, []string{"node-a", "node-b"}) {
		t.Fatalf("Nodes = %v, want [node-a node-b] (sorted by ID)", got)
	}
	a, b := ns[0], ns[1]
	if a.MediaAddr != "[2001:db8::1]:7882" || a.Load != 0 || a.Draining {
		t.Errorf("node-a = %+v", a)
	}
	if b.MediaAddr != "192.0.2.2:7882" || b.Load != 3 || b.Draining {
		t.Errorf("node-b = %+v", b)
	}
	// The lease follows the ttl, not the LeaseUntil passed in; a real
	// clock is allowed a second of slack each way.
	lo, hi := before.Add(long-time.Second), after.Add(long+time.Second)
	if a.LeaseUntil.Before(lo) || a.LeaseUntil.After(hi) {
		t.Errorf("LeaseUntil = %v, want within [%v, %v]", a.LeaseUntil, lo, hi)
	}

	renew(t, h, roomstate.Node{ID: "node-b", MediaAddr: "192.0.2.3:7882", Load: 12, Draining: true}, long)
	ns = nodes(t, h)
	if len(ns) != 2 || ns[1].MediaAddr != "192.0.2.3:7882" || ns[1].Load != 12 || !ns[1].Draining {
		t.Errorf("after renewing node-b with new fields: %+v", ns)
	}

	if err := h.Store.RemoveNode(ctx, "node-a"); err != nil {
		t.Fatalf("RemoveNode: %v", err)
	}
	if got := nodeIDs(nodes(t, h)); !slices.Equal(got, []string{"node-b"}) {
		t.Errorf("after RemoveNode(node-a): %v", got)
	}
	if err := h.Store.RemoveNode(ctx, "node-a"); err != nil {
		t.Errorf("RemoveNode of a removed node: %v", err)
	}
	if err := h.Store.RemoveNode(ctx, "never-seen"); err != nil {
		t.Errorf("RemoveNode of an unknown node: %v", err)
	}
}

func testNodeLeaseRunsOut(t *testing.T, h Harness) {
	renew(t, h, roomstate.Node{ID: "stays"}, long)
	renew(t, h, roomstate.Node{ID: "dies"}, h.Lease)
	if got := nodeIDs(nodes(t, h)); !slices.Equal(got, []string{"dies", "stays"}) {
		t.Fatalf("Nodes = %v, want [dies stays]", got)
	}
	expire(t, h, "the node whose lease ran out is still listed", func() bool {
		return slices.Equal(nodeIDs(nodes(t, h)), []string{"stays"})
	})
	// Renewing after the lease ran out starts a new life.
	renew(t, h, roomstate.Node{ID: "dies", Load: 1}, long)
	if got := nodeIDs(nodes(t, h)); !slices.Equal(got, []string{"dies", "stays"}) {
		t.Errorf("after renewing the dead node: %v", got)
	}
}
