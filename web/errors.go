package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/salonhq/salon/internal/meeting"
)

// apiError is an error with the answer the client should get: an HTTP
// status, a stable machine-readable code and a message for people. Err, when
// set, is the cause, for the log only.
type apiError struct {
	Status  int
	Code    string
	Message string
	Err     error
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.Err }

// withCause returns a copy of e carrying cause.
func (e *apiError) withCause(cause error) *apiError {
	c := *e
	c.Err = cause
	return &c
}

// The errors the API answers with. Codes are part of the API: the room page
// may translate them, so keep them stable.
var (
	errBadJSON = &apiError{Status: http.StatusBadRequest, Code: "bad-json",
		Message: `The request body must be a JSON object such as {"name": "Ada"}.`}
	errBadName = &apiError{Status: http.StatusBadRequest, Code: "bad-name",
		Message: "Enter a name of 1 to 64 characters, without control characters."}
	errTooLarge = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too-large",
		Message: "The request body is too large; send at most 4 KiB."}
	errNotJSON = &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported-media-type",
		Message: "Send the request body as JSON, with Content-Type: application/json."}
	errCrossOrigin = &apiError{Status: http.StatusForbidden, Code: "cross-origin",
		Message: "This request came from another site; open the meeting from salon's own page."}
	errMeetingNotFound = &apiError{Status: http.StatusNotFound, Code: "not-found",
		Message: "There is no meeting at this address. Check the link you were given."}
	errNoSuchEndpoint = &apiError{Status: http.StatusNotFound, Code: "not-found",
		Message: "There is no API endpoint at this address."}
	errRateLimited = &apiError{Status: http.StatusTooManyRequests, Code: "rate-limited",
		Message: "Too many join requests from your address; wait a few seconds and try again."}
	errInternal = &apiError{Status: http.StatusInternalServerError, Code: "internal",
		Message: "Something went wrong on the server. Try again in a moment; if it keeps happening, tell the administrator."}
)

// writeError answers r with err as a JSON error. This is the one place where
// errors become responses: known errors map to their status and message,
// anything else is a 500 whose cause goes to the log, never to the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := asAPIError(err)
	level := slog.LevelDebug
	if ae.Status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request refused",
		"method", r.Method, "path", r.URL.Path, "status", ae.Status, "code", ae.Code, "err", err)
	writeJSONError(w, ae.Status, ae.Code, ae.Message)
}

// asAPIError maps err to the answer the client gets.
func asAPIError(err error) *apiError {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae
	}
	if errors.Is(err, meeting.ErrNotFound) {
		return errMeetingNotFound.withCause(err)
	}
	return errInternal.withCause(err)
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	var body errorBody
	body.Error.Code = code
	body.Error.Message = message
	writeJSON(w, status, body)
}

// writeJSON answers with v as JSON. API answers are never cached: they may
// carry tokens, and they describe the present.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	data, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here and they always marshal;
		// still, answer rather than crash.
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"internal","message":"The server could not encode its answer."}}`)
	}
	data = append(data, '\n')
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(data)
}
