package sqlstore

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/salonhq/salon/calendar"
)

func testCalendars(t *testing.T, newStore func(*testing.T, Options) *Store) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now})

	if list, err := s.Calendars(ctx, "alice"); err != nil || len(list) != 0 {
		t.Fatalf("Calendars of a new user = %v, %v; want none", list, err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	clk.t = clk.t.In(paris)
	work := calendar.Calendar{
		Owner: "alice", Name: "work", DisplayName: "Travail ✓", Description: "Réunions",
		Color: "#3a87adff", Order: 2, Timezone: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
		Components: []string{"VEVENT"},
		DeadProps:  map[string]string{"{http://example.com/ns}x": `<x xmlns="http://example.com/ns">a &amp; "b"</x>`},
	}
	if err := s.CreateCalendar(ctx, &work); err != nil {
		t.Fatal(err)
	}
	if work.ID == 0 || work.SyncToken == 0 {
		t.Errorf("CreateCalendar left ID %d, SyncToken %d", work.ID, work.SyncToken)
	}
	wantTime := time.Date(2026, 5, 4, 9, 30, 0, 123456000, time.UTC)
	if work.CreatedAt != wantTime || work.UpdatedAt != wantTime {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v (UTC, to the microsecond)", work.CreatedAt, work.UpdatedAt, wantTime)
	}
	got, err := s.Calendar(ctx, "alice", "work")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, work) {
		t.Errorf("Calendar =\n%+v\nwant\n%+v", got, work)
	}

	// Names are unique per owner.
	dup := calendar.Calendar{Owner: "alice", Name: "work"}
	if err := s.CreateCalendar(ctx, &dup); !errors.Is(err, calendar.ErrExists) {
		t.Errorf("second alice/work: %v, want ErrExists", err)
	}
	if dup.ID != 0 {
		t.Errorf("failed CreateCalendar set ID %d", dup.ID)
	}
	mustCalendar(t, s, "bob", "work")
	for _, c := range []calendar.Calendar{
		{Owner: "alice", Name: "b-home", Order: 1},
		{Owner: "alice", Name: "a-later", Order: 2},
		{Owner: "alice", Name: "z-first", Order: -1},
	} {
		if err := s.CreateCalendar(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Calendars(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	if want := []string{"z-first", "b-home", "a-later", "work"}; !slices.Equal(names, want) {
		t.Errorf("Calendars = %v, want %v (by order, then name)", names, want)
	}
	if !reflect.DeepEqual(list[3], work) {
		t.Errorf("listed work =\n%+v\nwant\n%+v", list[3], work)
	}

	if _, err := s.Calendar(ctx, "alice", "nope"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("missing calendar: %v, want ErrNotFound", err)
	}
	if _, err := s.Calendar(ctx, "carol", "work"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("another owner's calendar: %v, want ErrNotFound", err)
	}
	for _, c := range []calendar.Calendar{{Owner: "alice"}, {Name: "x"}} {
		if err := s.CreateCalendar(ctx, &c); err == nil {
			t.Errorf("CreateCalendar(%+v) accepted an empty owner or name", c)
		}
	}
}

func testCalendarProperties(t *testing.T, newStore func(*testing.T, Options) *Store) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now})
	c := mustCalendar(t, s, "alice", "home")
	created := c

	clk.Advance(time.Minute)
	c.DisplayName = "Maison"
	c.Description = "Famille"
	c.Color = "#ff0000"
	c.Order = 7
	c.Timezone = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
	c.Components = []string{"VEVENT", "VTODO", "VJOURNAL"}
	c.DeadProps = map[string]string{
		"{DAV:}x":                   "<x/>",
		"{urn:example}unicode-prop": "<u>éß中</u>",
	}
	c.Owner, c.Name = "mallory", "renamed" // not properties: ignored
	if err := s.UpdateCalendar(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if c.SyncToken <= created.SyncToken {
		t.Errorf("SyncToken after UpdateCalendar = %d, want more than %d", c.SyncToken, created.SyncToken)
	}
	if want := clk.Now().Truncate(time.Microsecond); !c.UpdatedAt.Equal(want) {
		t.Errorf("UpdatedAt = %v, want %v", c.UpdatedAt, want)
	}
	got, err := s.Calendar(ctx, "alice", "home")
	if err != nil {
		t.Fatal(err)
	}
	want := c
	want.Owner, want.Name = "alice", "home"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after UpdateCalendar:\n%+v\nwant\n%+v", got, want)
	}
	if _, err := s.Calendar(ctx, "mallory", "renamed"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("UpdateCalendar renamed the calendar: %v", err)
	}

	// Clearing the lists.
	got.Components, got.DeadProps = nil, nil
	if err := s.UpdateCalendar(ctx, &got); err != nil {
		t.Fatal(err)
	}
	got2, err := s.Calendar(ctx, "alice", "home")
	if err != nil {
		t.Fatal(err)
	}
	if got2.Components != nil || got2.DeadProps != nil {
		t.Errorf("cleared Components, DeadProps = %#v, %#v; want nil", got2.Components, got2.DeadProps)
	}

	// A property change moves the ctag but lists no object.
	changes, token, err := s.Changes(ctx, c.ID, created.SyncToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 || token != got2.SyncToken {
		t.Errorf("Changes after property updates = %v, %d; want none, %d", changes, token, got2.SyncToken)
	}

	missing := calendar.Calendar{ID: c.ID + 1000, Owner: "alice", Name: "home"}
	if err := s.UpdateCalendar(ctx, &missing); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("UpdateCalendar of a missing calendar: %v, want ErrNotFound", err)
	}
}

func testDeleteCalendar(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	old := mustCalendar(t, s, "alice", "work")
	keep := mustCalendar(t, s, "alice", "keep")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	mustPut(t, s, event(old.ID, "a", "1", start), calendar.Precondition{})
	mustPut(t, s, event(keep.ID, "a", "1", start), calendar.Precondition{})
	oldToken := syncToken(t, s, "alice", "work")

	if err := s.DeleteCalendar(ctx, "alice", "work"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCalendar(ctx, "alice", "work"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("second DeleteCalendar: %v, want ErrNotFound", err)
	}
	if err := s.DeleteCalendar(ctx, "bob", "keep"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("DeleteCalendar of another owner's name: %v, want ErrNotFound", err)
	}
	if _, err := s.Object(ctx, old.ID, "a.ics"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("object of a deleted calendar: %v, want ErrNotFound", err)
	}
	for name, err := range map[string]error{
		"ObjectInfos":    second(s.ObjectInfos(ctx, old.ID)),
		"Objects":        second(s.Objects(ctx, old.ID, []string{"a.ics"})),
		"ObjectsInRange": second(s.ObjectsInRange(ctx, old.ID, "", time.Time{}, time.Time{})),
		"Changes":        third(s.Changes(ctx, old.ID, oldToken)),
		"Changes(0)":     third(s.Changes(ctx, old.ID, 0)),
		"PutObject":      third(s.PutObject(ctx, event(old.ID, "b", "1", start), calendar.Precondition{})),
		"DeleteObject":   s.DeleteObject(ctx, old.ID, "a.ics", calendar.Precondition{}),
	} {
		if !errors.Is(err, calendar.ErrNotFound) {
			t.Errorf("%s on a deleted calendar: %v, want ErrNotFound", name, err)
		}
	}
	var rows int
	if err := s.db.QueryRow(s.db.Rebind(`SELECT COUNT(*) FROM changes WHERE calendar_id = ?`), old.ID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d change-log rows outlive their calendar", rows)
	}
	if _, err := s.Object(ctx, keep.ID, "a.ics"); err != nil {
		t.Errorf("the other calendar lost its object: %v", err)
	}

	// A new calendar of the same name is a new collection: it has a new
	// ID, and a client's token from the old one does not apply to it.
	again := mustCalendar(t, s, "alice", "work")
	if again.ID == old.ID {
		t.Errorf("recreated calendar reuses ID %d", old.ID)
	}
	if again.SyncToken <= oldToken {
		t.Errorf("recreated calendar starts at token %d, not after the old one's %d", again.SyncToken, oldToken)
	}
	mustPut(t, s, event(again.ID, "c", "1", start), calendar.Precondition{})
	if _, _, err := s.Changes(ctx, again.ID, oldToken); !errors.Is(err, calendar.ErrTokenGone) {
		t.Errorf("old calendar's token on the new one: %v, want ErrTokenGone", err)
	}
}

func testKinds(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	for _, tt := range []struct {
		name, kind string
	}{
		{"work", calendar.KindCalendar},
		{calendar.InboxName, calendar.KindInbox},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := calendar.Calendar{Owner: "alice", Name: tt.name, Kind: tt.kind}
			if err := s.CreateCalendar(ctx, &c); err != nil {
				t.Fatal(err)
			}
			got, err := s.Calendar(ctx, "alice", tt.name)
			if err != nil || got.Kind != tt.kind {
				t.Errorf("Calendar: kind %q, %v; want %q", got.Kind, err, tt.kind)
			}
			list, err := s.Calendars(ctx, "alice")
			i := slices.IndexFunc(list, func(c calendar.Calendar) bool { return c.Name == tt.name })
			if err != nil || i < 0 || list[i].Kind != tt.kind {
				t.Errorf("Calendars = %+v, %v; want %s of kind %q", list, err, tt.name, tt.kind)
			}
			// The kind is fixed at creation.
			c.Kind = "other"
			if err := s.UpdateCalendar(ctx, &c); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Calendar(ctx, "alice", tt.name); err != nil || got.Kind != tt.kind {
				t.Errorf("after UpdateCalendar: kind %q, %v; want %q", got.Kind, err, tt.kind)
			}
		})
	}
	again := calendar.Calendar{Owner: "alice", Name: calendar.InboxName, Kind: calendar.KindInbox}
	if err := s.CreateCalendar(ctx, &again); !errors.Is(err, calendar.ErrExists) {
		t.Errorf("a second inbox: %v, want ErrExists", err)
	}
	odd := calendar.Calendar{Owner: "alice", Name: "odd", Kind: "outbox"}
	if err := s.CreateCalendar(ctx, &odd); err == nil {
		t.Error("CreateCalendar accepted an unknown kind")
	}
}
