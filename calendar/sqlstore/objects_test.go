package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/salonhq/salon/calendar"
)

func testObjects(t *testing.T, newStore func(*testing.T, Options) *Store) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now})
	c := mustCalendar(t, s, "alice", "work")
	if infos, err := s.ObjectInfos(ctx, c.ID); err != nil || len(infos) != 0 {
		t.Fatalf("ObjectInfos of an empty calendar = %v, %v", infos, err)
	}

	paris, _ := time.LoadLocation("Europe/Paris")
	// Bytes a client sent: CRLF, folding, X- properties, a NUL, invalid UTF-8.
	data := []byte("BEGIN:VCALENDAR\r\nX-ODD:\x00\xff\xfe\r\nBEGIN:VEVENT\r\nUID:u1\r\nSUMMARY:long\r\n  folded\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	o := &calendar.Object{
		CalendarID: c.ID, Name: "u1.ics", UID: "u1", Component: "VEVENT", Data: data,
		Start: time.Date(2026, 6, 1, 9, 0, 0, 999, paris), End: time.Date(2026, 6, 1, 10, 0, 0, 0, paris),
	}
	etag, created, err := s.PutObject(ctx, o, calendar.Precondition{IfNoneMatchAny: true})
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first PutObject reported created = false")
	}
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Errorf("ETag %s is not a quoted strong ETag", etag)
	}
	if o.ETag != etag || o.Size != len(data) || !o.Modified.Equal(clk.Now().Truncate(time.Microsecond)) {
		t.Errorf("PutObject filled ETag %s, Size %d, Modified %v", o.ETag, o.Size, o.Modified)
	}
	got, err := s.Object(ctx, c.ID, "u1.ics")
	if err != nil {
		t.Fatal(err)
	}
	want := calendar.Object{
		CalendarID: c.ID, Name: "u1.ics", UID: "u1", Component: "VEVENT", ETag: etag,
		Data: data, Size: len(data),
		Start:    time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC),
		End:      time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC),
		Modified: clk.Now().Truncate(time.Microsecond),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Object =\n%+v\nwant\n%+v", got, want)
	}

	// Replacing, even with the same bytes, makes a new ETag.
	clk.Advance(time.Second)
	etag2, created, err := s.PutObject(ctx, o, calendar.Precondition{IfMatch: etag})
	if err != nil {
		t.Fatal(err)
	}
	if created || etag2 == etag {
		t.Errorf("replacing with the same bytes: created %v, ETag %s (was %s); want false and a new ETag", created, etag2, etag)
	}
	o2 := event(c.ID, "u1", "2", time.Time{})
	o2.Component, o2.End = "VTODO", time.Time{}
	etag3, created, err := s.PutObject(ctx, o2, calendar.Precondition{})
	if err != nil || created || etag3 == etag2 {
		t.Fatalf("replacing with new bytes: %s, %v, %v", etag3, created, err)
	}
	got, err = s.Object(ctx, c.ID, "u1.ics")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, o2.Data) || got.Component != "VTODO" || got.ETag != etag3 {
		t.Errorf("after replace: %+v", got)
	}
	if got.Start != (time.Time{}) || got.End != (time.Time{}) {
		t.Errorf("unbounded Start, End came back as %v, %v; want zero times", got.Start, got.End)
	}

	mustPut(t, s, &calendar.Object{CalendarID: c.ID, Name: "empty.ics", UID: "e", Component: "VJOURNAL"}, calendar.Precondition{})
	clk.Advance(time.Second)
	infos, err := s.ObjectInfos(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Name != "empty.ics" || infos[1].Name != "u1.ics" {
		t.Fatalf("ObjectInfos = %+v", infos)
	}
	if wantInfo := (calendar.ObjectInfo{Name: "u1.ics", UID: "u1", ETag: etag3, Size: len(o2.Data), Modified: got.Modified}); infos[1] != wantInfo {
		t.Errorf("ObjectInfo = %+v, want %+v", infos[1], wantInfo)
	}
	if infos[0].Size != 0 {
		t.Errorf("empty object's size = %d", infos[0].Size)
	}

	if err := s.DeleteObject(ctx, c.ID, "u1.ics", calendar.Precondition{IfMatch: etag3}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Object(ctx, c.ID, "u1.ics"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("deleted object: %v, want ErrNotFound", err)
	}
	if err := s.DeleteObject(ctx, c.ID, "u1.ics", calendar.Precondition{}); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("second DeleteObject: %v, want ErrNotFound", err)
	}
	// Created again after a delete: created, with an ETag never seen.
	etag4, created, err := s.PutObject(ctx, o, calendar.Precondition{IfNoneMatchAny: true})
	if err != nil || !created || slices.Contains([]string{etag, etag2, etag3}, etag4) {
		t.Errorf("PutObject after delete = %s, %v, %v", etag4, created, err)
	}

	for _, bad := range []*calendar.Object{
		{CalendarID: c.ID, UID: "x", Component: "VEVENT"},
		{CalendarID: c.ID, Name: "x.ics", Component: "VEVENT"},
		{CalendarID: c.ID, Name: "x.ics", UID: "x"},
	} {
		if _, _, err := s.PutObject(ctx, bad, calendar.Precondition{}); err == nil {
			t.Errorf("PutObject(%+v) accepted an object without name, UID or component", bad)
		}
	}
}

func testObjectsBatch(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	other := mustCalendar(t, s, "alice", "other")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for _, n := range []string{"a", "m", "z"} {
		mustPut(t, s, event(c.ID, n, "1", start), calendar.Precondition{})
	}
	mustPut(t, s, event(other.ID, "x", "1", start), calendar.Precondition{})

	// More names than one IN list holds, the existing ones spread across
	// batches, with repeats and another calendar's object.
	var ask []string
	for i := range 1200 {
		ask = append(ask, fmt.Sprintf("missing-%d.ics", i))
	}
	ask[0], ask[600], ask[1199], ask[5], ask[700] = "a.ics", "m.ics", "z.ics", "a.ics", "x.ics"
	list, err := s.Objects(ctx, c.ID, ask)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(list); !slices.Equal(got, []string{"a.ics", "m.ics", "z.ics"}) {
		t.Errorf("Objects = %v", got)
	}
	for _, o := range list {
		if len(o.Data) == 0 || o.ETag == "" || o.CalendarID != c.ID {
			t.Errorf("Objects returned a partial object %+v", o)
		}
	}
	if list, err := s.Objects(ctx, c.ID, nil); err != nil || len(list) != 0 {
		t.Errorf("Objects(nil) = %v, %v", list, err)
	}
	if list, err := s.Objects(ctx, c.ID, []string{"nope"}); err != nil || len(list) != 0 {
		t.Errorf("Objects(nope) = %v, %v", list, err)
	}
}

func testPreconditions(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	etag := mustPut(t, s, event(c.ID, "a", "1", start), calendar.Precondition{})

	for _, tt := range []struct {
		name   string
		object string
		pre    calendar.Precondition
	}{
		{"If-Match another ETag", "a", calendar.Precondition{IfMatch: `"1-deadbeef"`}},
		{"If-Match the weak form", "a", calendar.Precondition{IfMatch: "W/" + etag}},
		{"If-Match unquoted", "a", calendar.Precondition{IfMatch: etag[1 : len(etag)-1]}},
		{"If-Match on a missing object", "new", calendar.Precondition{IfMatch: etag}},
		{"If-Match * on a missing object", "new", calendar.Precondition{IfMatch: "*"}},
		{"If-None-Match * on an existing object", "a", calendar.Precondition{IfNoneMatchAny: true}},
		{"both, on an existing object", "a", calendar.Precondition{IfMatch: etag, IfNoneMatchAny: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := syncToken(t, s, "alice", "work")
			if _, _, err := s.PutObject(ctx, event(c.ID, tt.object, "2", start), tt.pre); !errors.Is(err, calendar.ErrPrecondition) {
				t.Errorf("PutObject: %v, want ErrPrecondition", err)
			}
			if err := s.DeleteObject(ctx, c.ID, tt.object+".ics", tt.pre); !errors.Is(err, calendar.ErrPrecondition) {
				t.Errorf("DeleteObject: %v, want ErrPrecondition", err)
			}
			if after := syncToken(t, s, "alice", "work"); after != before {
				t.Errorf("a failed precondition moved the sync token from %d to %d", before, after)
			}
			got, err := s.Object(ctx, c.ID, "a.ics")
			if err != nil || got.ETag != etag || !bytes.Contains(got.Data, []byte("SUMMARY:1")) {
				t.Errorf("a failed precondition changed the object: %+v, %v", got, err)
			}
		})
	}

	etag2, created, err := s.PutObject(ctx, event(c.ID, "a", "2", start), calendar.Precondition{IfMatch: etag})
	if err != nil || created {
		t.Fatalf("PutObject with the current ETag: %v, created %v", err, created)
	}
	if etag2, _, err = s.PutObject(ctx, event(c.ID, "a", "3", start), calendar.Precondition{IfMatch: "*"}); err != nil {
		t.Fatalf("PutObject If-Match * on an existing object: %v", err)
	}
	if _, _, err := s.PutObject(ctx, event(c.ID, "b", "1", start), calendar.Precondition{IfNoneMatchAny: true}); err != nil {
		t.Errorf("If-None-Match * on a new object: %v", err)
	}
	if err := s.DeleteObject(ctx, c.ID, "a.ics", calendar.Precondition{IfMatch: etag}); !errors.Is(err, calendar.ErrPrecondition) {
		t.Errorf("DeleteObject with the old ETag: %v, want ErrPrecondition", err)
	}
	if err := s.DeleteObject(ctx, c.ID, "missing.ics", calendar.Precondition{IfNoneMatchAny: true}); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("DeleteObject If-None-Match * of a missing object: %v, want ErrNotFound", err)
	}
	if err := s.DeleteObject(ctx, c.ID, "a.ics", calendar.Precondition{IfMatch: etag2}); err != nil {
		t.Errorf("DeleteObject with the current ETag: %v", err)
	}
}

func testUIDConflict(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	other := mustCalendar(t, s, "alice", "other")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	mustPut(t, s, event(c.ID, "a", "1", start), calendar.Precondition{})
	before := syncToken(t, s, "alice", "work")

	dup := event(c.ID, "b", "1", start)
	dup.UID = "a"
	_, _, err := s.PutObject(ctx, dup, calendar.Precondition{})
	var conflict *calendar.UIDConflictError
	if !errors.As(err, &conflict) || *conflict != (calendar.UIDConflictError{UID: "a", Name: "a.ics"}) {
		t.Fatalf("PutObject of a taken UID: %v, want UIDConflictError{a, a.ics}", err)
	}
	if _, err := s.Object(ctx, c.ID, "b.ics"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("the conflicting object was stored: %v", err)
	}
	if after := syncToken(t, s, "alice", "work"); after != before {
		t.Errorf("a UID conflict moved the sync token from %d to %d", before, after)
	}
	// Also when b.ics exists and is being given a's UID.
	mustPut(t, s, event(c.ID, "b", "1", start), calendar.Precondition{})
	if _, _, err := s.PutObject(ctx, dup, calendar.Precondition{}); !errors.As(err, &conflict) {
		t.Errorf("replacing b.ics with a's UID: %v, want UIDConflictError", err)
	}
	// The same UID in another calendar is fine.
	if _, _, err := s.PutObject(ctx, event(other.ID, "a", "1", start), calendar.Precondition{}); err != nil {
		t.Errorf("same UID in another calendar: %v", err)
	}
	// Giving a.ics another UID frees its old one.
	moved := event(c.ID, "a", "2", start)
	moved.UID = "a-new"
	mustPut(t, s, moved, calendar.Precondition{})
	c2 := event(c.ID, "c", "1", start)
	c2.UID = "a"
	if _, _, err := s.PutObject(ctx, c2, calendar.Precondition{}); err != nil {
		t.Errorf("PutObject of a freed UID: %v", err)
	}
}

func testRange(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	day := func(month time.Month, d, h int) time.Time { return time.Date(2026, month, d, h, 0, 0, 0, time.UTC) }
	for _, o := range []calendar.Object{
		{Name: "past", Component: "VEVENT", Start: day(1, 1, 10), End: day(1, 1, 11)},
		{Name: "instant", Component: "VEVENT", Start: day(2, 1, 0), End: day(2, 1, 0)},
		{Name: "forever", Component: "VEVENT", Start: day(1, 15, 9)},
		{Name: "undated-todo", Component: "VTODO"},
		{Name: "due-todo", Component: "VTODO", End: day(3, 1, 0)},
		{Name: "march-journal", Component: "VJOURNAL", Start: day(3, 10, 0), End: day(3, 11, 0)},
	} {
		o.CalendarID, o.UID, o.Data = c.ID, o.Name, []byte(o.Name)
		mustPut(t, s, &o, calendar.Precondition{})
	}
	for _, tt := range []struct {
		comp       string
		start, end time.Time
		want       []string
	}{
		{"", time.Time{}, time.Time{}, []string{"due-todo", "forever", "instant", "march-journal", "past", "undated-todo"}},
		{"VEVENT", time.Time{}, time.Time{}, []string{"forever", "instant", "past"}},
		{"VEVENT", day(2, 1, 0), day(3, 1, 0), []string{"forever", "instant"}},
		// An event ending exactly at the range start does not overlap it.
		{"VEVENT", day(1, 1, 11), day(1, 15, 9), nil},
		{"VEVENT", day(1, 1, 10), day(1, 15, 9), []string{"past"}},
		{"VEVENT", day(1, 1, 10), day(1, 15, 10), []string{"forever", "past"}},
		// The instant is in ranges that contain it, including at their start, not at their end.
		{"VEVENT", day(1, 31, 0), day(2, 1, 0), []string{"forever"}},
		{"VEVENT", day(2, 1, 0), day(2, 1, 1), []string{"forever", "instant"}},
		{"", time.Time{}, day(1, 1, 11), []string{"due-todo", "past", "undated-todo"}},
		{"", day(3, 2, 0), time.Time{}, []string{"forever", "march-journal", "undated-todo"}},
		{"VTODO", day(2, 1, 0), day(2, 2, 0), []string{"due-todo", "undated-todo"}},
		{"VTODO", day(3, 1, 0), day(3, 2, 0), []string{"undated-todo"}},
		{"VJOURNAL", day(3, 10, 12), day(3, 10, 13), []string{"march-journal"}},
		{"VFREEBUSY", time.Time{}, time.Time{}, nil},
	} {
		list, err := s.ObjectsInRange(ctx, c.ID, tt.comp, tt.start, tt.end)
		if err != nil {
			t.Errorf("ObjectsInRange(%q, %v, %v): %v", tt.comp, tt.start, tt.end, err)
			continue
		}
		if got := names(list); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("ObjectsInRange(%q, %v, %v) = %v, want %v", tt.comp, tt.start, tt.end, got, tt.want)
		}
		heads, err := s.ObjectHeadsInRange(ctx, c.ID, tt.comp, tt.start, tt.end)
		if err != nil {
			t.Errorf("ObjectHeadsInRange(%q, %v, %v): %v", tt.comp, tt.start, tt.end, err)
			continue
		}
		if len(heads) != len(list) {
			t.Errorf("ObjectHeadsInRange(%q, %v, %v) has %d objects, ObjectsInRange %d", tt.comp, tt.start, tt.end, len(heads), len(list))
			continue
		}
		byName := map[string]calendar.Object{}
		for _, o := range list {
			o.Data = nil
			byName[o.Name] = o
		}
		for _, h := range heads {
			if want := byName[h.Name]; h.Data != nil || !reflect.DeepEqual(h, want) {
				t.Errorf("head %+v, want %+v without data", h, want)
			}
		}
	}
	list, err := s.ObjectsInRange(ctx, c.ID, "VJOURNAL", time.Time{}, time.Time{})
	if err != nil || len(list) != 1 || string(list[0].Data) != "march-journal" || list[0].ETag == "" {
		t.Errorf("ObjectsInRange does not return whole objects: %+v, %v", list, err)
	}
}

func testScheduleTag(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	tagged := event(c.ID, "tagged", "1", start)
	tagged.ScheduleTag = `"s1"`
	mustPut(t, s, tagged, calendar.Precondition{})
	mustPut(t, s, event(c.ID, "plain", "1", start), calendar.Precondition{})

	// Every read that returns objects returns the tag.
	reads := map[string]func() ([]calendar.Object, error){
		"Objects": func() ([]calendar.Object, error) {
			return s.Objects(ctx, c.ID, []string{"tagged.ics", "plain.ics"})
		},
		"ObjectsInRange": func() ([]calendar.Object, error) {
			return s.ObjectsInRange(ctx, c.ID, "VEVENT", start, start.Add(time.Hour))
		},
		"ObjectHeadsInRange": func() ([]calendar.Object, error) {
			return s.ObjectHeadsInRange(ctx, c.ID, "", time.Time{}, time.Time{})
		},
		"Object": func() ([]calendar.Object, error) {
			a, err := s.Object(ctx, c.ID, "tagged.ics")
			if err != nil {
				return nil, err
			}
			b, err := s.Object(ctx, c.ID, "plain.ics")
			return []calendar.Object{a, b}, err
		},
	}
	for name, read := range reads {
		list, err := read()
		got := collect(list, func(o calendar.Object) string { return o.Name + "=" + o.ScheduleTag })
		if want := []string{"plain.ics=", `tagged.ics="s1"`}; err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, want)
		}
	}

	// RFC 6638 §8.3: the write happens only if the object exists with
	// exactly that tag.
	for _, tt := range []struct {
		name   string
		object string
		pre    calendar.Precondition
		ok     bool
	}{
		{"another tag", "tagged", calendar.Precondition{IfScheduleTag: `"s0"`}, false},
		{"unquoted", "tagged", calendar.Precondition{IfScheduleTag: `s1`}, false},
		{"an object without a tag", "plain", calendar.Precondition{IfScheduleTag: `"s1"`}, false},
		{"a missing object", "missing", calendar.Precondition{IfScheduleTag: `"s1"`}, false},
		{"the tag but another ETag", "tagged", calendar.Precondition{IfScheduleTag: `"s1"`, IfMatch: `"1-deadbeef"`}, false},
		{"the tag", "tagged", calendar.Precondition{IfScheduleTag: `"s1"`}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := syncToken(t, s, "alice", "work")
			o := event(c.ID, tt.object, "2", start)
			o.ScheduleTag = `"s1"` // an attendee's change keeps the tag
			_, _, err := s.PutObject(ctx, o, tt.pre)
			delErr := s.DeleteObject(ctx, c.ID, tt.object+".ics", tt.pre)
			if !tt.ok {
				if !errors.Is(err, calendar.ErrPrecondition) || !errors.Is(delErr, calendar.ErrPrecondition) {
					t.Errorf("PutObject: %v, DeleteObject: %v; want ErrPrecondition", err, delErr)
				}
				if after := syncToken(t, s, "alice", "work"); after != before {
					t.Errorf("a failed If-Schedule-Tag-Match moved the sync token from %d to %d", before, after)
				}
				return
			}
			if err != nil || delErr != nil {
				t.Errorf("PutObject: %v, DeleteObject: %v; want both to succeed", err, delErr)
			}
		})
	}

	// The tag is stored as given: a write without one clears it.
	retagged := event(c.ID, "plain", "3", start)
	retagged.ScheduleTag = `"s7"`
	mustPut(t, s, retagged, calendar.Precondition{})
	mustPut(t, s, event(c.ID, "plain", "4", start), calendar.Precondition{IfScheduleTag: `"s7"`})
	if got, err := s.Object(ctx, c.ID, "plain.ics"); err != nil || got.ScheduleTag != "" {
		t.Errorf("after a write without a tag: %q, %v; want none", got.ScheduleTag, err)
	}
}

// Attendees' clients racing to update their copy with
// If-Schedule-Tag-Match, each writing a new tag: exactly one wins.
func testConcurrentScheduleTag(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	o := event(c.ID, "meeting", "0", start)
	o.ScheduleTag = `"s0"`
	mustPut(t, s, o, calendar.Precondition{})

	const writers = 20
	var wg sync.WaitGroup
	results := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			mine := event(c.ID, "meeting", fmt.Sprint(w), start)
			mine.ScheduleTag = fmt.Sprintf(`"s0-%d"`, w)
			_, _, err := s.PutObject(ctx, mine, calendar.Precondition{IfScheduleTag: `"s0"`})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, calendar.ErrPrecondition):
			t.Error(err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers matched the schedule-tag, want 1", won)
	}
}

func testObjectByUID(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	work := mustCalendar(t, s, "alice", "work")
	// Listed after work, for all its name.
	home := calendar.Calendar{Owner: "alice", Name: "home", Order: 1}
	if err := s.CreateCalendar(ctx, &home); err != nil {
		t.Fatal(err)
	}
	inbox := calendar.Calendar{Owner: "alice", Name: calendar.InboxName, Kind: calendar.KindInbox}
	if err := s.CreateCalendar(ctx, &inbox); err != nil {
		t.Fatal(err)
	}
	bobs := mustCalendar(t, s, "bob", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for _, o := range []*calendar.Object{
		event(work.ID, "w", "1", start),
		event(home.ID, "h", "1", start),
		event(inbox.ID, "i", "1", start),
		event(bobs.ID, "b", "1", start),
		event(work.ID, "gone", "1", start),
		event(home.ID, "both", "1", start),
		event(work.ID, "both", "1", start),
	} {
		o.ScheduleTag = `"` + o.UID + `"`
		mustPut(t, s, o, calendar.Precondition{})
	}
	if err := s.DeleteObject(ctx, work.ID, "gone.ics", calendar.Precondition{}); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, owner, uid string
		want             string // the calendar's name; "" for not found
	}{
		{"in the first calendar", "alice", "w", "work"},
		{"in another calendar", "alice", "h", "home"},
		{"in both: the first Calendars lists", "alice", "both", "work"},
		{"another user's", "alice", "b", ""},
		{"asked by another user", "bob", "w", ""},
		{"only in the inbox", "alice", "i", ""},
		{"deleted", "alice", "gone", ""},
		{"never there", "alice", "nope", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, o, err := s.ObjectByUID(ctx, tt.owner, tt.uid)
			if tt.want == "" {
				if !errors.Is(err, calendar.ErrNotFound) {
					t.Errorf("ObjectByUID = %s/%s, %v; want ErrNotFound", c.Name, o.Name, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantCal, err := s.Calendar(ctx, tt.owner, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			wantObj, err := s.Object(ctx, wantCal.ID, tt.uid+".ics")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, wantCal) || !reflect.DeepEqual(o, wantObj) {
				t.Errorf("ObjectByUID =\n%+v\n%+v\nwant\n%+v\n%+v", c, o, wantCal, wantObj)
			}
		})
	}
}
