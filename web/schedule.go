package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/auth"
)

// Scheduler makes meetings for signed-in users; the calendar's scheduler
// implements it, so a meeting made here is an event in the organizer's
// calendar with invitations, exactly as if a CalDAV client had saved it.
type Scheduler interface {
	Schedule(ctx context.Context, u auth.User, m calendar.NewMeeting) (calendar.ScheduledMeeting, error)
}

// maxScheduleBody bounds a meeting request: 200 attendees of 254 bytes and
// a 32 KiB description fit.
const maxScheduleBody = 128 << 10

// scheduleRequest is the body of POST /api/v1/meetings. Times are wall
// clock in timeZone, as people type them: "2026-12-15T10:00".
type scheduleRequest struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Start       string   `json:"start"`
	End         string   `json:"end"`
	TimeZone    string   `json:"timeZone"`
	Attendees   []string `json:"attendees"`
}

type scheduleResponse struct {
	UID     string `json:"uid"`
	JoinURL string `json:"joinUrl"`
	Event   string `json:"event"` // the event's CalDAV URL path
}

var (
	errBadMeeting = &apiError{Status: http.StatusBadRequest, Code: "bad-meeting",
		Message: "The meeting is not valid."}
	errBadMeetingJSON = &apiError{Status: http.StatusBadRequest, Code: "bad-json",
		Message: `The request body must be a JSON object such as {"title": "Review", "start": "2026-12-15T10:00", "end": "2026-12-15T11:00", "timeZone": "Europe/Paris", "attendees": ["ada@example.org"]}.`}
	errMeetingTooLarge = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too-large",
		Message: "The request body is too large; send at most 128 KiB."}
)

// serveSchedule answers POST /api/v1/meetings: a signed-in user schedules
// a meeting from salon itself.
func (s *Server) serveSchedule(w http.ResponseWriter, r *http.Request) {
	u, ok := auth.UserFromContext(r.Context())
	if !ok {
		s.log.ErrorContext(r.Context(), "UserAuth let a request through without a user in the context")
		s.writeError(w, r, errInternal)
		return
	}
	// Basic credentials ride along on any request to salon, a cross-site
	// form's too; only salon's own pages and scripts may schedule.
	if err := s.checkOrigin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := requireJSON(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req scheduleRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxScheduleBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.writeError(w, r, errMeetingTooLarge.withCause(err))
			return
		}
		s.writeError(w, r, errBadMeetingJSON.withCause(err))
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		s.writeError(w, r, errBadMeetingJSON.withCause(errors.New("data after the JSON object")))
		return
	}
	start, err1 := time.Parse("2006-01-02T15:04", req.Start)
	end, err2 := time.Parse("2006-01-02T15:04", req.End)
	if err := errors.Join(err1, err2); err != nil {
		s.writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "bad-meeting",
			Message: `start and end are local times such as "2026-12-15T10:00".`, Err: err})
		return
	}
	res, err := s.scheduler.Schedule(r.Context(), u, calendar.NewMeeting{
		Title: req.Title, Description: req.Description, Start: start, End: end,
		TimeZone: req.TimeZone, Attendees: req.Attendees,
	})
	if ie, ok := errors.AsType[*calendar.InvalidMeetingError](err); ok {
		e := errBadMeeting.withCause(err)
		e.Message = ie.Msg
		s.writeError(w, r, e)
		return
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("schedule a meeting for %s: %w", u.Name, err))
		return
	}
	writeJSON(w, http.StatusCreated, scheduleResponse{
		UID: res.UID, JoinURL: res.JoinURL,
		Event: "/dav/calendars/" + u.Name + "/" + res.Calendar + "/" + res.Object,
	})
}
