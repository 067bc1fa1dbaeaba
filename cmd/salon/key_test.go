package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/testpg"
)

// TestNodesShareSigningKey runs two salon nodes with their own --data
// directories on one PostgreSQL database, as behind a load balancer. Each
// data directory holds a different legacy signing.key, as after upgrading
// two single-node installations; the first node to start adopts its file
// into the database. A join token issued by either node must then verify
// with that one key, which the second node can only have got from the
// database.
func TestNodesShareSigningKey(t *testing.T) {
	dsn := testpg.Start(t)
	dataA, dataB := t.TempDir(), t.TempDir()
	keyA, keyB := make([]byte, auth.KeySize), make([]byte, auth.KeySize)
	rand.Read(keyA)
	rand.Read(keyB)
	for dir, key := range map[string][]byte{dataA: keyA, dataB: keyB} {
		if err := os.WriteFile(filepath.Join(dir, "signing.key"), key, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// B starts while A runs, the way a second node joins a running one.
	baseA, slug := startNode(t, dsn, dataA)
	baseB, slugB := startNode(t, dsn, dataB)
	if slugB != slug {
		t.Fatalf("the nodes show different demo meetings, %s and %s: are they on one database?", slug, slugB)
	}

	shared, other := auth.NewTokens(keyA), auth.NewTokens(keyB)
	for node, base := range map[string]string{"A": baseA, "B": baseB} {
		token := joinToken(t, base, slug)
		if _, err := shared.VerifyJoin(token, time.Now()); err != nil {
			t.Errorf("node %s signed a join token the shared key does not verify: %v", node, err)
		}
		if _, err := other.VerifyJoin(token, time.Now()); err == nil {
			t.Errorf("node %s signed with node B's own key file, not the key in the database", node)
		}
	}
}

// startNode runs salon serve in-process on data and the database dsn until
// the test ends, and returns its base URL and the demo meeting's slug.
func startNode(t *testing.T, dsn, data string) (base, slug string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	errc := make(chan error, 1)
	args := []string{"serve", "--db", dsn, "--data", data, "--listen", "127.0.0.1:0",
		"--rtc-listen-ip", "127.0.0.1", "--rtc-udp-port", fmt.Sprint(freeUDP(t)), "--rtc-loopback"}
	go func() { errc <- run(ctx, args, env(nil), nil, &out, &logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("node on %s stopped with %v", data, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("node on %s did not stop within 20 s", data)
		}
	})

	re := regexp.MustCompile(`(http://\S+)/m/([a-z0-9-]+)`)
	deadline := time.Now().Add(20 * time.Second)
	for !re.MatchString(out.String()) {
		select {
		case err := <-errc:
			t.Fatalf("node on %s exited early: %v\n%s", data, err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node on %s printed no demo link:\n%s", data, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := re.FindStringSubmatch(out.String())
	return m[1], m[2]
}

// joinToken asks the node at base for a join token to meeting slug, as the
// meeting page does.
func joinToken(t *testing.T, base, slug string) string {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/meetings/"+slug+"/join", "application/json", strings.NewReader(`{"name":"Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST join at %s = %d: %s", base, resp.StatusCode, body.String())
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body.Bytes(), &r); err != nil || r.Token == "" {
		t.Fatalf("join at %s answered %s (%v), want a token", base, body.String(), err)
	}
	return r.Token
}
