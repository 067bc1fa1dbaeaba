package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/mail"
)

// Mailbox is what the admin mailbox needs from the mail outbox: the
// messages salon sent or keeps, with their delivery state.
type Mailbox interface {
	// List returns entries, newest first, without their Data.
	List(ctx context.Context, opt mail.ListOptions) ([]mail.Entry, error)
	// Entry returns one entry with its Data, or an error matching
	// mail.ErrNotFound.
	Entry(ctx context.Context, seq int64) (mail.Entry, error)
}

// Paging of the mailbox listings.
const (
	defaultMailLimit = 50
	// maxMailLimit stays under the outbox's own cap (500) so that asking
	// for one more entry than shown always tells whether there are more.
	maxMailLimit = 200
)

// mailHTMLPolicy is the content security policy of a message's HTML part.
// The sandbox gives the document an opaque origin with no script, forms or
// plugins, even when opened outside the admin page; popups are allowed,
// and escape the sandbox, so that its links open as ordinary pages in a new
// tab. Only inline styles and data: images load: nothing leaves the
// browser when an admin looks at a message.
const mailHTMLPolicy = "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; " +
	"default-src 'none'; style-src 'unsafe-inline'; img-src data:"

// The errors of the admin pages and API, besides those shared with the rest.
var (
	errAdminOnly = &apiError{Status: http.StatusForbidden, Code: "forbidden",
		Message: "Only administrators may read the mailbox; sign in with an administrator account."}
	errMailNotFound = &apiError{Status: http.StatusNotFound, Code: "not-found",
		Message: "The mailbox holds no message with this number."}
	errBadMailQuery = &apiError{Status: http.StatusBadRequest, Code: "bad-query",
		Message: "Query parameters: limit 1 to 200, before a message number, state queued, sent, failed or local, to an e-mail address."}
)

// requireAdmin wraps h with the administrator's authentication (which puts
// the user in the context) and lets through administrators only. api
// selects JSON errors rather than pages.
func (s *Server) requireAdmin(h http.Handler, api bool) http.Handler {
	check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Mail holds RSVP links, which are credentials: never cache it.
		w.Header().Set("Cache-Control", "no-store")
		u, ok := auth.UserFromContext(r.Context())
		if !ok {
			// A wiring mistake, not a client's: say so loudly, and refuse.
			s.log.ErrorContext(r.Context(), "Authenticate let a request through without a user in the context", "path", r.URL.Path)
			s.adminError(w, r, api, errAdminOnly)
			return
		}
		if !u.Admin {
			s.adminError(w, r, api, errAdminOnly.withCause(fmt.Errorf("user %s is not an administrator", u.Name)))
			return
		}
		h.ServeHTTP(w, r)
	})
	return s.authenticate(check)
}

// adminError answers with err as JSON or as a page.
func (s *Server) adminError(w http.ResponseWriter, r *http.Request, api bool, err error) {
	if api {
		s.writeError(w, r, err)
		return
	}
	s.errorPage(w, r, "", err, "/admin/mail", "err.backToMailbox")
}

// mailEntryJSON is one message in the admin API. Times are null when they
// do not apply (a message not yet sent has no sent_at).
type mailEntryJSON struct {
	Seq         int64      `json:"seq"`
	ID          string     `json:"id"`
	From        string     `json:"from"`
	To          []string   `json:"to"`
	Subject     string     `json:"subject"`
	Method      string     `json:"method"`
	UID         string     `json:"uid"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error"`
	CreatedAt   *time.Time `json:"created_at"`
	SentAt      *time.Time `json:"sent_at"`
	NextAttempt *time.Time `json:"next_attempt"`
}

// mailListJSON answers GET /api/v1/admin/mail. NextBefore is the before=
// value of the next page, null on the last one.
type mailListJSON struct {
	Messages   []mailEntryJSON `json:"messages"`
	NextBefore *int64          `json:"next_before"`
}

// mailDetailJSON answers GET /api/v1/admin/mail/{seq}: the entry, the whole
// message and its parts decoded. ParseError says what could not be read.
type mailDetailJSON struct {
	mailEntryJSON
	Raw        string   `json:"raw"`
	Text       string   `json:"text"`
	HTML       string   `json:"html"`
	Calendar   string   `json:"calendar"`
	Links      []string `json:"links"`
	ParseError string   `json:"parse_error,omitempty"`
}

func entryJSON(e mail.Entry) mailEntryJSON {
	to := e.To
	if to == nil {
		to = []string{}
	}
	return mailEntryJSON{
		Seq:         e.Seq,
		ID:          cleanUTF8(e.ID),
		From:        cleanUTF8(e.From),
		To:          to,
		Subject:     cleanUTF8(e.Subject),
		Method:      e.Method,
		UID:         cleanUTF8(e.UID),
		State:       string(e.State),
		Attempts:    e.Attempts,
		LastError:   cleanUTF8(e.LastError),
		CreatedAt:   jsonTime(e.CreatedAt),
		SentAt:      jsonTime(e.SentAt),
		NextAttempt: jsonTime(e.NextAttempt),
	}
}

func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// mailQuery reads the listing's query: limit, before, state, to.
func mailQuery(r *http.Request) (mail.ListOptions, error) {
	q := r.URL.Query()
	opt := mail.ListOptions{Limit: defaultMailLimit}
	bad := func(format string, args ...any) error {
		return errBadMailQuery.withCause(fmt.Errorf(format, args...))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxMailLimit {
			return opt, bad("limit %q", v)
		}
		opt.Limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return opt, bad("before %q", v)
		}
		opt.Before = n
	}
	switch st := mail.State(q.Get("state")); st {
	case "", mail.StateQueued, mail.StateSent, mail.StateFailed, mail.StateLocal:
		opt.State = st
	default:
		return opt, bad("state %q", st)
	}
	if v := strings.TrimSpace(q.Get("to")); v != "" {
		if len(v) > 254 || !strings.Contains(v, "@") || strings.ContainsFunc(v, func(c rune) bool {
			return unicode.IsSpace(c) || unicode.IsControl(c)
		}) {
			return opt, bad("to %q", v)
		}
		opt.To = v
	}
	return opt, nil
}

// listMail returns one page of entries and the before= of the next page,
// or 0 when this is the last.
func (s *Server) listMail(r *http.Request, opt mail.ListOptions) ([]mail.Entry, int64, error) {
	want := opt.Limit
	opt.Limit++ // one more tells whether there is a next page
	list, err := s.mailbox.List(r.Context(), opt)
	if err != nil {
		return nil, 0, err
	}
	if len(list) <= want {
		return list, 0, nil
	}
	list = list[:want]
	return list, list[want-1].Seq, nil
}

// serveMailListAPI answers GET /api/v1/admin/mail.
func (s *Server) serveMailListAPI(w http.ResponseWriter, r *http.Request) {
	opt, err := mailQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, next, err := s.listMail(r, opt)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list mail: %w", err))
		return
	}
	ans := mailListJSON{Messages: make([]mailEntryJSON, 0, len(list))}
	for _, e := range list {
		ans.Messages = append(ans.Messages, entryJSON(e))
	}
	if next > 0 {
		ans.NextBefore = &next
	}
	writeJSON(w, http.StatusOK, ans)
}

// mailEntry returns the entry named by the {seq} of r's path.
func (s *Server) mailEntry(r *http.Request) (mail.Entry, error) {
	v := r.PathValue("seq")
	seq, err := strconv.ParseInt(v, 10, 64)
	if err != nil || seq < 1 {
		return mail.Entry{}, errMailNotFound.withCause(fmt.Errorf("seq %q", v))
	}
	e, err := s.mailbox.Entry(r.Context(), seq)
	if errors.Is(err, mail.ErrNotFound) {
		return mail.Entry{}, errMailNotFound.withCause(err)
	}
	return e, err
}

// serveMailEntryAPI answers GET /api/v1/admin/mail/{seq}.
func (s *Server) serveMailEntryAPI(w http.ResponseWriter, r *http.Request) {
	e, err := s.mailEntry(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := parseMailView(e.Data)
	links := v.Links
	if links == nil {
		links = []string{}
	}
	writeJSON(w, http.StatusOK, mailDetailJSON{
		mailEntryJSON: entryJSON(e),
		Raw:           cleanUTF8(string(e.Data)),
		Text:          v.Text,
		HTML:          v.HTML,
		Calendar:      v.Calendar,
		Links:         links,
		ParseError:    v.Problem,
	})
}

// mailListPage is the data of the mailbox page.
type mailListPage struct {
	Entries   []mailRow
	State     string
	To        string
	States    []mail.State
	OlderURL  string // the next page, or ""
	NewestURL string // the first page, when this is not it
}

// mailRow is one line of the mailbox page.
type mailRow struct {
	mail.Entry
	URL     string
	Created string
	To      string
}

// serveMailListPage answers GET /admin/mail.
func (s *Server) serveMailListPage(w http.ResponseWriter, r *http.Request) {
	opt, err := mailQuery(r)
	if err != nil {
		s.adminError(w, r, false, err)
		return
	}
	list, next, err := s.listMail(r, opt)
	if err != nil {
		s.adminError(w, r, false, fmt.Errorf("list mail: %w", err))
		return
	}
	data := mailListPage{
		State:  string(opt.State),
		To:     opt.To,
		States: []mail.State{mail.StateQueued, mail.StateSent, mail.StateFailed, mail.StateLocal},
	}
	for _, e := range list {
		data.Entries = append(data.Entries, mailRow{
			Entry:   e,
			URL:     "/admin/mail/" + strconv.FormatInt(e.Seq, 10),
			Created: formatAdminTime(e.CreatedAt),
			To:      strings.Join(e.To, ", "),
		})
	}
	page := func(before int64) string {
		q := url.Values{}
		if opt.State != "" {
			q.Set("state", string(opt.State))
		}
		if opt.To != "" {
			q.Set("to", opt.To)
		}
		if opt.Limit != defaultMailLimit {
			q.Set("limit", strconv.Itoa(opt.Limit))
		}
		if before > 0 {
			q.Set("before", strconv.FormatInt(before, 10))
		}
		if len(q) == 0 {
			return "/admin/mail"
		}
		return "/admin/mail?" + q.Encode()
	}
	if next > 0 {
		data.OlderURL = page(next)
	}
	if opt.Before > 0 {
		data.NewestURL = page(0)
	}
	p := newPage(preferredLang(r), "mail.title", data)
	p.Styles = []string{"/static/pages.css"}
	p.Class = "admin"
	s.renderPage(w, r, http.StatusOK, mailListTemplate, p)
}

// mailEntryPage is the data of one message's page.
type mailEntryPage struct {
	Entry       mail.Entry
	View        mailView
	Raw         string
	To          string
	Created     string
	Sent        string
	NextAttempt string
	HTMLURL     string
	RawURL      string
}

// serveMailEntryPage answers GET /admin/mail/{seq}.
func (s *Server) serveMailEntryPage(w http.ResponseWriter, r *http.Request) {
	e, err := s.mailEntry(r)
	if err != nil {
		s.adminError(w, r, false, err)
		return
	}
	base := "/admin/mail/" + strconv.FormatInt(e.Seq, 10)
	data := mailEntryPage{
		Entry:       e,
		View:        parseMailView(e.Data),
		Raw:         cleanUTF8(string(e.Data)),
		To:          strings.Join(e.To, ", "),
		Created:     formatAdminTime(e.CreatedAt),
		Sent:        formatAdminTime(e.SentAt),
		NextAttempt: formatAdminTime(e.NextAttempt),
		HTMLURL:     base + "/html",
		RawURL:      base + "/raw",
	}
	p := newPage(preferredLang(r), "mail.entry.title", data)
	if e.Subject != "" {
		p.Title = cleanUTF8(e.Subject)
	}
	p.Styles = []string{"/static/pages.css"}
	p.Class = "admin"
	s.renderPage(w, r, http.StatusOK, mailEntryTemplate, p)
}

// serveMailHTML answers GET /admin/mail/{seq}/html with the message's HTML
// part, for the sandboxed frame of the message page.
func (s *Server) serveMailHTML(w http.ResponseWriter, r *http.Request) {
	e, err := s.mailEntry(r)
	if err != nil {
		s.adminError(w, r, false, err)
		return
	}
	v := parseMailView(e.Data)
	if v.HTML == "" {
		s.adminError(w, r, false, errMailNotFound.withCause(fmt.Errorf("mail %d has no HTML part", e.Seq)))
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", mailHTMLPolicy)
	// The message page frames this one; nothing else may.
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The first <base> with a target wins (HTML §4.2.3): links open in a
	// new tab, outside the frame, whatever the message says. Put before
	// everything, it lands in the head the parser makes.
	body := `<!doctype html><base target="_blank">` + v.HTML
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

// serveMailRaw answers GET /admin/mail/{seq}/raw with the whole message as
// a download.
func (s *Server) serveMailRaw(w http.ResponseWriter, r *http.Request) {
	e, err := s.mailEntry(r)
	if err != nil {
		s.adminError(w, r, false, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "message/rfc822")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="salon-mail-%d.eml"`, e.Seq))
	h.Set("Content-Length", strconv.Itoa(len(e.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(e.Data)
	}
}

// formatAdminTime writes t for the admin pages, in UTC like the CLI, or ""
// for the zero time.
func formatAdminTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
