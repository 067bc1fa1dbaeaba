package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/db"
)

// testStore runs the suite every engine passes (TestSQLite, TestPostgres).
// newStore opens a migrated Store with opts on a new, empty database.
func testStore(t *testing.T, newStore func(t *testing.T, opts Options) *Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, newStore func(t *testing.T, opts Options) *Store)
	}{
		{"Calendars", testCalendars},
		{"CalendarProperties", testCalendarProperties},
		{"DeleteCalendar", testDeleteCalendar},
		{"Objects", testObjects},
		{"ObjectsBatch", testObjectsBatch},
		{"Preconditions", testPreconditions},
		{"UIDConflict", testUIDConflict},
		{"Changes", testChanges},
		{"StaleTokens", testStaleTokens},
		{"Compaction", testCompaction},
		{"Range", testRange},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentIfMatch", testConcurrentIfMatch},
		{"FailedWriteChangesNothing", testFailedWrite},
		{"MigrateTwice", testMigrateTwice},
		{"MigrateFrom0002", testMigrateFrom0002},
		{"Kinds", testKinds},
		{"ScheduleTag", testScheduleTag},
		{"ConcurrentScheduleTag", testConcurrentScheduleTag},
		{"ObjectByUID", testObjectByUID},
		{"Apply", testApply},
		{"ApplyWithoutOutbox", testApplyWithoutOutbox},
		{"ConcurrentApply", testConcurrentApply},
		{"OneConnection", testOneConnection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newStore)
		})
	}
}

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 5, 4, 9, 30, 0, 123456789, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var ctx = context.Background()

func mustCalendar(t *testing.T, s *Store, owner, name string) calendar.Calendar {
	t.Helper()
	c := calendar.Calendar{Owner: owner, Name: name, DisplayName: name, Components: []string{"VEVENT", "VTODO"}}
	if err := s.CreateCalendar(ctx, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// event is an object named name.ics with UID name, data that names it and
// its version, and bounds [start, start+1h).
func event(calendarID int64, name, version string, start time.Time) *calendar.Object {
	return &calendar.Object{
		CalendarID: calendarID,
		Name:       name + ".ics",
		UID:        name,
		Component:  "VEVENT",
		Data:       []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:" + name + "\r\nSUMMARY:" + version + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"),
		Start:      start,
		End:        start.Add(time.Hour),
	}
}

func mustPut(t *testing.T, s *Store, o *calendar.Object, pre calendar.Precondition) string {
	t.Helper()
	etag, _, err := s.PutObject(ctx, o, pre)
	if err != nil {
		t.Fatal(err)
	}
	return etag
}

func syncToken(t testing.TB, s *Store, owner, name string) int64 {
	t.Helper()
	c, err := s.Calendar(ctx, owner, name)
	if err != nil {
		t.Fatal(err)
	}
	return c.SyncToken
}

// second and third keep the error of a call with two or three results.
func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }

// names lists the objects' names, sorted.
func names(list []calendar.Object) []string {
	return collect(list, func(o calendar.Object) string { return o.Name })
}

// collect maps list to strings, sorted.
func collect[T any](list []T, f func(T) string) []string {
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, f(x))
	}
	slices.Sort(out)
	return out
}

func testConcurrentPuts(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	const writers, each = 20, 10
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				_, created, err := s.PutObject(ctx, event(c.ID, name, "1", start), calendar.Precondition{IfNoneMatchAny: true})
				if err == nil && !created {
					err = fmt.Errorf("%s: created = false", name)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	changes, current, err := s.Changes(ctx, c.ID, c.SyncToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != writers*each {
		t.Errorf("%d changes logged, want %d", len(changes), writers*each)
	}
	seen := map[int64]bool{}
	for _, ch := range changes {
		if seen[ch.Token] {
			t.Errorf("token %d given twice", ch.Token)
		}
		seen[ch.Token] = true
	}
	if last := changes[len(changes)-1].Token; last != current {
		t.Errorf("sync token %d, want the last change's %d", current, last)
	}
	infos, err := s.ObjectInfos(ctx, c.ID)
	if err != nil || len(infos) != writers*each {
		t.Errorf("%d objects stored, %v; want %d", len(infos), err, writers*each)
	}
}

// Read, modify and write back with If-Match, as a client does: racing
// writers of one object lose no increment.
func testConcurrentIfMatch(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	counter := event(c.ID, "counter", "0", start)
	counter.Data = []byte("0")
	mustPut(t, s, counter, calendar.Precondition{})

	const writers, each = 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for done := 0; done < each; {
				o, err := s.Object(ctx, c.ID, counter.Name)
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(string(o.Data))
				o.Data = []byte(strconv.Itoa(n + 1))
				_, _, err = s.PutObject(ctx, &o, calendar.Precondition{IfMatch: o.ETag})
				switch {
				case err == nil:
					done++
				case !errors.Is(err, calendar.ErrPrecondition):
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	o, err := s.Object(ctx, c.ID, counter.Name)
	if err != nil {
		t.Fatal(err)
	}
	if string(o.Data) != strconv.Itoa(writers*each) {
		t.Errorf("counter = %s, want %d", o.Data, writers*each)
	}
}

// failOn makes the database refuse to store an object named name, so that
// a write fails after it has logged its change.
func failOn(t *testing.T, d *db.DB, name string) {
	t.Helper()
	var script string
	switch d.Dialect {
	case db.Postgres:
		script = `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.name = '` + name + `' THEN RAISE EXCEPTION 'refused by test'; END IF;
				RETURN NEW;
			END $$;
			CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON objects FOR EACH ROW EXECUTE FUNCTION refuse();`
	default:
		script = `CREATE TRIGGER refuse_insert BEFORE INSERT ON objects WHEN NEW.name = '` + name + `'
				BEGIN SELECT RAISE(ABORT, 'refused by test'); END;
			CREATE TRIGGER refuse_update BEFORE UPDATE ON objects WHEN NEW.name = '` + name + `'
				BEGIN SELECT RAISE(ABORT, 'refused by test'); END;`
	}
	if _, err := d.Exec(script); err != nil {
		t.Fatal(err)
	}
}

func testFailedWrite(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	c := mustCalendar(t, s, "alice", "work")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	mustPut(t, s, event(c.ID, "a", "1", start), calendar.Precondition{})
	etagB := mustPut(t, s, event(c.ID, "boom", "1", start), calendar.Precondition{})
	failOn(t, s.db, "boom.ics")
	replace := event(c.ID, "boom", "2", start)
	before := syncToken(t, s, "alice", "work")
	countLog := func() int {
		var n int
		if err := s.db.QueryRow(s.db.Rebind(`SELECT COUNT(*) FROM changes WHERE calendar_id = ?`), c.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	logRows := countLog()

	if _, _, err := s.PutObject(ctx, replace, calendar.Precondition{}); err == nil {
		t.Fatal("PutObject succeeded past the refusing trigger")
	}
	if replace.ETag != "" {
		t.Errorf("a failed PutObject set the ETag %s", replace.ETag)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.PutObject(cancelled, event(c.ID, "c", "1", start), calendar.Precondition{}); err == nil {
		t.Error("PutObject succeeded with a cancelled context")
	}

	if after := syncToken(t, s, "alice", "work"); after != before {
		t.Errorf("failed writes moved the sync token from %d to %d", before, after)
	}
	if n := countLog(); n != logRows {
		t.Errorf("failed writes left %d change-log rows, want %d", n, logRows)
	}
	if changes, _, err := s.Changes(ctx, c.ID, before); err != nil || len(changes) != 0 {
		t.Errorf("Changes after failed writes = %v, %v; want none", changes, err)
	}
	o, err := s.Object(ctx, c.ID, "boom.ics")
	if err != nil || o.ETag != etagB || !bytes.Contains(o.Data, []byte("SUMMARY:1")) {
		t.Errorf("failed replace changed the object: %+v, %v", o, err)
	}
	if _, err := s.Object(ctx, c.ID, "c.ics"); !errors.Is(err, calendar.ErrNotFound) {
		t.Errorf("cancelled PutObject stored the object: %v", err)
	}
	// The store still works.
	mustPut(t, s, event(c.ID, "d", "1", start), calendar.Precondition{})
}

func testMigrateTwice(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	mustCalendar(t, s, "alice", "work")
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if _, err := s.Calendar(ctx, "alice", "work"); err != nil {
		t.Errorf("after a second Migrate: %v", err)
	}
}

// A database that salon kept before scheduling, with migrations 0001 and
// 0002 only, takes 0003 with its rows: ordinary calendars, untagged
// objects.
func testMigrateFrom0002(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	// newStore migrated to the newest schema; start over from the older one.
	if _, err := s.db.Exec(`DROP TABLE changes; DROP TABLE objects; DROP TABLE calendars;
		DELETE FROM schema_migrations WHERE owner = 'calendar'`); err != nil {
		t.Fatal(err)
	}
	old := fstest.MapFS{}
	for _, name := range []string{"0001_calendars.sql", "0002_short_span.sql"} {
		script, err := fs.ReadFile(migrations, "migrations/"+string(s.db.Dialect)+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: script}
	}
	if err := s.db.Migrate(ctx, "calendar", old); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := s.db.QueryRow(`INSERT INTO calendars (owner, name, display_name, description, color, sort_order,
			timezone, components, dead_props, sync_token, min_token, log_rows, created_at, updated_at)
		VALUES ('alice', 'work', 'Work', '', '', 0, '', 'VEVENT', '{}', 0, 0, 0, 0, 0) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(s.db.Rebind(`INSERT INTO objects (calendar_id, name, uid, component, etag, token, data,
			size, start_utc, end_utc, short_span, modified)
		VALUES (?, 'a.ics', 'a', 'VEVENT', '"1-00000000"', 1, ?, 1, 0, NULL, 0, 0)`), id, []byte("x")); err != nil {
		t.Fatal(err)
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c, o, err := s.ObjectByUID(ctx, "alice", "a")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != calendar.KindCalendar || o.ScheduleTag != "" || o.ETag != `"1-00000000"` {
		t.Errorf("after migrating: kind %q, schedule-tag %q, ETag %s; want \"\", \"\", the old ETag", c.Kind, o.ScheduleTag, o.ETag)
	}
	// And it takes writes of the new kind.
	tagged := event(c.ID, "a", "2", time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	tagged.ScheduleTag = `"s1"`
	if _, _, err := s.PutObject(ctx, tagged, calendar.Precondition{IfMatch: o.ETag}); err != nil {
		t.Fatal(err)
	}
	inbox := calendar.Calendar{Owner: "alice", Name: calendar.InboxName, Kind: calendar.KindInbox}
	if err := s.CreateCalendar(ctx, &inbox); err != nil {
		t.Fatal(err)
	}
}

// A pool of one connection, as some deployments set for SQLite, must not
// deadlock a write that meets a statement for the first time: it would
// wait for a second connection until the context ends.
func testOneConnection(t *testing.T, newStore func(*testing.T, Options) *Store) {
	s := newStore(t, Options{})
	s.db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	c := calendar.Calendar{Owner: "alice", Name: "work"}
	if err := s.CreateCalendar(ctx, &c); err != nil {
		t.Fatal(err)
	}
	etag, _, err := s.PutObject(ctx, event(c.ID, "a", "1", start), calendar.Precondition{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutObject(ctx, event(c.ID, "a", "2", start), calendar.Precondition{IfMatch: etag}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(ctx, c.ID, "a.ics", calendar.Precondition{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Changes(ctx, c.ID, c.SyncToken); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Used after Close, the Store prepares its statements again.
	if _, _, err := s.PutObject(ctx, event(c.ID, "b", "1", start), calendar.Precondition{}); err != nil {
		t.Fatal(err)
	}
}
