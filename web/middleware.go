package web

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// contentSecurityPolicy allows only salon's own scripts, styles and
// connections (plus WebSockets and the media the room page makes), and no
// framing: no inline script can run even if a name slips into the page.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders are set on every response.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", contentSecurityPolicy},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
	{"Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
}

// SecurityHeaders sets salon's security headers (content security policy,
// framing, referrer, sniffing, permissions) on every response of h. It is
// idempotent: wrapping twice sets the same values.
func SecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		for _, kv := range securityHeaders {
			hdr.Set(kv[0], kv[1])
		}
		h.ServeHTTP(w, r)
	})
}

// AccessLog logs one line per request handled by h: method, path (without
// the query, which may hold a name), status, duration and bytes written.
// Hijacked connections (WebSocket upgrades) are logged when the handler
// returns, with status 101.
func AccessLog(logger *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			status := rec.status
			if status == 0 {
				// Nothing written, or the handler panicked (net/http then
				// aborts the connection); an empty 200 is the former.
				status = http.StatusOK
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelWarn
			}
			logger.LogAttrs(r.Context(), level, "http request",
				slog.String("method", r.Method),
				slog.String("path", redactPath(r.URL.Path)),
				slog.Int("status", status),
				slog.Duration("duration", time.Since(start)),
				slog.Int64("bytes", rec.bytes),
			)
		}()
		h.ServeHTTP(rec, r)
	})
}

// recorder notes the status and size of a response. It passes on the
// optional abilities of the writer it wraps: Unwrap serves
// http.ResponseController, and Hijack and Flush the handlers that assert
// the interfaces directly (gorilla/websocket asserts http.Hijacker).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	// 1xx responses other than 101 precede the real one.
	if rec.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(p)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func (rec *recorder) Flush() {
	http.NewResponseController(rec.ResponseWriter).Flush()
}

func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rec.ResponseWriter).Hijack()
	if err == nil && rec.status == 0 {
		rec.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}
