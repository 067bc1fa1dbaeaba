// Package web serves salon's HTTP surface for people: the pages (home,
// meeting room, the RSVP pages of invitation links, the admins' mailbox),
// their embedded static assets, and the JSON API under /api/v1. It also
// exports the middleware every salon response goes through (security
// headers, access log).
//
// It does not speak the signalling WebSocket (/ws, package signaling) nor
// touch media (package sfu): the browser talks to those itself. Operational
// endpoints (/healthz, /readyz, /metrics) are mounted by cmd/salon.
package web

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/meeting"
)

// DefaultJoinTokenTTL is how long a join token stays good when
// Config.JoinTokenTTL is zero: long enough to open the WebSocket, short
// enough that a leaked token is soon useless.
const DefaultJoinTokenTTL = 2 * time.Minute

// Config is the operator's configuration of the web surface.
type Config struct {
	// PublicURL is the address people use to reach salon, such as
	// https://meet.example.org. Requests whose Origin is this URL's origin
	// are accepted even when a reverse proxy rewrote the Host header.
	PublicURL string
	// JoinTokenTTL is the lifetime of a join token; zero means
	// DefaultJoinTokenTTL.
	JoinTokenTTL time.Duration
	// JoinRate and JoinBurst limit the join tokens one client address
	// takes: JoinBurst at once, then JoinRate a second. Zero means 2 a
	// second after a burst of 60.
	JoinRate  float64
	JoinBurst int
}

// MeetingStore is what the web surface needs from the meeting records.
type MeetingStore interface {
	Get(ctx context.Context, slug string) (meeting.Meeting, error)
}

// Options are the collaborators of a Server.
type Options struct {
	// Meetings looks meetings up. Required.
	Meetings MeetingStore
	// Tokens signs join tokens. Required.
	Tokens *auth.Tokens
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// Static replaces the embedded static assets, e.g. with os.DirFS while
	// working on the front end. Nil means the embedded ones.
	Static fs.FS
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics, when set, receives the web surface's metrics.
	Metrics prometheus.Registerer
	// RSVPs, when set, serves the RSVP pages (/rsvp/{token}), the links
	// of invitation e-mail; without it they are not found.
	RSVPs RSVPs
	// Mailbox, when set, serves the admin mailbox (/admin/mail and
	// /api/v1/admin/mail); without it they are not found. It needs
	// Authenticate.
	Mailbox Mailbox
	// Scheduler, when set, lets signed-in users schedule meetings with
	// POST /api/v1/meetings. It needs Authenticate.
	Scheduler Scheduler
	// Authenticate signs in the requests of the routes for users (the
	// admin pages, scheduling) and puts the user in the context
	// (auth.WithUser), answering the others itself, e.g. auth.BasicAuth.
	// The admin pages then let administrators only in.
	Authenticate func(http.Handler) http.Handler
}

// Server serves the pages and the JSON API. Build it with New.
type Server struct {
	meetings     MeetingStore
	tokens       *auth.Tokens
	log          *slog.Logger
	static       fs.FS
	now          func() time.Time
	ttl          time.Duration
	publicOrigin string // scheme://host of Config.PublicURL, or ""
	metrics      *metrics
	joinLimit    *addressLimiter // join tokens per client address
	rsvps        RSVPs
	rsvpLimit    *addressLimiter // RSVP pages and answers per client address
	rsvpMetrics  *rsvpMetrics
	mailbox      Mailbox
	scheduler    Scheduler
	authenticate func(http.Handler) http.Handler
	handler      http.Handler
}

// New returns a Server for cfg. It panics when a required option is missing,
// since that is a wiring mistake, not a runtime condition.
func New(cfg Config, opts Options) *Server {
	if opts.Meetings == nil || opts.Tokens == nil {
		panic("web.New: Options.Meetings and Options.Tokens are required")
	}
	if (opts.Mailbox != nil || opts.Scheduler != nil) && opts.Authenticate == nil {
		panic("web.New: Options.Mailbox and Options.Scheduler need Options.Authenticate")
	}
	s := &Server{
		meetings:     opts.Meetings,
		tokens:       opts.Tokens,
		log:          opts.Logger,
		static:       opts.Static,
		now:          opts.Now,
		ttl:          cfg.JoinTokenTTL,
		rsvps:        opts.RSVPs,
		mailbox:      opts.Mailbox,
		scheduler:    opts.Scheduler,
		authenticate: opts.Authenticate,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.static == nil {
		s.static = embeddedStatic()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = DefaultJoinTokenTTL
	}
	// A person joins, rejoins after a reload or a dropped connection: a
	// few tokens in a row. Offices behind one address get a generous burst.
	rate, burst := cfg.JoinRate, cfg.JoinBurst
	if rate <= 0 {
		rate = 2
	}
	if burst <= 0 {
		burst = 60
	}
	s.joinLimit = newAddressLimiter(rate, burst, s.now)
	// An attendee opens the page, answers, maybe changes their mind; a
	// mail scanner at a company's gateway opens every recipient's link.
	s.rsvpLimit = newAddressLimiter(1, 30, s.now)
	if cfg.PublicURL != "" {
		if o, ok := origin(cfg.PublicURL); ok {
			s.publicOrigin = o
		} else {
			s.log.Warn("public URL is not an absolute http(s) URL; only same-host requests will be accepted", "public_url", cfg.PublicURL)
		}
	}
	s.metrics = newMetrics(opts.Metrics, s.log)
	s.rsvpMetrics = newRSVPMetrics(opts.Metrics, s.log)
	s.handler = SecurityHeaders(s.routes())
	return s
}

// Handler returns the handler for every page and API route. It already
// applies SecurityHeaders; wrapping it again is harmless.
func (s *Server) Handler() http.Handler {
	return s.handler
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/{$}", methods(s.serveIndex, http.MethodGet, http.MethodHead))
	mux.Handle("/static/{path...}", methods(s.serveStatic, http.MethodGet, http.MethodHead))
	mux.Handle("/m/{slug}", methods(s.serveRoom, http.MethodGet, http.MethodHead))
	if s.scheduler != nil {
		mux.Handle("/api/v1/meetings", s.authenticate(apiMethods(s.serveSchedule, http.MethodPost)))
	}
	mux.Handle("/api/v1/meetings/{slug}", apiMethods(s.serveMeeting, http.MethodGet, http.MethodHead))
	mux.Handle("/api/v1/meetings/{slug}/join", apiMethods(s.serveJoin, http.MethodPost))
	if s.rsvps != nil {
		mux.Handle("/rsvp/{token}", methods(s.serveRSVP, http.MethodGet, http.MethodHead, http.MethodPost))
	}
	if s.mailbox != nil {
		mux.Handle("/api/v1/admin/mail", s.requireAdmin(apiMethods(s.serveMailListAPI, http.MethodGet, http.MethodHead), true))
		mux.Handle("/api/v1/admin/mail/{seq}", s.requireAdmin(apiMethods(s.serveMailEntryAPI, http.MethodGet, http.MethodHead), true))
		mux.Handle("/admin/mail", s.requireAdmin(methods(s.serveMailListPage, http.MethodGet, http.MethodHead), false))
		mux.Handle("/admin/mail/{seq}", s.requireAdmin(methods(s.serveMailEntryPage, http.MethodGet, http.MethodHead), false))
		mux.Handle("/admin/mail/{seq}/html", s.requireAdmin(methods(s.serveMailHTML, http.MethodGet, http.MethodHead), false))
		mux.Handle("/admin/mail/{seq}/raw", s.requireAdmin(methods(s.serveMailRaw, http.MethodGet, http.MethodHead), false))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNoSuchEndpoint)
	})
	mux.HandleFunc("/", s.serveNotFound)
	return mux
}

// methods lets through requests whose method is one of allowed and answers
// the others with 405 and an Allow header.
func methods(h http.HandlerFunc, allowed ...string) http.Handler {
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	})
}

// apiMethods is methods with a JSON error body.
func apiMethods(h http.HandlerFunc, allowed ...string) http.Handler {
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		writeJSONError(w, http.StatusMethodNotAllowed, "method-not-allowed",
			"This address accepts "+allow+" requests only.")
	})
}

// origin returns the scheme://host of an absolute http(s) URL, lower-cased,
// as browsers send it in the Origin header.
func origin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	// Browsers leave the default port out of Origin.
	if u.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	return u.Scheme + "://" + host, true
}
