package calendar_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	goical "github.com/emersion/go-ical"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/calendar/ical"
)

const (
	inboxPath  = "/dav/calendars/alice/inbox/"
	outboxPath = "/dav/calendars/alice/outbox/"
)

// storeObject writes an object straight into the store, as the scheduler
// does: an inbox message (with a METHOD) or an object with a schedule tag.
func (e *env) storeObject(user, cal, name, data, scheduleTag string) {
	e.t.Helper()
	ctx := context.Background()
	c, err := e.store.Calendar(ctx, user, cal)
	if err != nil {
		e.t.Fatalf("calendar %s/%s: %v", user, cal, err)
	}
	// Parse refuses iTIP messages; their bounds are those of the event.
	p, err := ical.Parse([]byte(strings.Replace(data, "METHOD:REQUEST\r\n", "", 1)))
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	o := &calendar.Object{CalendarID: c.ID, Name: name, UID: p.UID, Component: p.Component, Data: []byte(data),
		Size: len(data), Start: p.Start, End: p.End, Modified: fixedNow, ScheduleTag: scheduleTag}
	if _, _, err := e.store.PutObject(ctx, o, calendar.Precondition{}); err != nil {
		e.t.Fatalf("store %s: %v", name, err)
	}
}

// eventWith is event with extra content lines (CRLF-terminated) in the
// VEVENT.
func eventWith(uid, start, extra string) string {
	return strings.Replace(event(uid, start), "END:VEVENT", extra+"END:VEVENT", 1)
}

// inviteMessage is an iTIP REQUEST as the scheduler leaves in an inbox.
func inviteMessage(uid, start string) string {
	return strings.Replace(eventWith(uid, start, "ORGANIZER:mailto:bob@example.com\r\nATTENDEE:mailto:alice@example.com\r\n"),
		"VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:REQUEST\r\n", 1)
}

// freeBusyRequest is a VFREEBUSY REQUEST as Apple Calendar and Thunderbird
// POST it to an outbox.
func freeBusyRequest(organizer, start, end string, attendees ...string) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//salon//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\n" +
		"UID:fb-1\r\nDTSTAMP:20250301T000000Z\r\nDTSTART:" + start + "\r\nDTEND:" + end + "\r\nORGANIZER:" + organizer + "\r\n")
	for _, a := range attendees {
		b.WriteString("ATTENDEE:" + a + "\r\n")
	}
	b.WriteString("END:VFREEBUSY\r\nEND:VCALENDAR\r\n")
	return b.String()
}

func (e *env) postOutbox(user, body string) reply {
	e.t.Helper()
	return e.do(user, "POST", "/dav/calendars/"+user+"/outbox/", body, "Content-Type", "text/calendar; charset=utf-8")
}

// scheduleResponse is a parsed CALDAV:schedule-response (RFC 6638 §10.1).
type scheduleResponse struct {
	Responses []struct {
		Recipient struct {
			Href string `xml:"DAV: href"`
		} `xml:"urn:ietf:params:xml:ns:caldav recipient"`
		Status string `xml:"urn:ietf:params:xml:ns:caldav request-status"`
		Data   string `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
	} `xml:"urn:ietf:params:xml:ns:caldav response"`
}

func parseScheduleResponse(t *testing.T, r reply) scheduleResponse {
	t.Helper()
	r.expect(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var sr scheduleResponse
	if err := xml.Unmarshal([]byte(r.body), &sr); err != nil {
		t.Fatalf("schedule-response does not parse: %v\n%s", err, r.body)
	}
	return sr
}

// freeBusyOf decodes a reply's VFREEBUSY.
func freeBusyOf(t *testing.T, data string) (*goical.Calendar, *goical.Component) {
	t.Helper()
	cal, err := goical.NewDecoder(strings.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("calendar-data does not parse: %v\n%s", err, data)
	}
	for _, c := range cal.Children {
		if c.Name == goical.CompFreeBusy {
			return cal, c
		}
	}
	t.Fatalf("no VFREEBUSY in\n%s", data)
	return nil, nil
}
