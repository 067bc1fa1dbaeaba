package meeting

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/db"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	d, err := db.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s := NewStore(d)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreCreateGetList(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())

	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List on an empty store = %v, %v", list, err)
	}

	paris, _ := time.LoadLocation("Europe/Paris")
	first := Meeting{Slug: "weekly-sync", Title: "Weekly sync", CreatedAt: time.Date(2026, 3, 1, 10, 0, 0, 123456789, paris)}
	second := Meeting{Slug: "k3fa-9qzx-m2wd", Title: "Réunion d'équipe ✓", CreatedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	for _, m := range []Meeting{second, first} {
		if err := s.Create(ctx, m); err != nil {
			t.Fatalf("Create(%s): %v", m.Slug, err)
		}
	}

	got, err := s.Get(ctx, "weekly-sync")
	if err != nil {
		t.Fatal(err)
	}
	want := Meeting{Slug: "weekly-sync", Title: "Weekly sync", CreatedAt: time.Date(2026, 3, 1, 9, 0, 0, 123456000, time.UTC)}
	if got != want {
		t.Errorf("Get = %+v, want %+v", got, want)
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Slug != first.Slug || list[1].Slug != second.Slug {
		t.Errorf("List = %+v, want oldest first", list)
	}
	if list[1].Title != second.Title {
		t.Errorf("title = %q, want %q", list[1].Title, second.Title)
	}
}

func TestStoreCreateDefaultsTime(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	before := time.Now().Add(-time.Second)
	if err := s.Create(ctx, Meeting{Slug: "abc", Title: "x"}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Get(ctx, "abc")
	if err != nil {
		t.Fatal(err)
	}
	if m.CreatedAt.Before(before) || m.CreatedAt.After(time.Now()) {
		t.Errorf("CreatedAt = %s, want about now", m.CreatedAt)
	}
}

func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if err := s.Create(ctx, Meeting{Slug: "taken", Title: "one"}); err != nil {
		t.Fatal(err)
	}

	createTests := []struct {
		name string
		m    Meeting
		want error // nil: any error
	}{
		{"taken slug", Meeting{Slug: "taken", Title: "two"}, ErrExists},
		{"invalid slug", Meeting{Slug: "Not A Slug", Title: "x"}, nil},
		{"empty slug", Meeting{Title: "x"}, nil},
		{"huge title", Meeting{Slug: "huge", Title: strings.Repeat("x", maxTitleLen+1)}, nil},
	}
	for _, tt := range createTests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Create(ctx, tt.m)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Create = %v, want %v", err, tt.want)
			}
		})
	}
	if m, _ := s.Get(ctx, "taken"); m.Title != "one" {
		t.Errorf("a refused Create changed the meeting: %+v", m)
	}

	for _, slug := range []string{"missing", "", "../../etc/passwd", "UPPER"} {
		if _, err := s.Get(ctx, slug); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", slug, err)
		}
	}
}

func TestEnsureDemo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	if err := s.Create(ctx, Meeting{Slug: "not-the-demo", Title: "Other"}); err != nil {
		t.Fatal(err)
	}

	demo, created, err := s.EnsureDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first EnsureDemo did not create the demo")
	}
	if demo.Title != DemoTitle || !ValidSlug(demo.Slug) || demo.Slug == "not-the-demo" {
		t.Errorf("demo = %+v", demo)
	}
	if got, err := s.Get(ctx, demo.Slug); err != nil || got != demo {
		t.Errorf("Get(demo) = %+v, %v; want %+v", got, err, demo)
	}

	again, created, err := s.EnsureDemo(ctx)
	if err != nil || created || again != demo {
		t.Errorf("second EnsureDemo = %+v, %v, %v; want %+v, false, nil", again, created, err, demo)
	}

	// A restart (a new Store on the same data directory) finds the same demo.
	restarted := openStore(t, dir)
	again, created, err = restarted.EnsureDemo(ctx)
	if err != nil || created || again != demo {
		t.Errorf("EnsureDemo after restart = %+v, %v, %v; want %+v, false, nil", again, created, err, demo)
	}
}

func TestEnsureDemoConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	openStore(t, dir) // migrate once
	const n = 6
	demos := make([]Meeting, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := openStore(t, dir)
		wg.Go(func() { demos[i], created[i], errs[i] = s.EnsureDemo(ctx) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if demos[i] != demos[0] {
			t.Errorf("caller %d got demo %+v, caller 0 got %+v", i, demos[i], demos[0])
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d callers report creating the demo, want 1", creators)
	}
}

func TestForEvent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	m1, err := s.ForEvent(ctx, "alice", "uid-1@example.org", "Weekly\r\nsync")
	if err != nil {
		t.Fatal(err)
	}
	if !ValidSlug(m1.Slug) || m1.Title != "Weekly sync" {
		t.Fatalf("ForEvent = %+v", m1)
	}
	again, err := s.ForEvent(ctx, "alice", "uid-1@example.org", "Weekly sync (moved)")
	if err != nil {
		t.Fatal(err)
	}
	if again.Slug != m1.Slug || again.Title != "Weekly sync (moved)" {
		t.Fatalf("second save: %+v, want slug %s and the new title", again, m1.Slug)
	}
	got, err := s.Get(ctx, m1.Slug)
	if err != nil || got.Title != "Weekly sync (moved)" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	other, err := s.ForEvent(ctx, "bob", "uid-1@example.org", "Bob's")
	if err != nil {
		t.Fatal(err)
	}
	if other.Slug == m1.Slug {
		t.Fatal("another organizer's event with the same UID got the same room")
	}
	for _, bad := range [][2]string{{"", "x"}, {"alice", ""}, {"alice", strings.Repeat("u", 2000)}} {
		if _, err := s.ForEvent(ctx, bad[0], bad[1], "t"); err == nil {
			t.Errorf("ForEvent(%q, %d-byte uid) accepted", bad[0], len(bad[1]))
		}
	}
}
