package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/sfu"
)

type testEnv struct {
	t      testing.TB
	srv    *Server
	http   *httptest.Server
	tokens *auth.Tokens
}

func newEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	return newEnvWith(t, cfg, nil)
}

// newEnvWith is newEnv with Options edited by edit.
func newEnvWith(t testing.TB, cfg Config, edit func(*Options)) *testEnv {
	t.Helper()
	logw := newTestLogWriter(t)
	media, err := sfu.New(sfu.Config{ListenIP: "127.0.0.1", IncludeLoopback: true}, sfu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = media.Close() })
	tokens := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	opts := Options{SFU: media, Tokens: tokens, Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if edit != nil {
		edit(&opts)
	}
	srv := New(cfg, opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testEnv{t: t, srv: srv, http: hs, tokens: tokens}
}

func (e *testEnv) token(room, name string, ttl time.Duration) string {
	tok, err := e.tokens.SignJoin(auth.JoinClaims{Room: room, Name: name, Expires: time.Now().Add(ttl)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// wsClient is a test participant speaking the protocol by hand.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn
	msgs chan map[string]any
	err  chan error
}

func (e *testEnv) dial() *wsClient {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	c := &wsClient{t: e.t, conn: conn, msgs: make(chan map[string]any, 256), err: make(chan error, 1)}
	e.t.Cleanup(func() { _ = conn.Close() })
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				c.err <- err
				close(c.msgs)
				return
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				c.t.Errorf("server sent invalid JSON: %s", data)
				continue
			}
			c.msgs <- m
		}
	}()
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *wsClient) sendRaw(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// expect waits for the next message of the given type, skipping others
// (offers and candidates arrive at their own pace).
func (c *wsClient) expect(typ string) map[string]any {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("socket closed while waiting for %q: %v", typ, <-c.err)
			}
			if m["type"] == typ {
				return m
			}
		case <-deadline:
			c.t.Fatalf("no %q message within 10 s", typ)
		}
	}
}

// expectClosed waits for the server to close the socket and returns the
// close code.
func (c *wsClient) expectClosed() int {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-c.msgs:
			if !ok {
				err := <-c.err
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return ce.Code
				}
				return -1
			}
		case <-deadline:
			c.t.Fatal("socket still open after 10 s")
		}
	}
}

func (e *testEnv) join(room, name string) (*wsClient, map[string]any) {
	e.t.Helper()
	c := e.dial()
	c.send(map[string]any{"type": "join", "v": 1, "token": e.token(room, name, time.Minute)})
	return c, c.expect("joined")
}

func TestJoinAndPresence(t *testing.T) {
	e := newEnv(t, Config{})
	a, aj := e.join("room1", "Ada")
	if aj["protocol"].(float64) != 1 || len(aj["participants"].([]any)) != 0 {
		t.Fatalf("first joined = %v", aj)
	}
	b, bj := e.join("room1", "Bob")
	others := bj["participants"].([]any)
	if len(others) != 1 || others[0].(map[string]any)["name"] != "Ada" {
		t.Fatalf("Bob sees %v, want Ada", others)
	}
	pj := a.expect("participant-joined")
	bobID := pj["participant"].(map[string]any)["id"]
	if pj["participant"].(map[string]any)["name"] != "Bob" {
		t.Fatalf("participant-joined = %v", pj)
	}
	// A participant in another room is not seen.
	e.join("room2", "Eve")

	b.send(map[string]any{"type": "update", "audioMuted": true})
	up := a.expect("participant-updated")["participant"].(map[string]any)
	if up["id"] != bobID || up["audioMuted"] != true {
		t.Fatalf("participant-updated = %v", up)
	}
	b.send(map[string]any{"type": "leave"})
	if b.expect("bye")["reason"] != "left" {
		t.Fatal("leave not acknowledged with bye")
	}
	left := a.expect("participant-left")
	if left["id"] != bobID || left["reason"] != "left" {
		t.Fatalf("participant-left = %v", left)
	}
	a.send(map[string]any{"type": "ping", "id": 7})
	if a.expect("pong")["id"].(float64) != 7 {
		t.Fatal("pong does not echo id")
	}
}

func TestRefusedTokens(t *testing.T) {
	e := newEnv(t, Config{})
	other := auth.NewTokens([]byte("ffffffffffffffffffffffffffffffff"))
	forged, _ := other.SignJoin(auth.JoinClaims{Room: "r", Name: "Mallory", Expires: time.Now().Add(time.Minute)})
	tamper := e.token("r", "Ada", time.Minute)
	tamper = tamper[:5] + string('A'+(tamper[5]-'A'+1)%26) + tamper[6:]
	for _, tc := range []struct {
		name, token, code string
	}{
		{"forged", forged, "bad-token"},
		{"tampered", tamper, "bad-token"},
		{"garbage", "not-a-token", "bad-token"},
		{"empty", "", "bad-token"},
		{"expired", e.token("r", "Ada", -time.Second), "token-expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial()
			c.send(map[string]any{"type": "join", "v": 1, "token": tc.token})
			m := c.expect("error")
			if m["code"] != tc.code || m["fatal"] != true {
				t.Fatalf("error = %v, want fatal %s", m, tc.code)
			}
			if code := c.expectClosed(); code != 4001 {
				t.Fatalf("close code = %d, want 4001", code)
			}
		})
	}
	if n := e.srv.Participants("r"); n != 0 {
		t.Fatalf("%d participants after refused joins", n)
	}
}

func TestTokenIsSingleUse(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.token("r", "Ada", time.Minute)
	a := e.dial()
	a.send(map[string]any{"type": "join", "token": tok})
	a.expect("joined")
	b := e.dial()
	b.send(map[string]any{"type": "join", "token": tok})
	if m := b.expect("error"); m["code"] != "bad-token" {
		t.Fatalf("replayed token: %v", m)
	}
}

func TestBadInputKeepsServerHealthy(t *testing.T) {
	// Twelve refusals below are answered; the thirteenth closes the socket.
	e := newEnv(t, Config{MaxStrikes: 13})
	bystander, _ := e.join("r", "Bystander")

	c := e.dial()
	c.send(map[string]any{"type": "offer", "pc": "publish", "sdp": "x"})
	if m := c.expect("error"); m["code"] != "not-joined" {
		t.Fatalf("before join: %v", m)
	}
	c.send(map[string]any{"type": "join", "token": e.token("r", "Mallory", time.Minute)})
	c.expect("joined")
	c.send(map[string]any{"type": "join", "token": e.token("r", "Mallory", time.Minute)})
	if m := c.expect("error"); m["code"] != "already-joined" {
		t.Fatalf("second join: %v", m)
	}
	for _, tc := range []struct{ raw, code string }{
		{`{"type":`, "bad-message"},
		{`[1,2,3]`, "bad-message"},
		{`{"type":"offer","pc":"publish","sdp":42}`, "bad-message"},
		{`{"type":"frobnicate"}`, "unknown-type"},
		{`{"type":"offer","pc":"subscribe","sdp":"v=0"}`, "bad-message"},
		{`{"type":"offer","pc":"publish","sdp":"garbage","sources":{}}`, "bad-sdp"},
		{`{"type":"answer","pc":"subscribe","sdp":"garbage"}`, "bad-sdp"},
		{`{"type":"candidate","pc":"sideways","candidate":null}`, "bad-message"},
		{`{"type":"update","name":"` + strings.Repeat("x", 65) + `"}`, "bad-message"},
		{`{"type":"offer","pc":"publish","sdp":"v=0` + strings.Repeat(`\nm=video 9 UDP/TLS/RTP/SAVPF 96`, 17) + `","sources":{}}`, "bad-sdp"},
	} {
		c.sendRaw(tc.raw)
		if m := c.expect("error"); m["code"] != tc.code {
			t.Errorf("%s: error %v, want %s", tc.raw, m, tc.code)
		}
	}
	// The bystander is unaffected and the server still answers.
	bystander.send(map[string]any{"type": "ping"})
	bystander.expect("pong")
	// Persistent abuse closes the socket.
	c.sendRaw(`nonsense`)
	if code := c.expectClosed(); code != websocket.ClosePolicyViolation {
		t.Fatalf("close code after abuse = %d, want 1008", code)
	}
	bystander.send(map[string]any{"type": "ping"})
	bystander.expect("pong")
}

func TestOversizedMessageClosesSocket(t *testing.T) {
	e := newEnv(t, Config{MaxMessageSize: 64 << 10})
	bystander, _ := e.join("r", "Bystander")
	c, _ := e.join("r", "Big")
	// The server may reset the connection while the message is still being
	// written, so the write error is expected.
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"update","name":"`+strings.Repeat("a", 100<<10)+`"}`))
	if code := c.expectClosed(); code != websocket.CloseMessageTooBig && code != -1 {
		t.Fatalf("close code = %d, want 1009", code)
	}
	if left := bystander.expect("participant-left"); left["reason"] != "closed" {
		t.Fatalf("oversized sender removed with %v", left)
	}
	bystander.send(map[string]any{"type": "ping"})
	bystander.expect("pong")
}

func TestOfferFloodIsRateLimited(t *testing.T) {
	e := newEnv(t, Config{})
	bystander, _ := e.join("r", "Bystander")
	c, _ := e.join("r", "Flood")
	for i := 0; i < 200; i++ {
		if err := c.conn.WriteJSON(map[string]any{"type": "offer", "pc": "publish", "sdp": "v=0", "sources": map[string]string{}}); err != nil {
			break // the server closed the socket
		}
	}
	limited := false
	for m := range c.msgs {
		if m["type"] == "error" && m["code"] == "rate-limited" {
			limited = true
		}
	}
	if !limited {
		t.Error("no rate-limited error during an offer flood")
	}
	if left := bystander.expect("participant-left"); left["reason"] != "closed" {
		t.Errorf("flooder removed with %v, want reason closed", left)
	}
	bystander.send(map[string]any{"type": "ping"})
	bystander.expect("pong")
}

func TestReconnectKeepsIdentity(t *testing.T) {
	e := newEnv(t, Config{ReconnectGrace: 5 * time.Second})
	a, _ := e.join("r", "Ada")
	b, bj := e.join("r", "Bob")
	a.expect("participant-joined")
	ref := bj["resume"].(map[string]any)
	bobID := ref["participant"]

	// Drop Bob's connection without a close frame.
	_ = b.conn.UnderlyingConn().Close()
	up := a.expect("participant-updated")["participant"].(map[string]any)
	if up["id"] != bobID || up["connected"] != false {
		t.Fatalf("after drop: %v", up)
	}
	b2 := e.dial()
	b2.send(map[string]any{"type": "join", "v": 1, "resume": ref})
	j := b2.expect("joined")
	if j["resumed"] != true || j["self"].(map[string]any)["id"] != bobID {
		t.Fatalf("resume joined = %v", j)
	}
	up = a.expect("participant-updated")["participant"].(map[string]any)
	if up["id"] != bobID || up["connected"] != true {
		t.Fatalf("after resume: %v", up)
	}
	if n := e.srv.Participants("r"); n != 2 {
		t.Fatalf("participants = %d, want 2", n)
	}
	// A wrong secret does not take Bob's place.
	m := e.dial()
	m.send(map[string]any{"type": "join", "resume": map[string]any{"participant": bobID, "secret": "guess"}})
	if e := m.expect("error"); e["code"] != "resume-failed" {
		t.Fatalf("wrong secret: %v", e)
	}
}

func TestReconnectGraceExpires(t *testing.T) {
	e := newEnv(t, Config{ReconnectGrace: 300 * time.Millisecond})
	a, _ := e.join("r", "Ada")
	b, bj := e.join("r", "Bob")
	a.expect("participant-joined")
	_ = b.conn.UnderlyingConn().Close()
	left := a.expect("participant-left")
	if left["reason"] != "timeout" {
		t.Fatalf("participant-left = %v, want reason timeout", left)
	}
	b2 := e.dial()
	b2.send(map[string]any{"type": "join", "resume": bj["resume"]})
	if m := b2.expect("error"); m["code"] != "resume-failed" || m["fatal"] != true {
		t.Fatalf("late resume: %v", m)
	}
}

func TestShutdownTellsClients(t *testing.T) {
	e := newEnv(t, Config{})
	a, _ := e.join("r", "Ada")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- e.srv.Shutdown(ctx) }()
	if m := a.expect("bye"); m["reason"] != "server-shutdown" {
		t.Fatalf("bye = %v", m)
	}
	if code := a.expectClosed(); code != websocket.CloseGoingAway {
		t.Fatalf("close code = %d, want 1001", code)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	resp, err := http.Get(e.http.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after shutdown /ws answers %d", resp.StatusCode)
	}
}

func TestCrossSiteOriginRefused(t *testing.T) {
	e := newEnv(t, Config{})
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/ws"
	h := http.Header{"Origin": {"https://evil.example"}}
	if _, resp, err := websocket.DefaultDialer.Dial(url, h); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site upgrade: err=%v", err)
	}
}

// testLogWriter sends the server's log lines to the test's log, and drops
// the ones that come after the test ended.
type testLogWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func newTestLogWriter(t testing.TB) *testLogWriter {
	w := &testLogWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return w
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}
