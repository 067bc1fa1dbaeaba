package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/mail"
)

// fakeOutbox queues mail in a table of its own in the caller's
// transaction, as *mail.Outbox does in its, so that a test can see
// whether the mail of a batch was committed with it.
type fakeOutbox struct {
	d    *db.DB // set once the Store has opened the database
	fail error  // EnqueueTx returns it when set

	mu sync.Mutex
	// atWake has, for each Wake, the messages any other connection could
	// see then: all of them if Wake came after the commit.
	atWake []int
}

// newOutboxStore opens a Store whose Options.Outbox is a fakeOutbox with
// its table created.
func newOutboxStore(t *testing.T, newStore func(*testing.T, Options) *Store) (*Store, *fakeOutbox) {
	t.Helper()
	out := &fakeOutbox{}
	s := newStore(t, Options{Outbox: out})
	if _, err := s.db.Exec(`CREATE TABLE test_outbox (id TEXT PRIMARY KEY, rcpt TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	out.d = s.db
	return s, out
}

func (o *fakeOutbox) EnqueueTx(ctx context.Context, tx *sql.Tx, msgs []mail.Message) error {
	if o.fail != nil {
		return o.fail
	}
	for _, m := range msgs {
		if _, err := tx.ExecContext(ctx, o.d.Rebind(`INSERT INTO test_outbox (id, rcpt) VALUES (?, ?)`),
			m.ID, strings.Join(m.To, ",")); err != nil {
			return err
		}
	}
	return nil
}

func (o *fakeOutbox) Wake() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.atWake = append(o.atWake, o.count())
}

// count is how many messages are committed to the outbox, -1 if it cannot
// tell, which no test expects.
func (o *fakeOutbox) count() int {
	var n int
	if err := o.d.QueryRow(`SELECT COUNT(*) FROM test_outbox`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// wakes returns what each Wake saw.
func (o *fakeOutbox) wakes() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.atWake)
}

func invitation(id, to string) mail.Message {
	return mail.Message{ID: id, From: "alice@example.com", To: []string{to}, Method: "REQUEST", UID: "m", Data: []byte("Subject: x\r\n\r\nx\r\n")}
}

// applyEnv is the world an Apply test case starts from: alice's and bob's
// calendars, and an object of alice's that a case may replace or delete.
type applyEnv struct {
	alice, bob calendar.Calendar
	old        *calendar.Object // alice's old.ics, UID "old"
}

var applyStart = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func testApply(t *testing.T, newStore func(*testing.T, Options) *Store) {
	put := func(o *calendar.Object, pre calendar.Precondition) calendar.Write {
		return calendar.Write{Object: o, Pre: pre}
	}
	del := func(calendarID int64, name string, pre calendar.Precondition) calendar.Write {
		return calendar.Write{Object: &calendar.Object{CalendarID: calendarID, Name: name}, Delete: true, Pre: pre}
	}
	tests := []struct {
		name   string
		writes func(e applyEnv) []calendar.Write
		mail   []mail.Message
		// outboxFails makes the outbox refuse the mail.
		outboxFails bool
		// failed is the index of the write that fails, -1 for none and
		// -2 for an error of no write.
		failed int
		// wantErr is what the error must be (errors.Is), when it fails.
		wantErr error
		// check looks further at the state after a successful Apply.
		check func(t *testing.T, s *Store, e applyEnv, writes []calendar.Write)
	}{
		{
			name: "two users' calendars, with mail",
			writes: func(e applyEnv) []calendar.Write {
				return []calendar.Write{
					put(event(e.alice.ID, "old", "2", applyStart), calendar.Precondition{IfMatch: e.old.ETag}),
					put(event(e.bob.ID, "copy", "1", applyStart), calendar.Precondition{IfNoneMatchAny: true}),
				}
			},
			mail:   []mail.Message{invitation("m1", "carol@example.org"), invitation("m2", "dave@example.org")},
			failed: -1,
			check: func(t *testing.T, s *Store, e applyEnv, writes []calendar.Write) {
				if writes[0].Created || !writes[1].Created {
					t.Errorf("Created = %v, %v; want false, true", writes[0].Created, writes[1].Created)
				}
				got, err := s.Object(ctx, e.bob.ID, "copy.ics")
				if err != nil || got.ETag != writes[1].ETag {
					t.Errorf("bob's copy = %+v, %v; want ETag %s", got, err, writes[1].ETag)
				}
			},
		},
		{
			name: "precondition failure on the last write",
			writes: func(e applyEnv) []calendar.Write {
				return []calendar.Write{
					put(event(e.alice.ID, "old", "2", applyStart), calendar.Precondition{IfMatch: e.old.ETag}),
					put(event(e.bob.ID, "copy", "1", applyStart), calendar.Precondition{}),
					put(event(e.bob.ID, "other", "1", applyStart), calendar.Precondition{IfMatch: `"1-deadbeef"`}),
				}
			},
			mail:    []mail.Message{invitation("m1", "carol@example.org")},
			failed:  2,
			wantErr: calendar.ErrPrecondition,
		},
		{
			name: "If-Schedule-Tag-Match failure on the first write",
			writes: func(e applyEnv) []calendar.Write {
				return []calendar.Write{
					put(event(e.alice.ID, "old", "2", applyStart), calendar.Precondition{IfScheduleTag: `"s1"`}),
					put(event(e.bob.ID, "copy", "1", applyStart), calendar.Precondition{}),
				}
			},
			failed:  0,
			wantErr: calendar.ErrPrecondition,
		},
		{
			name: "UID conflict between two writes",
			writes: func(e applyEnv) []calendar.Write {
				second := event(e.bob.ID, "b", "1", applyStart)
				second.UID = "a"
				return []calendar.Write{
					put(event(e.bob.ID, "a", "1", applyStart), calendar.Precondition{}),
					put(second, calendar.Precondition{}),
				}
			},
			failed:  1,
			wantErr: &calendar.UIDConflictError{UID: "a", Name: "a.ics"},
		},
		{
			name: "UID conflict with a stored object",
			writes: func(e applyEnv) []calendar.Write {
				taken := event(e.alice.ID, "new", "1", applyStart)
				taken.UID = "old"
				return []calendar.Write{
					put(event(e.bob.ID, "copy", "1", applyStart), calendar.Precondition{}),
					put(taken, calendar.Precondition{}),
				}
			},
			failed:  1,
			wantErr: &calendar.UIDConflictError{UID: "old", Name: "old.ics"},
		},
		{
			name: "delete frees a UID for a put",
			writes: func(e applyEnv) []calendar.Write {
				renamed := event(e.alice.ID, "renamed", "2", applyStart)
				renamed.UID = "old"
				return []calendar.Write{
					del(e.alice.ID, "old.ics", calendar.Precondition{IfMatch: e.old.ETag}),
					put(renamed, calendar.Precondition{IfNoneMatchAny: true}),
				}
			},
			failed: -1,
			check: func(t *testing.T, s *Store, e applyEnv, writes []calendar.Write) {
				if writes[0].ETag != "" {
					t.Errorf("the delete got ETag %s", writes[0].ETag)
				}
				if _, err := s.Object(ctx, e.alice.ID, "old.ics"); !errors.Is(err, calendar.ErrNotFound) {
					t.Errorf("deleted old.ics: %v, want ErrNotFound", err)
				}
			},
		},
		{
			name: "later writes see earlier ones in the same calendar",
			writes: func(e applyEnv) []calendar.Write {
				return []calendar.Write{
					put(event(e.bob.ID, "a", "1", applyStart), calendar.Precondition{IfNoneMatchAny: true}),
					put(event(e.bob.ID, "a", "2", applyStart), calendar.Precondition{IfMatch: "*"}),
					put(event(e.bob.ID, "b", "1", applyStart), calendar.Precondition{}),
					del(e.bob.ID, "b.ics", calendar.Precondition{}),
				}
			},
			failed: -1,
			check: func(t *testing.T, s *Store, e applyEnv, writes []calendar.Write) {
				got, err := s.Object(ctx, e.bob.ID, "a.ics")
				if err != nil || got.ETag != writes[1].ETag || !bytes.Contains(got.Data, []byte("SUMMARY:2")) {
					t.Errorf("a.ics = %+v, %v; want the second write", got, err)
				}
				if !writes[0].Created || writes[1].Created || writes[0].ETag == writes[1].ETag {
					t.Errorf("writes = %+v", writes[:2])
				}
			},
		},
		{
			name: "missing calendar",
			writes: func(e applyEnv) []calendar.Write {
				return []calendar.Write{
					put(event(e.bob.ID, "copy", "1", applyStart), calendar.Precondition{}),
					put(event(e.bob.ID+1000, "x", "1", applyStart), calendar.Precondition{}),
				}
			},
			failed:  1,
			wantErr: calendar.ErrNotFound,
		},
		{
			name: "deleting a missing object",
			writes: func(e applyEnv) []calendar.Write {
				return []calendar.Write{
					put(event(e.bob.ID, "copy", "1", applyStart), calendar.Precondition{}),
					del(e.alice.ID, "nope.ics", calendar.Precondition{}),
				}
			},
			failed:  1,
			wantErr: calendar.ErrNotFound,
		},
		{
			name: "a write without an object",
			writes: func(e applyEnv) []calendar.Write {
				return []calendar.Write{
					put(event(e.bob.ID, "copy", "1", applyStart), calendar.Precondition{}),
					{Delete: true},
				}
			},
			failed: 1,
		},
		{
			name: "the outbox refuses the mail",
			writes: func(e applyEnv) []calendar.Write {
				return []calendar.Write{put(event(e.bob.ID, "copy", "1", applyStart), calendar.Precondition{})}
			},
			mail:        []mail.Message{invitation("m1", "carol@example.org")},
			outboxFails: true,
			failed:      -2,
		},
		{
			name:   "mail only",
			writes: func(applyEnv) []calendar.Write { return nil },
			mail:   []mail.Message{invitation("m1", "carol@example.org")},
			failed: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out := newOutboxStore(t, newStore)
			if tt.outboxFails {
				out.fail = errors.New("outbox full")
			}
			e := applyEnv{
				alice: mustCalendar(t, s, "alice", "work"),
				bob:   mustCalendar(t, s, "bob", "work"),
			}
			e.old = event(e.alice.ID, "old", "1", applyStart)
			mustPut(t, s, e.old, calendar.Precondition{})
			before := map[int64]int64{}
			for _, c := range []calendar.Calendar{e.alice, e.bob} {
				before[c.ID] = syncToken(t, s, c.Owner, c.Name)
			}
			b := &calendar.Batch{Writes: tt.writes(e), Mail: tt.mail}
			err := s.Apply(ctx, b)

			if tt.failed == -1 {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				checkApplied(t, s, b, before)
				var want []int // no mail, no Wake
				if len(tt.mail) > 0 {
					want = []int{len(tt.mail)}
				}
				if got := out.wakes(); !slices.Equal(got, want) {
					t.Errorf("Wakes saw %v committed messages, want %v", got, want)
				}
				if tt.check != nil {
					tt.check(t, s, e, b.Writes)
				}
				return
			}
			var we *calendar.WriteError
			switch {
			case err == nil:
				t.Fatal("Apply succeeded")
			case tt.failed == -2 && errors.As(err, &we):
				t.Errorf("Apply: %v; want an error of no write", err)
			case tt.failed >= 0 && (!errors.As(err, &we) || we.Index != tt.failed):
				t.Errorf("Apply: %v; want a WriteError for write %d", err, tt.failed)
			}
			var conflict, wantConflict *calendar.UIDConflictError
			if errors.As(tt.wantErr, &wantConflict) {
				if !errors.As(err, &conflict) || *conflict != *wantConflict {
					t.Errorf("Apply: %v; want %v", err, wantConflict)
				}
			} else if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Apply: %v; want %v", err, tt.wantErr)
			}
			for id, token := range before {
				if _, now, err := s.Changes(ctx, id, token); err != nil || now != token {
					t.Errorf("calendar %d: sync token %d after a failed Apply, %v; want %d", id, now, err, token)
				}
			}
			got, err := s.Object(ctx, e.alice.ID, "old.ics")
			if err != nil || got.ETag != e.old.ETag || !bytes.Equal(got.Data, e.old.Data) {
				t.Errorf("a failed Apply changed old.ics: %+v, %v", got, err)
			}
			for _, name := range []string{"copy.ics", "a.ics", "b.ics"} {
				if _, err := s.Object(ctx, e.bob.ID, name); !errors.Is(err, calendar.ErrNotFound) {
					t.Errorf("a failed Apply stored bob's %s: %v", name, err)
				}
			}
			for i, w := range b.Writes {
				if w.ETag != "" || w.Created {
					t.Errorf("a failed Apply filled in write %d: %+v", i, w)
				}
				if w.Object != nil && w.Object.ETag != "" {
					t.Errorf("a failed Apply gave write %d's object the ETag %s", i, w.Object.ETag)
				}
			}
			if n := out.count(); n != 0 {
				t.Errorf("a failed Apply left %d messages in the outbox", n)
			}
			if w := out.wakes(); len(w) != 0 {
				t.Errorf("a failed Apply woke the outbox %d times", len(w))
			}
		})
	}
}

// checkApplied checks the state after a successful Apply of b: each put
// filled in and stored, the change log of each calendar b touched holding
// exactly its last write of each name, other calendars unchanged, and the
// mail queued.
func checkApplied(t *testing.T, s *Store, b *calendar.Batch, before map[int64]int64) {
	t.Helper()
	type key struct {
		calendarID int64
		name       string
	}
	last := map[key]int{}
	for i, w := range b.Writes {
		last[key{w.Object.CalendarID, w.Object.Name}] = i
		if w.Delete {
			continue
		}
		if w.ETag == "" || w.Object.ETag != w.ETag || w.Object.Size != len(w.Object.Data) || w.Object.Modified.IsZero() {
			t.Errorf("write %d filled in ETag %q, object ETag %q, Size %d, Modified %v",
				i, w.ETag, w.Object.ETag, w.Object.Size, w.Object.Modified)
		}
	}
	want := map[int64][]calendar.Change{}
	for k, i := range last {
		w := b.Writes[i]
		want[k.calendarID] = append(want[k.calendarID], calendar.Change{Name: k.name, Deleted: w.Delete})
		got, err := s.Object(ctx, k.calendarID, k.name)
		switch {
		case w.Delete && !errors.Is(err, calendar.ErrNotFound):
			t.Errorf("%s deleted by write %d: %v, want ErrNotFound", k.name, i, err)
		case !w.Delete && (err != nil || got.ETag != w.ETag || !bytes.Equal(got.Data, w.Object.Data) || got.ScheduleTag != w.Object.ScheduleTag):
			t.Errorf("%s after write %d = %+v, %v", k.name, i, got, err)
		}
	}
	for id, token := range before {
		changes, _, err := s.Changes(ctx, id, token)
		if err != nil {
			t.Errorf("calendar %d: %v", id, err)
			continue
		}
		for i := range changes {
			changes[i].Token = 0
		}
		byName := func(a, b calendar.Change) int { return strings.Compare(a.Name, b.Name) }
		slices.SortFunc(changes, byName)
		slices.SortFunc(want[id], byName)
		if !slices.Equal(changes, want[id]) {
			t.Errorf("calendar %d changed %v, want %v", id, changes, want[id])
		}
	}
	if o, ok := s.outbox.(*fakeOutbox); ok {
		if n := o.count(); n != len(b.Mail) {
			t.Errorf("%d messages queued, want %d", n, len(b.Mail))
		}
	}
}

func testApplyWithoutOutbox(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	before := syncToken(t, s, "alice", "work")
	err := s.Apply(ctx, &calendar.Batch{
		Writes: []calendar.Write{{Object: event(c.ID, "a", "1", applyStart)}},
		Mail:   []mail.Message{invitation("m1", "carol@example.org")},
	})
	if err == nil || !strings.Contains(err.Error(), "no outbox is configured") {
		t.Errorf("Apply with mail and no outbox: %v; want an error saying no outbox is configured", err)
	}
	if after := syncToken(t, s, "alice", "work"); after != before {
		t.Errorf("the refused Apply moved the sync token from %d to %d", before, after)
	}
	// Without mail, no outbox is needed.
	b := &calendar.Batch{Writes: []calendar.Write{{Object: event(c.ID, "a", "1", applyStart)}}}
	if err := s.Apply(ctx, b); err != nil {
		t.Errorf("Apply without mail: %v", err)
	}
	if err := s.Apply(ctx, &calendar.Batch{}); err != nil {
		t.Errorf("Apply of an empty batch: %v", err)
	}
}

// Batches that touch the same two calendars in opposite orders, as an
// organizer's save and an attendee's reply do, must queue behind one
// another rather than deadlock (which PostgreSQL would report as an error
// after a second).
func testConcurrentApply(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	alice := mustCalendar(t, s, "alice", "work")
	bob := mustCalendar(t, s, "bob", "work")
	const workers, each = 20, 20
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				writes := []calendar.Write{
					{Object: event(alice.ID, name, "1", applyStart)},
					{Object: event(bob.ID, name, "1", applyStart)},
				}
				if w%2 == 1 {
					writes[0], writes[1] = writes[1], writes[0]
				}
				if err := s.Apply(ctx, &calendar.Batch{Writes: writes}); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("concurrent Applies did not finish: deadlocked?")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range []calendar.Calendar{alice, bob} {
		changes, current, err := s.Changes(ctx, c.ID, c.SyncToken)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != workers*each {
			t.Errorf("%s: %d changes, want %d", c.Owner, len(changes), workers*each)
			continue
		}
		if last := changes[len(changes)-1].Token; last != current {
			t.Errorf("%s: sync token %d, want the last change's %d", c.Owner, current, last)
		}
	}
}
