// Package calendar is salon's CalDAV server (RFC 4791 on RFC 4918, with
// RFC 5689 extended MKCOL, RFC 6578 sync-collection, the RFC 3744
// privilege properties clients read, and RFC 6764 discovery) and its
// scheduling (RFC 6638 implicit scheduling with RFC 5546 iTIP: Scheduler
// gives events with attendees a meeting room, delivers invitations to
// salon users' inboxes and hands the rest to package mail as iMIP).
//
// It owns the wire: URLs, methods, XML bodies, statuses and CalDAV error
// elements, and the rule that a user reaches only their own principal and
// calendars. It does not own data — a Store keeps calendars and objects
// (calendar/sqlstore implements it) — nor iCalendar semantics, which live
// in calendar/ical, nor authentication: a middleware in front of Handler
// signs the user in and puts them in the request context (auth.WithUser).
package calendar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/salonhq/salon/internal/auth"
)

// Config is the CalDAV server's configuration.
type Config struct {
	// Prefix is the URL path the handler is mounted at, without a
	// trailing slash; "" means "/dav".
	Prefix string
	// MaxResourceSize is the largest calendar object accepted by PUT,
	// advertised as CALDAV:max-resource-size; 0 means 1 MiB.
	MaxResourceSize int64
	// MaxRequestBody caps every request body (XML and iCalendar); larger
	// bodies get 413. 0 means 10 MiB.
	MaxRequestBody int64
	// ParseCache is how many parsed objects are kept between requests
	// (a month view parses each object it returns once, not each time),
	// with up to 8 KiB per object of rendered REPORT responses beside them;
	// 0 means 8192 objects and 64 MiB, negative turns the caches off.
	ParseCache int
}

// Directory finds users by name, for telling "no such user" (404) from
// "someone else's" (403), and by e-mail address, for telling attendees who
// are salon users (scheduled through their inbox) from the others
// (scheduled by e-mail).
type Directory interface {
	// UserByName returns auth.ErrUserNotFound when there is no such user.
	UserByName(ctx context.Context, name string) (auth.User, error)
	// UserByEmail matches the address case-insensitively and returns
	// auth.ErrUserNotFound when no user has it.
	UserByEmail(ctx context.Context, email string) (auth.User, error)
}

// Options are the handler's collaborators.
type Options struct {
	Store     Store
	Directory Directory
	Logger    *slog.Logger // nil: slog.Default()
	Now       func() time.Time
	// Scheduler, when set, does implicit scheduling (RFC 6638) on PUT
	// and DELETE of scheduling objects; nil stores them as they come.
	Scheduler *Scheduler
}

// Handler serves CalDAV under Config.Prefix for the user in the request
// context.
type Handler struct {
	cfg   Config
	store Store
	dir   Directory
	log   *slog.Logger
	now   func() time.Time
	hrefs hrefs
	sched *Scheduler
	// parsed caches parsed objects across requests; fragments caches the
	// DAV:response of one object version to one kind of REPORT.
	parsed    *parseCache
	fragments *lru[string]
	queries   *lru[*queryResult] // calendar-query answers, kept up to date by the change log
}

// NewHandler returns a CalDAV handler.
func NewHandler(cfg Config, opts Options) *Handler {
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if cfg.Prefix == "" {
		cfg.Prefix = "/dav"
	}
	if !strings.HasPrefix(cfg.Prefix, "/") {
		cfg.Prefix = "/" + cfg.Prefix
	}
	if cfg.MaxResourceSize <= 0 {
		cfg.MaxResourceSize = 1 << 20
	}
	if cfg.MaxRequestBody <= 0 {
		cfg.MaxRequestBody = 10 << 20
	}
	if cfg.MaxRequestBody < cfg.MaxResourceSize {
		cfg.MaxRequestBody = cfg.MaxResourceSize
	}
	h := &Handler{
		cfg:   cfg,
		store: opts.Store,
		dir:   opts.Directory,
		log:   opts.Logger,
		now:   opts.Now,
		hrefs: hrefs{prefix: cfg.Prefix},
		sched: opts.Scheduler,
	}
	switch {
	case cfg.ParseCache == 0:
		h.parsed = newParseCache(8192)
		h.fragments = newLRU(64<<20, func(s string) int { return len(s) })
		h.queries = newLRU(128, func(*queryResult) int { return 1 })
	case cfg.ParseCache > 0:
		h.parsed = newParseCache(cfg.ParseCache)
		h.fragments = newLRU(cfg.ParseCache*8<<10, func(s string) int { return len(s) })
		h.queries = newLRU(128, func(*queryResult) int { return 1 })
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// request is one CalDAV request after routing: who asks, for what.
type request struct {
	*http.Request
	user   auth.User
	target target
	log    *slog.Logger
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.log.With("method", r.Method, "path", r.URL.Path)
	r = r.WithContext(context.WithValue(r.Context(), logKey{}, log))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.ErrorContext(r.Context(), "panic serving CalDAV request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			h.fail(w, r, errors.New("panic"))
		}
	}()

	t, err := parsePath(h.cfg.Prefix, r.URL.EscapedPath())
	if errors.Is(err, errNoResource) && creates(r.Method) {
		// RFC 4918 §9.3.1, §9.7.1: the parent collection is missing.
		err = errStatus(http.StatusConflict, "calendars are made in your calendar home and objects inside a calendar; this URL has no such parent")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// OPTIONS reveals no data and clients probe it before signing in.
	if r.Method == http.MethodOptions {
		h.options(w, t)
		return
	}
	u, ok := auth.UserFromContext(r.Context())
	if !ok {
		h.fail(w, r, errUnauthenticated)
		return
	}
	log = log.With("user", u.Name)
	r = r.WithContext(context.WithValue(r.Context(), logKey{}, log))
	if err := h.checkAccess(r.Context(), u, t); err != nil {
		h.fail(w, r, err)
		return
	}
	req := &request{Request: r, user: u, target: t, log: log}
	if err := h.serve(w, req); err != nil {
		h.fail(w, r, err)
	}
}

// checkAccess enforces that users reach only their own resources: another
// user's are 403, a user who does not exist is 404.
func (h *Handler) checkAccess(ctx context.Context, u auth.User, t target) error {
	if t.user == "" || t.user == u.Name {
		return nil
	}
	if h.dir == nil {
		return errForbiddenOther
	}
	if _, err := h.dir.UserByName(ctx, t.user); err != nil {
		if errors.Is(err, auth.ErrUserNotFound) {
			return errNotFound
		}
		return fmt.Errorf("look up user %q: %w", t.user, err)
	}
	return errForbiddenOther
}

func (h *Handler) serve(w http.ResponseWriter, r *request) error {
	if handled, err := h.serveScheduling(w, r); handled {
		return err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return h.get(w, r)
	case http.MethodPut:
		return h.put(w, r)
	case http.MethodDelete:
		return h.delete(w, r)
	case "PROPFIND":
		return h.propfind(w, r)
	case "PROPPATCH":
		return h.proppatch(w, r)
	case "MKCALENDAR", "MKCOL":
		return h.mkcalendar(w, r)
	case "REPORT":
		return h.report(w, r)
	case "COPY", "MOVE":
		return h.copyMove(w, r)
	}
	w.Header().Set("Allow", allow(r.target.kind))
	return errStatus(http.StatusMethodNotAllowed, r.Method+" is not supported on this resource")
}

func creates(method string) bool {
	return method == http.MethodPut || method == "MKCALENDAR" || method == "MKCOL"
}

// davClasses is the DAV header (RFC 4918 §10.1, RFC 4791 §5.1, RFC 5689 §3,
// RFC 6638 §2).
const davClasses = "1, 2, 3, calendar-access, extended-mkcol, calendar-auto-schedule"

func allow(k kind) string {
	switch k {
	case kindPrincipal:
		return "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, REPORT"
	case kindHome:
		return "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, REPORT"
	case kindCalendar:
		return "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, DELETE, REPORT, MKCALENDAR, MKCOL"
	case kindObject:
		return "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, REPORT, COPY, MOVE"
	case kindInbox:
		return "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, REPORT"
	case kindOutbox:
		return "OPTIONS, POST, PROPFIND, PROPPATCH, REPORT"
	}
	return "OPTIONS, GET, HEAD, PROPFIND, REPORT"
}

func (h *Handler) options(w http.ResponseWriter, t target) {
	w.Header().Set("DAV", davClasses)
	w.Header().Set("Allow", allow(t.kind))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// WellKnown serves /.well-known/caldav (RFC 6764 §5): a redirect to the
// CalDAV root, where clients find current-user-principal.
func (h *Handler) WellKnown() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, "PROPFIND", http.MethodOptions:
			http.Redirect(w, r, h.hrefs.root(), http.StatusMovedPermanently)
		default:
			w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
			writeDAVError(w, errStatus(http.StatusMethodNotAllowed, "use GET or PROPFIND to discover the CalDAV service"))
		}
	})
}

// calendarOf loads the calendar a calendar or object target names.
func (h *Handler) calendarOf(r *request) (Calendar, error) {
	return h.store.Calendar(r.Context(), r.target.user, r.target.calendar)
}

func (h *Handler) calendarHref(c *Calendar) string { return h.hrefs.calendar(c.Owner, c.Name) }
