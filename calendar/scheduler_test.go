package calendar_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/calendar/sqlstore"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/meeting"
	"github.com/salonhq/salon/mail"
)

// schedNow is the scheduling tests' clock: events in 2030 are in the
// future, events in 2020 in the past.
var schedNow = time.Date(2029, 6, 1, 8, 0, 0, 0, time.UTC)

const publicURL = "https://meet.example.org"

type schedEnv struct {
	*env
	sched  *calendar.Scheduler
	outbox *mail.Outbox
	tokens *auth.Tokens
	store  *sqlstore.Store
}

// newSchedEnv is newEnv with implicit scheduling: a real meeting store,
// composer and outbox (local mailbox) on the same SQLite database.
func newSchedEnv(t *testing.T, mutate ...func(*calendar.SchedulerConfig)) *schedEnv {
	t.Helper()
	e := newSchedParts(t, mutate...)
	srv := httptest.NewServer(testAuth(e.handler))
	t.Cleanup(srv.Close)
	return &schedEnv{env: &env{t: t, srv: srv, store: e.store}, sched: e.sched, outbox: e.outbox, tokens: e.tokens, store: e.store}
}

type schedParts struct {
	sched   *calendar.Scheduler
	outbox  *mail.Outbox
	tokens  *auth.Tokens
	store   *sqlstore.Store
	handler http.Handler
}

func newSchedParts(t testing.TB, mutate ...func(*calendar.SchedulerConfig)) schedParts {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	outbox := mail.NewOutbox(d, mail.OutboxConfig{}, mail.OutboxOptions{Now: func() time.Time { return schedNow }})
	if err := outbox.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st := sqlstore.New(d, sqlstore.Options{Outbox: outbox})
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	meetings := meeting.NewStore(d)
	if err := meetings.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		c := &calendar.Calendar{Owner: u, Name: "default", DisplayName: "Calendar", Components: []string{"VEVENT", "VTODO"}}
		if err := st.CreateCalendar(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	tokens := auth.NewTokens(bytes.Repeat([]byte{7}, 32))
	cfg := calendar.SchedulerConfig{PublicURL: publicURL}
	for _, m := range mutate {
		m(&cfg)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sched := calendar.NewScheduler(cfg, calendar.SchedulerOptions{
		Store:     st,
		Directory: users,
		Meetings:  meetings,
		Composer:  mail.NewComposer(mail.ComposerConfig{From: mail.Address{Name: "salon", Email: "salon@meet.example.org"}, Domain: "meet.example.org"}, mail.ComposerOptions{Now: func() time.Time { return schedNow }}),
		Tokens:    tokens,
		Logger:    quiet,
		Now:       func() time.Time { return schedNow },
	})
	h := calendar.NewHandler(calendar.Config{}, calendar.Options{
		Store: st, Directory: users, Scheduler: sched, Logger: quiet,
		Now: func() time.Time { return schedNow },
	})
	return schedParts{sched: sched, outbox: outbox, tokens: tokens, store: st, handler: h}
}

// meetingEvent is an event organized by alice with the given attendees.
func meetingEvent(uid, start string, seq int, attendees ...string) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//organizer//EN\r\n")
	b.WriteString("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n")
	b.WriteString("BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20290101T000000Z\r\nDTSTART;TZID=Europe/Paris:" + start +
		"\r\nDURATION:PT1H\r\nSUMMARY:Planning\r\nDESCRIPTION:Agenda: budget\r\n")
	if seq > 0 {
		b.WriteString("SEQUENCE:" + strconv.Itoa(seq) + "\r\n")
	}
	b.WriteString("ORGANIZER;CN=Alice Liddell:mailto:alice@example.com\r\n")
	b.WriteString("ATTENDEE;CN=Alice Liddell;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n")
	for _, a := range attendees {
		b.WriteString("ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:" + a + "\r\n")
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

// component parses iCalendar text and returns its first VEVENT.
func vevent(t *testing.T, data string) *goical.Component {
	t.Helper()
	cal, err := goical.NewDecoder(strings.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("stored object does not parse with go-ical: %v\n%s", err, data)
	}
	for _, c := range cal.Children {
		if c.Name == goical.CompEvent && c.Props.Get(goical.PropRecurrenceID) == nil {
			return c
		}
	}
	t.Fatalf("no VEVENT in\n%s", data)
	return nil
}

func partStatOf(t *testing.T, ev *goical.Component, addr string) (partStat, schedStatus string) {
	t.Helper()
	for _, a := range ev.Props.Values(goical.PropAttendee) {
		if strings.EqualFold(a.Value, "mailto:"+addr) {
			return a.Params.Get(goical.ParamParticipationStatus), a.Params.Get("SCHEDULE-STATUS")
		}
	}
	t.Fatalf("no ATTENDEE %s", addr)
	return "", ""
}

func (e *schedEnv) mail(t *testing.T) []mail.Entry {
	t.Helper()
	list, err := e.outbox.List(context.Background(), mail.ListOptions{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	// List is newest first; tests read in order of sending.
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func (e *schedEnv) object(t *testing.T, user, uid string) (calendar.Calendar, calendar.Object) {
	t.Helper()
	c, o, err := e.store.ObjectByUID(context.Background(), user, uid)
	if err != nil {
		t.Fatalf("%s has no copy of %s: %v", user, uid, err)
	}
	return c, o
}

func (e *schedEnv) inbox(t *testing.T, user string) []calendar.Object {
	t.Helper()
	ctx := context.Background()
	c, err := e.store.Calendar(ctx, user, calendar.InboxName)
	if errors.Is(err, calendar.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	infos, err := e.store.ObjectInfos(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range infos {
		names = append(names, i.Name)
	}
	objs, err := e.store.Objects(ctx, c.ID, names)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func methodsOf(objs []calendar.Object) map[string]int {
	m := map[string]int{}
	for _, o := range objs {
		for _, l := range strings.Split(string(o.Data), "\r\n") {
			if strings.HasPrefix(l, "METHOD:") {
				m[strings.TrimPrefix(l, "METHOD:")]++
			}
		}
	}
	return m
}

func TestOrganizerSaveInvitesAndLinks(t *testing.T) {
	e := newSchedEnv(t)
	const path = "/dav/calendars/alice/default/plan.ics"
	r := e.put("alice", path, meetingEvent("plan-1", "20300110T140000", 0, "bob@example.com", "carol@outside.example"))
	r.expect(t, http.StatusCreated)
	if et := r.header.Get("ETag"); et != "" {
		t.Errorf("PUT answered ETag %s although salon changed the object (RFC 4791 §5.3.4)", et)
	}
	if st := r.header.Get("Schedule-Tag"); st == "" {
		t.Error("PUT of a scheduling object answered no Schedule-Tag")
	}

	got := e.do("alice", "GET", path, "").expect(t, http.StatusOK)
	ev := vevent(t, got.body)
	slug, _ := ev.Props.Text("X-SALON-MEETING")
	if !meeting.ValidSlug(slug) {
		t.Fatalf("X-SALON-MEETING = %q", slug)
	}
	join := publicURL + "/m/" + slug
	conf := ev.Props.Get("CONFERENCE")
	if conf == nil || conf.Value != join || !strings.Contains(strings.Join(conf.Params["FEATURE"], ","), "VIDEO") {
		t.Errorf("CONFERENCE = %+v, want %s with FEATURE=VIDEO,AUDIO", conf, join)
	}
	if u := ev.Props.Get(goical.PropURL); u == nil || u.Value != join {
		t.Errorf("URL = %+v", u)
	}
	if l, _ := ev.Props.Text(goical.PropLocation); l != join {
		t.Errorf("LOCATION = %q, want the join link (it was empty)", l)
	}
	desc, _ := ev.Props.Text(goical.PropDescription)
	if !strings.HasPrefix(desc, "Agenda: budget\n\n") || strings.Count(desc, join) != 1 {
		t.Errorf("DESCRIPTION = %q", desc)
	}
	if alt, _ := ev.Props.Text("X-ALT-DESC"); !strings.Contains(alt, `href="`+join+`"`) {
		t.Errorf("X-ALT-DESC = %q", alt)
	}
	if ps, ss := partStatOf(t, ev, "bob@example.com"); ps != "NEEDS-ACTION" || ss != "1.2" {
		t.Errorf("bob: PARTSTAT %s SCHEDULE-STATUS %s, want NEEDS-ACTION 1.2", ps, ss)
	}
	if _, ss := partStatOf(t, ev, "carol@outside.example"); ss != "1.1" {
		t.Errorf("carol: SCHEDULE-STATUS %s, want 1.1", ss)
	}
	if got.header.Get("ETag") == "" || got.header.Get("Schedule-Tag") != r.header.Get("Schedule-Tag") {
		t.Errorf("GET ETag %q Schedule-Tag %q (PUT said %q)", got.header.Get("ETag"), got.header.Get("Schedule-Tag"), r.header.Get("Schedule-Tag"))
	}

	// Bob, a salon user, has it in his calendar and his inbox at once.
	_, bobCopy := e.object(t, "bob", "plan-1")
	bev := vevent(t, string(bobCopy.Data))
	if ps, ss := partStatOf(t, bev, "bob@example.com"); ps != "NEEDS-ACTION" || ss != "" {
		t.Errorf("bob's copy: PARTSTAT %s SCHEDULE-STATUS %q", ps, ss)
	}
	if bobCopy.ScheduleTag == "" {
		t.Error("bob's copy has no schedule tag")
	}
	if m := methodsOf(e.inbox(t, "bob")); m["REQUEST"] != 1 {
		t.Errorf("bob's inbox: %v, want one REQUEST", m)
	}

	// Carol, outside, gets one e-mail with the link; bob gets none.
	msgs := e.mail(t)
	if len(msgs) != 1 || msgs[0].To[0] != "carol@outside.example" || msgs[0].Method != "REQUEST" || msgs[0].State != mail.StateLocal {
		t.Fatalf("outbox: %+v", msgs)
	}
	full, err := e.outbox.Entry(context.Background(), msgs[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	in, err := mail.ParseIMIP(bytes.NewReader(full.Data))
	if err != nil {
		t.Fatal(err)
	}
	if in.Method != "REQUEST" || !bytes.Contains(in.Calendar, []byte("plan-1")) {
		t.Errorf("invitation carries %s %q", in.Method, in.Calendar)
	}
	if !strings.Contains(string(full.Data), "/rsvp/") {
		t.Error("the invitation has no RSVP links")
	}

	// The same event saved again (a client rewriting DTSTAMP) sends
	// nothing and keeps one block in DESCRIPTION.
	again := strings.Replace(got.body, "DTSTAMP:20290101T000000Z", "DTSTAMP:20290102T000000Z", 1)
	r2 := e.put("alice", path, again)
	r2.expect(t, http.StatusNoContent)
	ev2 := vevent(t, e.do("alice", "GET", path, "").body)
	if d, _ := ev2.Props.Text(goical.PropDescription); strings.Count(d, join) != 1 || strings.Count(d, "salon meeting") != 1 {
		t.Errorf("DESCRIPTION after a second save = %q", d)
	}
	if n := len(e.mail(t)); n != 1 {
		t.Errorf("a save that changed nothing sent mail: %d messages", n)
	}
	if r2.header.Get("Schedule-Tag") != r.header.Get("Schedule-Tag") {
		t.Error("a save that changed nothing changed the schedule tag")
	}
}

func TestOrganizerMoveUpdatesWithHigherSequence(t *testing.T) {
	e := newSchedEnv(t)
	const path = "/dav/calendars/alice/default/move.ics"
	e.put("alice", path, meetingEvent("move-1", "20300110T140000", 0, "bob@example.com", "carol@outside.example")).expect(t, http.StatusCreated)
	slug1, _ := vevent(t, e.do("alice", "GET", path, "").body).Props.Text("X-SALON-MEETING")
	e.put("alice", path, meetingEvent("move-1", "20300111T090000", 0, "bob@example.com", "carol@outside.example")).expect(t, http.StatusNoContent)

	ev := vevent(t, e.do("alice", "GET", path, "").body)
	if seq := ev.Props.Get(goical.PropSequence); seq == nil || seq.Value != "1" {
		t.Errorf("SEQUENCE after a move = %v, want 1", seq)
	}
	if slug, _ := ev.Props.Text("X-SALON-MEETING"); slug != slug1 {
		t.Errorf("the room changed from %s to %s", slug1, slug)
	}
	msgs := e.mail(t)
	if len(msgs) != 2 || msgs[1].Method != "REQUEST" {
		t.Fatalf("outbox after the move: %+v", msgs)
	}
	upd, _ := e.outbox.Entry(context.Background(), msgs[1].Seq)
	in, err := mail.ParseIMIP(bytes.NewReader(upd.Data))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(in.Calendar, []byte("SEQUENCE:1")) || !bytes.Contains(in.Calendar, []byte("20300111T090000")) {
		t.Errorf("update carries\n%s", in.Calendar)
	}
	_, bobCopy := e.object(t, "bob", "move-1")
	if !bytes.Contains(bobCopy.Data, []byte("20300111T090000")) || !bytes.Contains(bobCopy.Data, []byte("SEQUENCE:1")) {
		t.Errorf("bob's copy was not updated:\n%s", bobCopy.Data)
	}

	// Carol removed: she alone gets a CANCEL.
	e.put("alice", path, meetingEvent("move-1", "20300111T090000", 1, "bob@example.com")).expect(t, http.StatusNoContent)
	msgs = e.mail(t)
	if len(msgs) != 3 || msgs[2].Method != "CANCEL" || msgs[2].To[0] != "carol@outside.example" {
		t.Fatalf("outbox after removing carol: %+v", msgs)
	}

	// Deleting the event cancels it for bob (his copy says CANCELLED).
	e.do("alice", "DELETE", path, "").expect(t, http.StatusNoContent)
	_, bobCopy = e.object(t, "bob", "move-1")
	if st, _ := vevent(t, string(bobCopy.Data)).Props.Text(goical.PropStatus); st != "CANCELLED" {
		t.Errorf("bob's copy after the delete has STATUS %q", st)
	}
	if m := methodsOf(e.inbox(t, "bob")); m["CANCEL"] != 1 {
		t.Errorf("bob's inbox: %v", m)
	}
}

func TestAttendeeAnswersReachTheOrganizer(t *testing.T) {
	e := newSchedEnv(t)
	const path = "/dav/calendars/alice/default/ans.ics"
	e.put("alice", path, meetingEvent("ans-1", "20300110T140000", 0, "bob@example.com", "carol@outside.example")).expect(t, http.StatusCreated)

	// Bob accepts in his client.
	bobCal, bobCopy := e.object(t, "bob", "ans-1")
	accepted := strings.Replace(string(bobCopy.Data), "mailto:bob@example.com", "mailto:bob@example.com", 1)
	accepted = strings.Replace(accepted, "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com", "PARTSTAT=ACCEPTED:mailto:bob@example.com", 1)
	if accepted == string(bobCopy.Data) {
		t.Fatalf("test cannot find bob's ATTENDEE line in\n%s", bobCopy.Data)
	}
	bobPath := "/dav/calendars/bob/" + bobCal.Name + "/" + bobCopy.Name
	e.put("bob", bobPath, accepted, "If-Schedule-Tag-Match", bobCopy.ScheduleTag).expect(t, http.StatusNoContent)
	ev := vevent(t, e.do("alice", "GET", path, "").body)
	if ps, ss := partStatOf(t, ev, "bob@example.com"); ps != "ACCEPTED" || ss != "2.0" {
		t.Errorf("alice's copy: bob %s %s, want ACCEPTED 2.0", ps, ss)
	}
	if m := methodsOf(e.inbox(t, "alice")); m["REPLY"] != 1 {
		t.Errorf("alice's inbox: %v, want one REPLY", m)
	}

	// Carol answers through her RSVP link.
	claims := auth.RSVPClaims{Organizer: "alice", UID: "ans-1", Attendee: "carol@outside.example", Expires: schedNow.Add(time.Hour)}
	v, err := e.sched.Respond(context.Background(), claims, "TENTATIVE")
	if err != nil {
		t.Fatal(err)
	}
	if v.PartStat != "TENTATIVE" || v.Summary != "Planning" || !strings.HasPrefix(v.JoinURL, publicURL+"/m/") || v.TimeZone != "Europe/Paris" {
		t.Errorf("view after answering: %+v", v)
	}
	ev = vevent(t, e.do("alice", "GET", path, "").body)
	if ps, _ := partStatOf(t, ev, "carol@outside.example"); ps != "TENTATIVE" {
		t.Errorf("alice's copy: carol %s", ps)
	}
	// A token for someone who does not attend finds nothing.
	claims.Attendee = "mallory@outside.example"
	if _, err := e.sched.Respond(context.Background(), claims, "ACCEPTED"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("answer of a non-attendee: %v", err)
	}

	// Alice saves her (stale) copy again: the answers stay.
	e.put("alice", path, meetingEvent("ans-1", "20300110T140000", 0, "bob@example.com", "carol@outside.example")).expect(t, http.StatusNoContent)
	ev = vevent(t, e.do("alice", "GET", path, "").body)
	if ps, _ := partStatOf(t, ev, "bob@example.com"); ps != "ACCEPTED" {
		t.Errorf("a stale organizer save undid bob's answer: %s", ps)
	}
}

func TestIMIPReplies(t *testing.T) {
	e := newSchedEnv(t)
	const path = "/dav/calendars/alice/default/imip.ics"
	e.put("alice", path, meetingEvent("imip-1", "20300110T140000", 0, "carol@outside.example")).expect(t, http.StatusCreated)
	reply := func(from, attendee, partstat string, seq int, organizer bool) *mail.Inbound {
		var b strings.Builder
		b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:imip-1\r\nDTSTAMP:20290601T070000Z\r\nSEQUENCE:" + strconv.Itoa(seq) + "\r\n")
		if organizer {
			b.WriteString("ORGANIZER:mailto:alice@example.com\r\n")
		}
		b.WriteString("ATTENDEE;PARTSTAT=" + partstat + ":mailto:" + attendee + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
		return &mail.Inbound{From: mail.Address{Email: from}, Method: "REPLY", Calendar: []byte(b.String())}
	}
	ctx := context.Background()
	// Outlook: no ORGANIZER; the envelope recipient says who it is for.
	if err := e.sched.HandleIMIP(ctx, reply("Carol@Outside.example", "carol@outside.example", "ACCEPTED", 0, false), "carol@outside.example", []string{"alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	ev := vevent(t, e.do("alice", "GET", path, "").body)
	if ps, _ := partStatOf(t, ev, "carol@outside.example"); ps != "ACCEPTED" {
		t.Errorf("after the REPLY carol is %s", ps)
	}
	// Someone else answering for carol is refused and changes nothing.
	var rej *mail.RejectError
	if err := e.sched.HandleIMIP(ctx, reply("mallory@evil.example", "carol@outside.example", "DECLINED", 0, true), "mallory@evil.example", []string{"alice@example.com"}); !errors.As(err, &rej) {
		t.Errorf("forged reply: %v, want a RejectError", err)
	}
	// A reply to an earlier SEQUENCE is ignored.
	e.put("alice", path, meetingEvent("imip-1", "20300112T140000", 0, "carol@outside.example")).expect(t, http.StatusNoContent)
	if err := e.sched.HandleIMIP(ctx, reply("carol@outside.example", "carol@outside.example", "DECLINED", 0, true), "", []string{"alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	ev = vevent(t, e.do("alice", "GET", path, "").body)
	if ps, _ := partStatOf(t, ev, "carol@outside.example"); ps == "DECLINED" {
		t.Error("a stale reply changed carol's answer")
	}
	if err := e.sched.HandleIMIP(ctx, reply("carol@outside.example", "carol@outside.example", "DECLINED", 1, true), "", []string{"alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	ev = vevent(t, e.do("alice", "GET", path, "").body)
	if ps, _ := partStatOf(t, ev, "carol@outside.example"); ps != "DECLINED" {
		t.Errorf("current reply: carol is %s", ps)
	}
	// Unknown event, malformed data, a reply for nobody here: refused.
	unknown := reply("carol@outside.example", "carol@outside.example", "ACCEPTED", 1, true)
	unknown.Calendar = bytes.Replace(unknown.Calendar, []byte("UID:imip-1"), []byte("UID:nope"), 1)
	for name, in := range map[string]*mail.Inbound{
		"unknown event": unknown,
		"garbage":       {From: mail.Address{Email: "carol@outside.example"}, Calendar: []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")},
	} {
		if err := e.sched.HandleIMIP(ctx, in, "", []string{"alice@example.com"}); !errors.As(err, &rej) {
			t.Errorf("%s: %v, want a RejectError", name, err)
		}
	}
}

func TestSchedulingEdgeCases(t *testing.T) {
	t.Run("past events send no mail", func(t *testing.T) {
		e := newSchedEnv(t)
		e.put("alice", "/dav/calendars/alice/default/old.ics", meetingEvent("old-1", "20200110T140000", 0, "carol@outside.example")).expect(t, http.StatusCreated)
		if n := len(e.mail(t)); n != 0 {
			t.Errorf("%d messages for a past event", n)
		}
	})
	t.Run("too many attendees", func(t *testing.T) {
		e := newSchedEnv(t, func(c *calendar.SchedulerConfig) { c.MaxAttendees = 3 })
		r := e.put("alice", "/dav/calendars/alice/default/big.ics", meetingEvent("big-1", "20300110T140000", 0, "a@x.example", "b@x.example", "c@x.example", "d@x.example"))
		r.expect(t, http.StatusForbidden, "max-attendees-per-instance")
		if n := len(e.mail(t)); n != 0 {
			t.Errorf("%d messages for a refused event", n)
		}
	})
	t.Run("opt out and client scheduling", func(t *testing.T) {
		e := newSchedEnv(t)
		data := meetingEvent("opt-1", "20300110T140000", 0, "carol@outside.example")
		data = strings.Replace(data, "SUMMARY:Planning\r\n", "SUMMARY:Planning\r\nX-SALON-MEETING:none\r\n", 1)
		data = strings.Replace(data, "ATTENDEE;RSVP=TRUE", "ATTENDEE;SCHEDULE-AGENT=CLIENT;RSVP=TRUE", 1)
		e.put("alice", "/dav/calendars/alice/default/opt.ics", data).expect(t, http.StatusCreated)
		ev := vevent(t, e.do("alice", "GET", "/dav/calendars/alice/default/opt.ics", "").body)
		if ev.Props.Get("CONFERENCE") != nil {
			t.Error("an opted-out event got a meeting link")
		}
		if n := len(e.mail(t)); n != 0 {
			t.Errorf("SCHEDULE-AGENT=CLIENT attendee got %d messages", n)
		}
	})
	t.Run("header injection in summary and names", func(t *testing.T) {
		e := newSchedEnv(t)
		data := meetingEvent("inj-1", "20300110T140000", 0, "carol@outside.example")
		data = strings.Replace(data, "SUMMARY:Planning", `SUMMARY:Hi\nBcc: victim@example.net`, 1)
		data = strings.Replace(data, "ATTENDEE;RSVP=TRUE", "ATTENDEE;CN=\"Carol\x01\";RSVP=TRUE", 1)
		r := e.put("alice", "/dav/calendars/alice/default/inj.ics", data)
		if r.status >= 500 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		for _, m := range e.mail(t) {
			full, _ := e.outbox.Entry(context.Background(), m.Seq)
			hdr := string(full.Data[:bytes.Index(full.Data, []byte("\r\n\r\n"))])
			if strings.Contains(strings.ToLower(hdr), "\r\nbcc:") {
				t.Errorf("header injected:\n%s", hdr)
			}
			if len(m.To) != 1 || m.To[0] != "carol@outside.example" {
				t.Errorf("recipients %v", m.To)
			}
		}
	})
	t.Run("invalid attendee address", func(t *testing.T) {
		e := newSchedEnv(t)
		data := meetingEvent("bad-1", "20300110T140000", 0, "not an address")
		e.put("alice", "/dav/calendars/alice/default/bad.ics", data).expect(t, http.StatusCreated)
		ev := vevent(t, e.do("alice", "GET", "/dav/calendars/alice/default/bad.ics", "").body)
		if _, ss := partStatOf(t, ev, "not an address"); ss != "3.7" {
			t.Errorf("SCHEDULE-STATUS %q, want 3.7", ss)
		}
		if n := len(e.mail(t)); n != 0 {
			t.Errorf("%d messages to an invalid address", n)
		}
	})
	t.Run("recurring series keeps one room", func(t *testing.T) {
		e := newSchedEnv(t)
		data := meetingEvent("rec-1", "20300110T140000", 0, "carol@outside.example")
		data = strings.Replace(data, "DURATION:PT1H\r\n", "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n", 1)
		override := "BEGIN:VEVENT\r\nUID:rec-1\r\nRECURRENCE-ID;TZID=Europe/Paris:20300117T140000\r\nDTSTAMP:20290101T000000Z\r\nDTSTART;TZID=Europe/Paris:20300117T160000\r\nDURATION:PT1H\r\nSUMMARY:Planning (moved)\r\nORGANIZER:mailto:alice@example.com\r\nATTENDEE:mailto:carol@outside.example\r\nEND:VEVENT\r\n"
		data = strings.Replace(data, "END:VCALENDAR", override+"END:VCALENDAR", 1)
		e.put("alice", "/dav/calendars/alice/default/rec.ics", data).expect(t, http.StatusCreated)
		body := e.do("alice", "GET", "/dav/calendars/alice/default/rec.ics", "").body
		cal, err := goical.NewDecoder(strings.NewReader(body)).Decode()
		if err != nil {
			t.Fatal(err)
		}
		slugs := map[string]bool{}
		for _, c := range cal.Events() {
			s, _ := c.Props.Text("X-SALON-MEETING")
			slugs[s] = true
		}
		if len(slugs) != 1 || slugs[""] {
			t.Errorf("series rooms: %v", slugs)
		}
		if n := len(e.mail(t)); n != 1 {
			t.Errorf("%d messages for one attendee of a series", n)
		}
	})
}

// TestConcurrentAnswers: answers racing each other and the organizer all
// land.
func TestConcurrentAnswers(t *testing.T) {
	e := newSchedEnv(t)
	var atts []string
	for i := range 8 {
		atts = append(atts, "guest"+string(rune('a'+i))+"@outside.example")
	}
	e.put("alice", "/dav/calendars/alice/default/race.ics", meetingEvent("race-1", "20300110T140000", 0, atts...)).expect(t, http.StatusCreated)
	var wg sync.WaitGroup
	errs := make(chan error, len(atts))
	for _, a := range atts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.sched.Respond(context.Background(), auth.RSVPClaims{Organizer: "alice", UID: "race-1", Attendee: a, Expires: schedNow.Add(time.Hour)}, "ACCEPTED")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ev := vevent(t, e.do("alice", "GET", "/dav/calendars/alice/default/race.ics", "").body)
	for _, a := range atts {
		if ps, _ := partStatOf(t, ev, a); ps != "ACCEPTED" {
			t.Errorf("%s is %s after racing answers", a, ps)
		}
	}
}

// TestAttendeeDeleteDeclines: an attendee deleting their copy tells the
// organizer they decline (RFC 6638 §3.2.2.3), unless the client says
// Schedule-Reply: F.
func TestAttendeeDeleteDeclines(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		e := newSchedEnv(t)
		const path = "/dav/calendars/alice/default/del.ics"
		e.put("alice", path, meetingEvent("del-1", "20300110T140000", 0, "bob@example.com")).expect(t, http.StatusCreated)
		bobCal, bobCopy := e.object(t, "bob", "del-1")
		var hdr []string
		if quiet {
			hdr = []string{"Schedule-Reply", "F"}
		}
		e.do("bob", "DELETE", "/dav/calendars/bob/"+bobCal.Name+"/"+bobCopy.Name, "", hdr...).expect(t, http.StatusNoContent)
		if _, _, err := e.store.ObjectByUID(context.Background(), "bob", "del-1"); !errors.Is(err, calendar.ErrNotFound) {
			t.Errorf("bob's copy is still there: %v", err)
		}
		ps, _ := partStatOf(t, vevent(t, e.do("alice", "GET", path, "").body), "bob@example.com")
		want := "DECLINED"
		if quiet {
			want = "NEEDS-ACTION"
		}
		if ps != want {
			t.Errorf("Schedule-Reply F=%v: alice sees bob %s, want %s", quiet, ps, want)
		}
	}
}

// TestScheduleFromSalon: a meeting made in salon itself (web app, API)
// is an event in the organizer's calendar, scheduled like any other.
func TestScheduleFromSalon(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	alice := users["alice"]
	at := func(s string) time.Time { tm, _ := time.Parse("2006-01-02T15:04", s); return tm }
	res, err := e.sched.Schedule(ctx, alice, calendar.NewMeeting{
		Title: "Budget\r\nreview", Description: "Bring numbers.", Start: at("2030-01-10T14:00"), End: at("2030-01-10T15:00"),
		TimeZone: "Europe/Paris", Attendees: []string{"bob@example.com", "carol@outside.example", "Carol@outside.example", ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.JoinURL, publicURL+"/m/") || res.Calendar != "default" {
		t.Fatalf("scheduled: %+v", res)
	}
	body := e.do("alice", "GET", "/dav/calendars/alice/default/"+res.Object, "").expect(t, http.StatusOK).body
	ev := vevent(t, body)
	if s, _ := ev.Props.Text(goical.PropSummary); s != "Budget review" {
		t.Errorf("SUMMARY %q", s)
	}
	if p := ev.Props.Get(goical.PropDateTimeStart); p == nil || p.Value != "20300110T140000" || p.Params.Get(goical.ParamTimezoneID) != "Europe/Paris" {
		t.Errorf("DTSTART %+v", p)
	}
	if !strings.Contains(body, "BEGIN:VTIMEZONE") {
		t.Error("no VTIMEZONE for the event's zone")
	}
	e.object(t, "bob", res.UID)
	if msgs := e.mail(t); len(msgs) != 1 || msgs[0].To[0] != "carol@outside.example" {
		t.Errorf("outbox: %+v", msgs)
	}

	// Nobody invited yet: the meeting still gets its room, so that its
	// link can be shared by hand; guests added later from a CalDAV client
	// are invited to the same room.
	solo, err := e.sched.Schedule(ctx, alice, calendar.NewMeeting{
		Title: "Office hours", Start: at("2030-01-11T09:00"), End: at("2030-01-11T10:00"), TimeZone: "Europe/Paris",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(solo.JoinURL, publicURL+"/m/") || solo.JoinURL == res.JoinURL {
		t.Fatalf("a meeting without guests: %+v (the first had %s)", solo, res.JoinURL)
	}
	soloPath := "/dav/calendars/alice/default/" + solo.Object
	soloBody := e.do("alice", "GET", soloPath, "").expect(t, http.StatusOK).body
	if !strings.Contains(soloBody, solo.JoinURL) {
		t.Errorf("the stored event does not carry its link %s:\n%s", solo.JoinURL, soloBody)
	}
	if n := len(e.mail(t)); n != 1 {
		t.Errorf("a meeting without guests sent mail: %d messages", n)
	}
	withGuest := strings.Replace(soloBody, "END:VEVENT", "ATTENDEE;RSVP=TRUE:mailto:dave@outside.example\r\nEND:VEVENT", 1)
	e.do("alice", "PUT", soloPath, withGuest).expect(t, http.StatusNoContent)
	if msgs := e.mail(t); len(msgs) != 2 || msgs[1].To[0] != "dave@outside.example" || msgs[1].UID != solo.UID || msgs[1].Method != "REQUEST" {
		t.Errorf("the guest added later was not invited: %d messages", len(msgs))
	}
	if after := e.do("alice", "GET", soloPath, "").expect(t, http.StatusOK).body; !strings.Contains(after, solo.JoinURL) {
		t.Errorf("adding a guest changed the meeting's room (want %s):\n%s", solo.JoinURL, after)
	}

	var ie *calendar.InvalidMeetingError
	for name, m := range map[string]calendar.NewMeeting{
		"no title":      {Title: " \t", Start: at("2030-01-10T14:00"), End: at("2030-01-10T15:00")},
		"backwards":     {Title: "x", Start: at("2030-01-10T14:00"), End: at("2030-01-10T13:00")},
		"too long":      {Title: "x", Start: at("2030-01-10T14:00"), End: at("2030-02-10T13:00")},
		"bad zone":      {Title: "x", Start: at("2030-01-10T14:00"), End: at("2030-01-10T15:00"), TimeZone: "../../etc/passwd"},
		"bad address":   {Title: "x", Start: at("2030-01-10T14:00"), End: at("2030-01-10T15:00"), Attendees: []string{"a@b.example\r\nBcc: c@d.example"}},
		"display name":  {Title: "x", Start: at("2030-01-10T14:00"), End: at("2030-01-10T15:00"), Attendees: []string{"Ada <ada@example.org>"}},
		"many invitees": {Title: "x", Start: at("2030-01-10T14:00"), End: at("2030-01-10T15:00"), Attendees: strings.Split(strings.Repeat("a@b.example,", 201), ",")},
	} {
		if _, err := e.sched.Schedule(ctx, alice, m); !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an InvalidMeetingError", name, err)
		}
	}
	if n := len(e.mail(t)); n != 2 {
		t.Errorf("refused meetings sent mail: %d messages", n)
	}
}
