package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	goical "github.com/emersion/go-ical"

	"github.com/salonhq/salon/calendar/ical"
	"github.com/salonhq/salon/internal/auth"
)

// NewMeeting is a meeting scheduled from salon itself (the web app or the
// JSON API) rather than from a CalDAV client.
type NewMeeting struct {
	Title       string
	Description string
	// Start and End are wall-clock times in TimeZone (their own location
	// is ignored).
	Start, End time.Time
	TimeZone   string   // IANA name; "" means UTC
	Attendees  []string // e-mail addresses
}

// ScheduledMeeting is what Schedule made.
type ScheduledMeeting struct {
	UID      string
	Calendar string // the organizer's calendar it is in
	Object   string // its name there
	JoinURL  string
}

// InvalidMeetingError says what is wrong with a NewMeeting, for the person
// who filled it in.
type InvalidMeetingError struct{ Msg string }

func (e *InvalidMeetingError) Error() string { return e.Msg }

// maxMeetingLength bounds one meeting made from the web app.
const maxMeetingLength = 7 * 24 * time.Hour

// Schedule makes u's event for m in u's default calendar and schedules it
// exactly as a CalDAV client's save would be: a meeting room, invitations
// to the attendees, answers coming back to the event.
func (s *Scheduler) Schedule(ctx context.Context, u auth.User, m NewMeeting) (ScheduledMeeting, error) {
	title := strings.Join(strings.FieldsFunc(m.Title, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if title == "" || len(title) > 512 {
		return ScheduledMeeting{}, &InvalidMeetingError{"give the meeting a title of at most 512 bytes"}
	}
	loc := time.UTC
	if m.TimeZone != "" && m.TimeZone != "UTC" {
		l, err := time.LoadLocation(m.TimeZone)
		if err != nil || strings.HasPrefix(m.TimeZone, "/") || strings.Contains(m.TimeZone, "..") {
			return ScheduledMeeting{}, &InvalidMeetingError{fmt.Sprintf("unknown time zone %q; use an IANA name such as Europe/Paris", m.TimeZone)}
		}
		loc = l
	}
	wall := func(t time.Time) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, loc)
	}
	start, end := wall(m.Start), wall(m.End)
	if !end.After(start) || end.Sub(start) > maxMeetingLength {
		return ScheduledMeeting{}, &InvalidMeetingError{"the meeting must end after it starts, and last at most 7 days"}
	}
	if len(m.Description) > 32<<10 {
		return ScheduledMeeting{}, &InvalidMeetingError{"the description is longer than 32 KiB"}
	}
	if len(m.Attendees) > s.cfg.MaxAttendees {
		return ScheduledMeeting{}, &InvalidMeetingError{fmt.Sprintf("at most %d attendees per meeting", s.cfg.MaxAttendees)}
	}
	seen := map[string]bool{strings.ToLower(u.Email): true}
	var attendees []string
	for _, a := range m.Attendees {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if address("mailto:"+a) == "" {
			return ScheduledMeeting{}, &InvalidMeetingError{fmt.Sprintf("%q is not an e-mail address", a)}
		}
		if p, err := mail.ParseAddress(a); err != nil || p.Address != a {
			return ScheduledMeeting{}, &InvalidMeetingError{fmt.Sprintf("%q is not an e-mail address", a)}
		}
		if !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			attendees = append(attendees, a)
		}
	}

	c, err := defaultCalendarOf(ctx, s.store, u.Name)
	if errors.Is(err, ErrNotFound) {
		return ScheduledMeeting{}, &InvalidMeetingError{"you have no calendar for events; create one in your CalDAV client first"}
	}
	if err != nil {
		return ScheduledMeeting{}, err
	}
	uid := randomHex(16) + "@salon"
	cal := newEventCalendar(u, uid, title, m.Description, start, end, loc, attendees, s.now().UTC())
	data := encodeCalendar(cal)
	p, err := ical.Parse(data)
	if err != nil {
		return ScheduledMeeting{}, fmt.Errorf("schedule: the event salon wrote does not parse: %w", err)
	}
	o := &Object{CalendarID: c.ID, Name: uid[:32] + ".ics", UID: p.UID, Component: p.Component,
		Data: data, Size: len(data), Start: p.Start, End: p.End, Modified: s.now().UTC()}
	handled, _, err := s.putRetry(ctx, u, &c, o, p, Precondition{IfNoneMatchAny: true}, true)
	if err != nil {
		return ScheduledMeeting{}, err
	}
	if !handled {
		if _, _, err := s.store.PutObject(ctx, o, Precondition{IfNoneMatchAny: true}); err != nil {
			return ScheduledMeeting{}, err
		}
	}
	res := ScheduledMeeting{UID: uid, Calendar: c.Name, Object: o.Name}
	if stored, err := ical.Parse(o.Data); err == nil {
		if comps := schedComponents(stored.Cal, stored.Component); len(comps) > 0 {
			if v := comps[0].Props.Get(propMeeting); v != nil {
				res.JoinURL = s.prefix + v.Value
			}
		}
	}
	s.log.InfoContext(ctx, "meeting scheduled from salon", "organizer", u.Name, "uid", uid, "attendees", len(attendees))
	return res, nil
}

// newEventCalendar writes the VEVENT of a meeting made in salon.
func newEventCalendar(u auth.User, uid, title, desc string, start, end time.Time, loc *time.Location, attendees []string, now time.Time) *goical.Calendar {
	cal := &goical.Calendar{Component: &goical.Component{Name: goical.CompCalendar, Props: goical.Props{}}}
	cal.Props.SetText(goical.PropVersion, "2.0")
	cal.Props.SetText(goical.PropProductID, prodID)
	ev := &goical.Component{Name: goical.CompEvent, Props: goical.Props{}}
	set := func(name, value string, params goical.Params) {
		if params == nil {
			params = goical.Params{}
		}
		ev.Props.Add(&goical.Prop{Name: name, Value: value, Params: params})
	}
	set(goical.PropUID, uid, nil)
	set(goical.PropDateTimeStamp, now.Format("20060102T150405Z"), nil)
	if loc == time.UTC {
		set(goical.PropDateTimeStart, start.UTC().Format("20060102T150405Z"), nil)
		set(goical.PropDateTimeEnd, end.UTC().Format("20060102T150405Z"), nil)
	} else {
		tz := goical.Params{goical.ParamTimezoneID: {loc.String()}}
		set(goical.PropDateTimeStart, start.Format("20060102T150405"), tz)
		set(goical.PropDateTimeEnd, end.Format("20060102T150405"), goical.Params{goical.ParamTimezoneID: {loc.String()}})
		cal.Children = append(cal.Children, ical.VTimezone(loc.String(), loc, start))
	}
	ev.Props.SetText(goical.PropSummary, title)
	if strings.TrimSpace(desc) != "" {
		ev.Props.SetText(goical.PropDescription, strings.ReplaceAll(desc, "\r\n", "\n"))
	}
	set(goical.PropOrganizer, "mailto:"+u.Email, commonName(u.DisplayName))
	self := commonName(u.DisplayName)
	self.Set(goical.ParamParticipationStatus, partAccepted)
	self.Set(goical.ParamRole, "CHAIR")
	set(goical.PropAttendee, "mailto:"+u.Email, self)
	for _, a := range attendees {
		set(goical.PropAttendee, "mailto:"+a, goical.Params{
			goical.ParamParticipationStatus: {partNeedsAction}, goical.ParamRSVP: {"TRUE"}, goical.ParamRole: {"REQ-PARTICIPANT"},
		})
	}
	cal.Children = append(cal.Children, ev)
	return cal
}
