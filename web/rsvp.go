package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/auth"
)

// RSVPs is what the RSVP pages need; the calendar's scheduler implements
// it. The claims come from a verified RSVP token: they are the attendee's
// only credential, so an implementation answers for exactly that attendee
// of exactly that organizer's event. Both methods return an error matching
// calendar.ErrNotFound when the event or the attendee is gone.
type RSVPs interface {
	RSVP(ctx context.Context, c auth.RSVPClaims) (calendar.RSVPView, error)
	Respond(ctx context.Context, c auth.RSVPClaims, partstat string) (calendar.RSVPView, error)
}

// rsvpAnswers are the participation states an attendee may answer with
// (RFC 5545 §3.2.12), in the order of the buttons.
var rsvpAnswers = []string{"ACCEPTED", "TENTATIVE", "DECLINED"}

// maxRSVPForm bounds the body of an answer; partstat=TENTATIVE is 18 bytes.
const maxRSVPForm = 1 << 10

// The errors of the RSVP pages. Their codes select the page's title and
// text in the catalog (err.{code}.title, err.{code}.text).
var (
	errRSVPInvalid = &apiError{Status: http.StatusBadRequest, Code: "invalid-link",
		Message: "This link is not valid."}
	errRSVPExpired = &apiError{Status: http.StatusGone, Code: "expired-link",
		Message: "This link has expired."}
	errRSVPGone = &apiError{Status: http.StatusGone, Code: "gone",
		Message: "This invitation no longer exists."}
	errRSVPCancelled = &apiError{Status: http.StatusConflict, Code: "cancelled",
		Message: "This meeting was cancelled; the answer was not recorded."}
	errRSVPBadAnswer = &apiError{Status: http.StatusBadRequest, Code: "bad-answer",
		Message: "partstat must be ACCEPTED, TENTATIVE or DECLINED."}
	errRSVPBadForm = &apiError{Status: http.StatusBadRequest, Code: "bad-form",
		Message: "The answer must be a form with a partstat field."}
)

// rsvpPage is the data of the RSVP page.
type rsvpPage struct {
	Action         string // where the form posts: the page's own path
	View           calendar.RSVPView
	Organizer      string // the organizer's name and address
	OrganizerShort string // the organizer's name, or address, for sentences
	Attendee       string
	StatusKey      string // the catalog key of the attendee's answer now
	When           whenText
	Buttons        []rsvpButton
	Preselect      string // the answer a link asked for, to be confirmed; or ""
	Done           string // the answer just recorded; or ""
}

// rsvpButton is one answer button.
type rsvpButton struct {
	Value   string
	Label   string
	Chosen  bool // asked for by the link: the one to press
	Current bool // the attendee's answer now
}

// serveRSVP answers GET, HEAD and POST /rsvp/{token}, the link in an
// invitation. GET shows the meeting and the attendee's answer and never
// changes anything, because mail scanners follow links; POST records an
// answer.
func (s *Server) serveRSVP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Unlike the rest of salon, this page must send its Origin when its
	// form posts: with no-referrer browsers send "Origin: null" instead.
	// same-origin still keeps the token (in the URL) from other sites.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Robots-Tag", "noindex")
	token := r.PathValue("token")
	if !s.rsvpLimit.allow(r) {
		h.Set("Retry-After", "10")
		s.rsvpError(w, r, "", token, errRateLimited)
		return
	}
	c, err := s.tokens.VerifyRSVP(token, s.now())
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		s.rsvpError(w, r, "", "", errRSVPExpired.withCause(err))
		return
	case err != nil:
		s.rsvpError(w, r, "", "", errRSVPInvalid.withCause(err))
		return
	}
	if r.Method == http.MethodPost {
		s.answerRSVP(w, r, token, c)
		return
	}
	preselect := ""
	if q := r.URL.Query(); q.Has("partstat") {
		var ok bool
		if preselect, ok = rsvpAnswer(q.Get("partstat")); !ok {
			s.rsvpError(w, r, "", token, errRSVPBadAnswer.withCause(fmt.Errorf("partstat %q in the query", q.Get("partstat"))))
			return
		}
	}
	view, err := s.rsvps.RSVP(r.Context(), c)
	if err != nil {
		s.rsvpError(w, r, "", token, rsvpCause(err))
		return
	}
	if view.Cancelled {
		preselect = ""
	}
	s.renderRSVP(w, r, http.StatusOK, token, view, preselect, "")
}

// answerRSVP records the answer of a POST /rsvp/{token}.
func (s *Server) answerRSVP(w http.ResponseWriter, r *http.Request, token string, c auth.RSVPClaims) {
	// No cookie is involved, so there is no session to ride; the Origin
	// check still keeps other sites from answering for someone who opened
	// their page.
	if err := s.checkOrigin(r); err != nil {
		s.rsvpError(w, r, "", token, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRSVPForm)
	if err := r.ParseForm(); err != nil {
		s.rsvpError(w, r, "", token, errRSVPBadForm.withCause(err))
		return
	}
	partstat, ok := rsvpAnswer(r.PostForm.Get("partstat"))
	if !ok {
		s.rsvpError(w, r, "", token, errRSVPBadAnswer.withCause(fmt.Errorf("partstat %q", r.PostForm.Get("partstat"))))
		return
	}
	view, err := s.rsvps.RSVP(r.Context(), c)
	if err != nil {
		s.rsvpError(w, r, "", token, rsvpCause(err))
		return
	}
	if view.Cancelled {
		s.rsvpError(w, r, view.Lang, token, errRSVPCancelled.withCause(fmt.Errorf("event %q", c.UID)))
		return
	}
	view, err = s.rsvps.Respond(r.Context(), c, partstat)
	if err != nil {
		s.rsvpError(w, r, view.Lang, token, rsvpCause(err))
		return
	}
	s.rsvpMetrics.responded(partstat)
	s.log.InfoContext(r.Context(), "RSVP recorded", "organizer", c.Organizer, "uid", c.UID, "partstat", partstat)
	s.renderRSVP(w, r, http.StatusOK, token, view, "", partstat)
}

// rsvpAnswer returns the canonical form of an answer, and whether it is
// one an attendee may give. Case is forgiven: the value may have been
// typed or rewritten by a mail client.
func rsvpAnswer(v string) (string, bool) {
	v = strings.ToUpper(strings.TrimSpace(v))
	for _, a := range rsvpAnswers {
		if v == a {
			return a, true
		}
	}
	return "", false
}

// rsvpCause maps an error of RSVPs to the page's error.
func rsvpCause(err error) error {
	if errors.Is(err, calendar.ErrNotFound) {
		return errRSVPGone.withCause(err)
	}
	return err
}

func (s *Server) renderRSVP(w http.ResponseWriter, r *http.Request, status int, token string, v calendar.RSVPView, preselect, done string) {
	p := newPage(v.Lang, "rsvp.title", nil)
	data := rsvpPage{
		Action:         "/rsvp/" + token,
		View:           v,
		Organizer:      personName(v.OrganizerName, v.OrganizerEmail),
		OrganizerShort: v.OrganizerName,
		Attendee:       v.AttendeeName,
		StatusKey:      "status." + v.PartStat,
		When:           formatWhen(v, p.Lang),
		Preselect:      preselect,
		Done:           done,
	}
	if data.OrganizerShort == "" {
		data.OrganizerShort = v.OrganizerEmail
	}
	if data.Attendee == "" {
		data.Attendee = v.AttendeeEmail
	}
	if _, ok := p.T[data.StatusKey]; !ok {
		// DELEGATED, or a state a client made up: to this page, no answer.
		data.StatusKey = "status.NEEDS-ACTION"
	}
	for _, a := range rsvpAnswers {
		data.Buttons = append(data.Buttons, rsvpButton{
			Value:   a,
			Label:   p.T["answer."+a],
			Chosen:  a == preselect,
			Current: a == v.PartStat,
		})
	}
	if v.Summary != "" {
		p.Title = v.Summary
	}
	p.Styles = []string{"/static/pages.css"}
	p.Class = "rsvp"
	p.Data = data
	s.renderPage(w, r, status, rsvpTemplate, p)
}

// personName is how a person is shown: their name and address, or the
// address alone.
func personName(name, email string) string {
	switch {
	case name == "":
		return email
	case email == "":
		return name
	}
	return name + " <" + email + ">"
}

// errorPage is the data of the error page.
type errorPage struct {
	Code    string
	Status  int
	BackURL string // a page to go back to, or ""
	BackKey string // the catalog key of the back link's text
}

// rsvpError answers an RSVP request with err as a page in lang (the
// organizer's when known, else the browser's). A token that verified is
// offered as a way back to the invitation.
func (s *Server) rsvpError(w http.ResponseWriter, r *http.Request, lang, token string, err error) {
	back := ""
	if token != "" {
		back = "/rsvp/" + token
	}
	s.errorPage(w, r, lang, err, back, "err.backToInvitation")
}

// errorPage answers r with err as an HTML page: the one place where the
// pages' errors become responses. Like writeError, the client sees a
// message and the log sees the cause.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, lang string, err error, back, backKey string) {
	ae := asAPIError(err)
	level := slog.LevelDebug
	if ae.Status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request refused",
		"method", r.Method, "path", redactPath(r.URL.Path), "status", ae.Status, "code", ae.Code, "err", err)
	if lang == "" {
		lang = preferredLang(r)
	}
	p := newPage(lang, "err."+ae.Code+".title", errorPage{Code: ae.Code, Status: ae.Status, BackURL: back, BackKey: backKey})
	if p.Title == "" {
		p.Title = p.T["err.title"]
	}
	p.Styles = []string{"/static/pages.css"}
	p.Class = "not-found"
	s.renderPage(w, r, ae.Status, errorTemplate, p)
}

// redactPath keeps RSVP tokens, which are credentials, out of the log.
func redactPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/rsvp/"); ok && rest != "" {
		return "/rsvp/…"
	}
	return p
}

// whenText is a meeting's date and time as the RSVP page shows them.
type whenText struct {
	Text string // e.g. "Monday, March 2, 2026, 10:00 AM – 11:00 AM"
	ISO  string // the start, RFC 3339, for <time datetime>
	Zone string // the time zone the times are in, or "" (all-day, floating)
}

// formatWhen writes the date and time of v in lang, in the event's time
// zone: the attendee may be elsewhere, so the zone is named.
func formatWhen(v calendar.RSVPView, lang string) whenText {
	start, end := v.Start, v.End
	var w whenText
	if v.TimeZone != "" {
		// The view's times are normally already in this zone; converting
		// is for a view that carries them in UTC.
		if loc, err := time.LoadLocation(v.TimeZone); err == nil {
			start, end = start.In(loc), end.In(loc)
		}
		w.Zone = v.TimeZone
	} else if !v.AllDay && start.Location() == time.UTC {
		w.Zone = "UTC"
	}
	if start.IsZero() {
		return whenText{}
	}
	if v.AllDay {
		w.ISO = start.Format(time.DateOnly)
		w.Zone = ""
		w.Text = formatDate(start, lang)
		// DTEND of an all-day event is the day after the last (RFC 5545
		// §3.6.1).
		if last := end.AddDate(0, 0, -1); !end.IsZero() && last.After(start) {
			w.Text += " – " + formatDate(last, lang)
		}
		w.Text += " (" + catalog[lang]["rsvp.allDay"] + ")"
		return w
	}
	w.ISO = start.Format(time.RFC3339)
	w.Text = formatDate(start, lang) + ", " + formatClock(start, lang)
	switch {
	case end.IsZero() || !end.After(start):
	case sameDay(start, end):
		w.Text += " – " + formatClock(end, lang)
	default:
		w.Text += " – " + formatDate(end, lang) + ", " + formatClock(end, lang)
	}
	return w
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// formatDate writes a day the way each language does: "Monday, March 2,
// 2026"; "lundi 2 mars 2026" (1er for the first of the month).
func formatDate(t time.Time, lang string) string {
	if lang == "fr" {
		day := strconv.Itoa(t.Day())
		if t.Day() == 1 {
			day = "1er"
		}
		return frenchWeekdays[t.Weekday()] + " " + day + " " + frenchMonths[t.Month()-1] + " " + strconv.Itoa(t.Year())
	}
	return t.Format("Monday, January 2, 2006")
}

// formatClock writes a time of day: "3:04 PM" in English, "15 h 04" in
// French.
func formatClock(t time.Time, lang string) string {
	if lang == "fr" {
		return t.Format("15 h 04")
	}
	return t.Format("3:04 PM")
}

// rsvpMetrics counts recorded answers. A nil *rsvpMetrics counts nothing.
type rsvpMetrics struct {
	responses *prometheus.CounterVec
}

func newRSVPMetrics(reg prometheus.Registerer, log *slog.Logger) *rsvpMetrics {
	if reg == nil {
		return nil
	}
	responses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "salon_rsvp_responses_total",
		Help: "Answers recorded through RSVP links, by participation status.",
	}, []string{"partstat"})
	if err := reg.Register(responses); err != nil {
		// A second Server on the same registry shares the first one's counter.
		are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
		existing, same := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok || !same {
			log.Error("RSVP metrics not registered", "err", err)
			return nil
		}
		responses = existing
	}
	// Every answer shows from the start, so that rates need no special case
	// for a series that does not exist yet.
	for _, a := range rsvpAnswers {
		responses.WithLabelValues(a)
	}
	return &rsvpMetrics{responses: responses}
}

func (m *rsvpMetrics) responded(partstat string) {
	if m != nil {
		m.responses.WithLabelValues(partstat).Inc()
	}
}
