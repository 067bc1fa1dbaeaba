package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestReconnectKeepsIdentity cuts Bob's connection to salon under his page:
// the page reconnects by itself, keeps Bob's identity, and Alice never sees
// Bob leave or join again.
func TestReconnectKeepsIdentity(t *testing.T) {
	srv := startSalon(t)
	browser := newBrowser(t)
	proxy := startProxy(t, strings.TrimPrefix(srv.base, "http://"))
	slugPath := srv.demo[strings.Index(srv.demo, "/m/"):]

	alice := join(t, browser, srv.base+slugPath, "Alice")
	bob := join(t, browser, "http://"+proxy.addr()+slugPath, "Bob")
	alice.waitMediaFrom(bob)
	bob.waitMediaFrom(alice)

	// Alice's page records any leave or join of Bob from now on.
	alice.evalString(`(() => {
		window.__flicker = [];
		for (const ev of ["participant-left", "participant-joined"]) {
			window.salon.connection.addEventListener(ev, (e) => {
				const id = e.detail && (e.detail.id || (e.detail.participant && e.detail.participant.id));
				window.__flicker.push(ev + ":" + id);
			});
		}
		return "ok";
	})()`)

	proxy.cut(2 * time.Second)
	bob.waitTrue(20*time.Second, "the page to notice", `window.salon.state() === "reconnecting"`)
	bob.screenshot(artifactsDir(t), "reconnecting")
	bob.waitTrue(30*time.Second, "the page to reconnect", `window.salon.state() === "connected"`)
	if id := bob.evalString(`window.salon.self()`); id != bob.id {
		t.Fatalf("Bob came back as %s, was %s", id, bob.id)
	}
	// Media flows again both ways after the ICE restarts.
	alice.waitMediaFrom(bob)
	bob.waitMediaFrom(alice)
	if f := alice.evalString(`JSON.stringify(window.__flicker)`); f != "[]" {
		t.Fatalf("Alice saw Bob leave or join during his reconnection: %s", f)
	}
	alice.waitTrue(5*time.Second, "Bob's tile", tileSel(bob.id))
	if !strings.Contains(srv.logs.String(), "participant resumed") {
		t.Fatal("salon did not log a resume")
	}
}
