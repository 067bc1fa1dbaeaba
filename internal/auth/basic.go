package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BasicAuth requires HTTP Basic authentication (RFC 7617) on every request
// and passes authenticated ones to next with the user in the context (see
// UserFromContext). Missing or wrong credentials get 401 with a challenge
// for realm, declaring UTF-8 as RFC 7617 §2.1 allows; throttled ones get
// 429 with Retry-After. The remote address is the host of r.RemoteAddr:
// behind a reverse proxy, whatever sets RemoteAddr from the proxy's
// headers must run before BasicAuth.
//
// Failures are logged on log with the user name and the address, never the
// password.
func BasicAuth(users *Users, realm string, log *slog.Logger, next http.Handler) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	challenge := "Basic realm=" + quote(realm) + `, charset="UTF-8"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, password, ok := r.BasicAuth()
		if !ok {
			// A client's first request usually comes without credentials
			// and learns from the challenge what to send: not worth a log.
			unauthorized(w, challenge, "Sign in with your salon user name and password, or an app password.")
			return
		}
		host := r.RemoteAddr
		if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			host = h
		}
		u, err := users.Authenticate(r.Context(), name, password, host)
		var throttled *ThrottledError
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), u)))
		case errors.As(err, &throttled):
			secs := int(math.Ceil(throttled.RetryAfter.Seconds()))
			log.Warn("sign-in refused: too many failures", "user", logName(name), "addr", host, "retry_after_s", secs)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			http.Error(w, fmt.Sprintf("Too many failed sign-ins. Try again in %s.", humanSeconds(secs)), http.StatusTooManyRequests)
		case errors.Is(err, ErrBadPassword):
			log.Info("sign-in failed: wrong user name or password", "user", logName(name), "addr", host)
			unauthorized(w, challenge, "Wrong user name or password.")
		case errors.Is(err, context.Canceled):
			// The client went away; nobody is left to answer.
		default:
			log.Error("sign-in could not be checked", "user", logName(name), "addr", host, "err", err)
			http.Error(w, "salon could not check your password right now; try again in a moment.", http.StatusInternalServerError)
		}
	})
}

func unauthorized(w http.ResponseWriter, challenge, msg string) {
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, msg, http.StatusUnauthorized)
}

// quote writes s as an HTTP quoted-string (RFC 9110 §5.6.4). Characters a
// header cannot carry become '?'.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			b.WriteRune(c)
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte('"')
	return b.String()
}

// logName bounds what a client typed as a user name before it goes to the
// log: it may be long, or not text at all.
func logName(name string) string {
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "\uFFFD")
	}
	if utf8.RuneCountInString(name) > maxNameLen {
		name = string([]rune(name)[:maxNameLen]) + "…"
	}
	return name
}

// humanSeconds says a short wait in words.
func humanSeconds(secs int) string {
	switch {
	case secs <= 1:
		return "a second"
	case secs < 90:
		return fmt.Sprintf("%d seconds", secs)
	default:
		return fmt.Sprintf("%d minutes", (secs+59)/60)
	}
}
