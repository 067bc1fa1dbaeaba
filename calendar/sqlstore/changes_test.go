package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/salonhq/salon/calendar"
)

func testChanges(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	t0 := c.SyncToken

	changes, token, err := s.Changes(ctx, c.ID, 0)
	if err != nil || len(changes) != 0 || token != t0 {
		t.Fatalf("initial Changes of an empty calendar = %v, %d, %v; want none, %d", changes, token, err, t0)
	}
	if changes, token, err = s.Changes(ctx, c.ID, t0); err != nil || len(changes) != 0 || token != t0 {
		t.Fatalf("Changes(current) = %v, %d, %v", changes, token, err)
	}

	etagA := mustPut(t, s, event(c.ID, "a", "1", start), calendar.Precondition{})
	tA := syncToken(t, s, "alice", "work")
	mustPut(t, s, event(c.ID, "b", "1", start), calendar.Precondition{})
	mustPut(t, s, event(c.ID, "c", "1", start), calendar.Precondition{})
	tC := syncToken(t, s, "alice", "work")
	mustPut(t, s, event(c.ID, "a", "2", start), calendar.Precondition{IfMatch: etagA})
	if err := s.DeleteObject(ctx, c.ID, "b.ics", calendar.Precondition{}); err != nil {
		t.Fatal(err)
	}
	tEnd := syncToken(t, s, "alice", "work")
	if !(t0 < tA && tA < tC && tC < tEnd) {
		t.Fatalf("tokens do not grow: %d %d %d %d", t0, tA, tC, tEnd)
	}

	type entry struct {
		name    string
		deleted bool
	}
	flat := func(list []calendar.Change) (out []entry) {
		last := int64(0)
		for _, ch := range list {
			out = append(out, entry{ch.Name, ch.Deleted})
			if ch.Token <= last || ch.Token > tEnd {
				t.Errorf("change %+v: token out of order or beyond %d", ch, tEnd)
			}
			last = ch.Token
		}
		return out
	}
	for _, tt := range []struct {
		since int64
		want  []entry
	}{
		{t0, []entry{{"c.ics", false}, {"a.ics", false}, {"b.ics", true}}},
		{tA, []entry{{"c.ics", false}, {"a.ics", false}, {"b.ics", true}}},
		{tC, []entry{{"a.ics", false}, {"b.ics", true}}},
		{tEnd, nil},
	} {
		changes, token, err := s.Changes(ctx, c.ID, tt.since)
		if err != nil {
			t.Errorf("Changes(%d): %v", tt.since, err)
			continue
		}
		if got := flat(changes); !slices.Equal(got, tt.want) || token != tEnd {
			t.Errorf("Changes(%d) = %v, %d; want %v, %d", tt.since, got, token, tt.want, tEnd)
		}
	}

	// From scratch: every object, none deleted, with the current token.
	changes, token, err = s.Changes(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if token != tEnd {
		t.Fatalf("initial token %d, want %d", token, tEnd)
	}
	if got := collect(changes, func(ch calendar.Change) string { return fmt.Sprint(ch.Name, ch.Deleted) }); !slices.Equal(got, []string{"a.icsfalse", "c.icsfalse"}) {
		t.Errorf("initial Changes = %v", got)
	}
	// An object's change token is the one in its ETag's write.
	for _, ch := range changes {
		o, err := s.Object(ctx, c.ID, ch.Name)
		if err != nil {
			t.Fatal(err)
		}
		if prefix := `"` + strconv.FormatInt(ch.Token, 10) + "-"; !bytes.HasPrefix([]byte(o.ETag), []byte(prefix)) {
			t.Errorf("initial change %+v does not match ETag %s", ch, o.ETag)
		}
	}
}

func testStaleTokens(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	other := mustCalendar(t, s, "alice", "other")
	c := mustCalendar(t, s, "alice", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	mustPut(t, s, event(c.ID, "a", "1", start), calendar.Precondition{})
	mustPut(t, s, event(other.ID, "x", "1", start), calendar.Precondition{})
	otherToken := syncToken(t, s, "alice", "other")
	mustPut(t, s, event(c.ID, "b", "1", start), calendar.Precondition{})
	current := syncToken(t, s, "alice", "work")
	if !(other.SyncToken < c.SyncToken && c.SyncToken < otherToken && otherToken < current) {
		t.Fatalf("test needs another calendar's token inside this one's range: %d %d %d", c.SyncToken, otherToken, current)
	}
	for name, token := range map[string]int64{
		"future":           current + 1,
		"far future":       current + 1_000_000,
		"negative":         -1,
		"before creation":  other.SyncToken,
		"another calendar": otherToken,
	} {
		if changes, _, err := s.Changes(ctx, c.ID, token); !errors.Is(err, calendar.ErrTokenGone) {
			t.Errorf("Changes(%s token %d) = %v, %v; want ErrTokenGone", name, token, changes, err)
		}
	}
	if _, _, err := s.Changes(ctx, c.ID+other.ID+100, current); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("Changes of a missing calendar: %v, want ErrNotFound", err)
	}
}

func testCompaction(t *testing.T, newStore func(*testing.T, Options) *Store) {
	const limit = 16
	s := newStore(t, Options{ChangeLogLimit: limit})
	c := mustCalendar(t, s, "alice", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	tokens := []int64{c.SyncToken}
	const writes = 5 * limit
	for i := range writes {
		mustPut(t, s, event(c.ID, fmt.Sprint("o", i%(limit+limit/2)), fmt.Sprint(i), start), calendar.Precondition{})
		tokens = append(tokens, syncToken(t, s, "alice", "work"))
	}
	current := tokens[len(tokens)-1]

	// The first tokens are gone; the last limit are kept and answer right.
	if _, _, err := s.Changes(ctx, c.ID, tokens[0]); !errors.Is(err, calendar.ErrTokenGone) {
		t.Errorf("Changes(creation token) after %d writes: %v, want ErrTokenGone", writes, err)
	}
	for back := 0; back <= limit; back++ {
		since := tokens[len(tokens)-1-back]
		changes, token, err := s.Changes(ctx, c.ID, since)
		if err != nil {
			t.Errorf("Changes(token of %d writes ago): %v", back, err)
			continue
		}
		if len(changes) != back || token != current {
			t.Errorf("Changes(token of %d writes ago) = %d changes, token %d; want %d, %d", back, len(changes), token, back, current)
		}
	}
	var rows int
	if err := s.db.QueryRow(s.db.Rebind(`SELECT COUNT(*) FROM changes WHERE calendar_id = ?`), c.ID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows > limit+limit/8 {
		t.Errorf("change log holds %d rows, want at most %d", rows, limit+limit/8)
	}
	// A sync from scratch still sees every object.
	changes, token, err := s.Changes(ctx, c.ID, 0)
	if err != nil || len(changes) != limit+limit/2 || token != current {
		t.Errorf("Changes(0) = %d changes, %d, %v; want %d, %d", len(changes), token, err, limit+limit/2, current)
	}
}
