package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestSecurityHeadersWrapAnyHandler(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"empty":     func(http.ResponseWriter, *http.Request) {},
		"error":     func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", 500) },
		"overrides": func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-Frame-Options", "DENY") },
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			SecurityHeaders(SecurityHeaders(h)).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			assertSecurityHeaders(t, rec.Header())
			for _, kv := range securityHeaders {
				if n := len(rec.Header().Values(kv[0])); n != 1 {
					t.Errorf("%s set %d times", kv[0], n)
				}
			}
		})
	}
}

// logLines decodes the JSON log lines in buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestAccessLogHidesRSVPTokens: an RSVP token is a credential; access
// logs must not collect them.
func TestAccessLogHidesRSVPTokens(t *testing.T) {
	var buf bytes.Buffer
	h := AccessLog(slog.New(slog.NewJSONHandler(&buf, nil)), http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/rsvp/eyJzZWNyZXQi.c2lnbmF0dXJl", nil))
	if strings.Contains(buf.String(), "eyJzZWNyZXQi") || !strings.Contains(buf.String(), "/rsvp/") {
		t.Errorf("access log line: %s", buf.String())
	}
}

func TestAccessLog(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  float64
		bytes   float64
		level   string
	}{
		{"implicit 200", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hello")) }, 200, 5, "INFO"},
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, 200, 0, "INFO"},
		{"explicit status", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("short"))
			w.Write([]byte(" and stout"))
		}, 418, 15, "INFO"},
		{"informational first", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, 201, 0, "INFO"},
		{"server error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 503) }, 503, 5, "WARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := AccessLog(slog.New(slog.NewJSONHandler(&buf, nil)), tt.handler)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/x?name=Secret", nil))
			lines := logLines(t, &buf)
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1", len(lines))
			}
			l := lines[0]
			if l["method"] != "POST" || l["path"] != "/api/v1/x" || l["status"] != tt.status ||
				l["bytes"] != tt.bytes || l["level"] != tt.level {
				t.Errorf("log line = %v, want status %v bytes %v level %s", l, tt.status, tt.bytes, tt.level)
			}
			if _, ok := l["duration"]; !ok {
				t.Error("no duration")
			}
			if strings.Contains(buf.String(), "Secret") {
				t.Error("the query string reached the log")
			}
		})
	}
}

// lockedBuffer is a log sink that handler goroutines and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// snapshot copies what was written so far.
func (b *lockedBuffer) snapshot() *bytes.Buffer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.NewBuffer(bytes.Clone(b.buf.Bytes()))
}

func TestAccessLogKeepsWebSocketsAndFlushing(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	upgrader := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		typ, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		c.WriteMessage(typ, msg)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("part"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			http.Error(w, err.Error(), 500)
		}
		w.(http.Flusher).Flush()
	})
	srv := httptest.NewServer(AccessLog(logger, SecurityHeaders(mux)))
	defer srv.Close()

	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket upgrade through AccessLog: %v", err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != `{"type":"ping"}` {
		t.Fatalf("echo = %q, %v", msg, err)
	}
	conn.Close()

	res, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("flushing through AccessLog: status %d", res.StatusCode)
	}

	// srv.Close waits for ordinary handlers but not for hijacked ones,
	// so the WebSocket's line may come a moment later.
	srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var sawUpgrade, sawStream bool
		for _, l := range logLines(t, buf.snapshot()) {
			switch l["path"] {
			case "/ws":
				sawUpgrade = l["status"] == float64(http.StatusSwitchingProtocols)
			case "/stream":
				sawStream = true
			}
		}
		if sawUpgrade && sawStream {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line with status 101 for the upgrade (or none for the stream):\n%s", buf.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
