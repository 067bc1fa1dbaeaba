package calendar

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/salonhq/salon/calendar/ical"
)

// davError is a refusal with its HTTP status and, when the RFC names one,
// the precondition or postcondition element for the DAV:error body
// (RFC 4918 §16, RFC 4791 §1.3). Msg is for the client; Err, the cause,
// goes only to the log.
type davError struct {
	Status int
	Cond   xml.Name // zero: no condition element
	Href   string   // an escaped href inside the condition (no-uid-conflict)
	Msg    string
	Err    error
}

func (e *davError) Error() string {
	s := http.StatusText(e.Status)
	if e.Cond.Local != "" {
		s += " (" + e.Cond.Local + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *davError) Unwrap() error { return e.Err }

func errStatus(status int, msg string) *davError { return &davError{Status: status, Msg: msg} }

func errCond(status int, ns, cond, msg string) *davError {
	return &davError{Status: status, Cond: xml.Name{Space: ns, Local: cond}, Msg: msg}
}

// Refusals used in more than one place.
var (
	errUnauthenticated = errStatus(http.StatusUnauthorized, "sign in with your salon user name and password (or an app password)")
	errForbiddenOther  = errStatus(http.StatusForbidden, "this resource belongs to another user; you can only reach your own principal and calendars")
	errNotFound        = errStatus(http.StatusNotFound, "no such resource")
)

// toDAVError maps any error to the refusal the client sees. It is the one
// place where store, iCalendar and body-reading errors become statuses.
func toDAVError(err error) *davError {
	var (
		de  *davError
		xe  *xmlError
		ie  *ical.InvalidError
		uc  *UIDConflictError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &de):
		return de
	case errors.As(err, &xe):
		return &davError{Status: http.StatusBadRequest, Msg: xe.Error()}
	case errors.As(err, &mbe):
		return &davError{Status: http.StatusRequestEntityTooLarge, Msg: "request body too large", Err: err}
	case errors.As(err, &ie):
		cond := ie.Precondition
		if cond == "" {
			cond = "valid-calendar-data"
		}
		return &davError{Status: http.StatusForbidden, Cond: xml.Name{Space: nsCalDAV, Local: cond}, Msg: ie.Msg}
	case errors.As(err, &uc):
		return &davError{Status: http.StatusForbidden, Cond: xml.Name{Space: nsCalDAV, Local: "no-uid-conflict"},
			Msg: "another object in this calendar already has UID " + uc.UID}
	case errors.Is(err, errBadPath):
		return &davError{Status: http.StatusBadRequest, Msg: "malformed path: names may not be empty, '.', '..', contain '/' (also encoded as %2F) or control characters, or exceed 255 bytes"}
	case errors.Is(err, errNoResource), errors.Is(err, ErrNotFound):
		return errNotFound
	case errors.Is(err, ErrExists):
		return errCond(http.StatusMethodNotAllowed, nsDAV, "resource-must-be-null", "a resource already exists at this URL")
	case errors.Is(err, ErrPrecondition):
		return errStatus(http.StatusPreconditionFailed, "the resource changed (If-Match, If-None-Match or If-Schedule-Tag-Match did not hold); fetch it again")
	case errors.Is(err, ErrTokenGone):
		return errCond(http.StatusForbidden, nsDAV, "valid-sync-token", "the sync token is unknown or too old; sync again from an empty token")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// 499 is not sent anywhere useful: the client is gone.
		return &davError{Status: http.StatusServiceUnavailable, Msg: "request cancelled", Err: err}
	}
	return &davError{Status: http.StatusInternalServerError, Msg: "internal server error; the cause is in the server log", Err: err}
}

// fail writes err as a DAV:error body. Server faults are logged with
// their cause; client errors at debug level.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	de := toDAVError(err)
	log := loggerFrom(r.Context(), h.log)
	if de.Status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "status", de.Status, "err", err)
	} else {
		log.DebugContext(r.Context(), "request refused", "status", de.Status, "err", err)
	}
	if de.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="salon", charset="UTF-8"`)
	}
	writeDAVError(w, de)
}

func writeDAVError(w http.ResponseWriter, de *davError) {
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString("<D:error" + nsDecls + ">")
	if de.Cond.Local != "" {
		if de.Href != "" {
			b.WriteString(openTag(de.Cond) + "<D:href>" + escapeText(de.Href) + "</D:href>" + closeTag(de.Cond))
		} else {
			b.WriteString(emptyTag(de.Cond))
		}
	}
	if de.Msg != "" {
		b.WriteString(`<S:message xmlns:S="` + nsSalon + `">` + escapeText(de.Msg) + "</S:message>")
	}
	b.WriteString("</D:error>\n")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Del("ETag")
	w.Header().Del("Schedule-Tag")
	w.WriteHeader(de.Status)
	_, _ = w.Write([]byte(b.String()))
}

type logKey struct{}

func loggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}
