package calendar

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	long := strings.Repeat("a", maxSegment+1)
	tests := []struct {
		path string
		want target
		err  error
	}{
		{"/dav", target{kind: kindRoot, slash: true}, nil},
		{"/dav/", target{kind: kindRoot, slash: true}, nil},
		{"/dav/principals/", target{kind: kindPrincipals, slash: true}, nil},
		{"/dav/principals/alice/", target{kind: kindPrincipal, user: "alice", slash: true}, nil},
		{"/dav/principals/alice", target{kind: kindPrincipal, user: "alice"}, nil},
		{"/dav/calendars/", target{kind: kindCalendars, slash: true}, nil},
		{"/dav/calendars/alice/", target{kind: kindHome, user: "alice", slash: true}, nil},
		{"/dav/calendars/alice/work/", target{kind: kindCalendar, user: "alice", calendar: "work", slash: true}, nil},
		{"/dav/calendars/alice/inbox/", target{kind: kindInbox, user: "alice", calendar: "inbox", slash: true}, nil},
		{"/dav/calendars/alice/outbox", target{kind: kindOutbox, user: "alice", calendar: "outbox"}, nil},
		{"/dav/calendars/alice/Inbox/", target{kind: kindCalendar, user: "alice", calendar: "Inbox", slash: true}, nil},
		{"/dav/calendars/alice/inbox/m.ics", target{kind: kindObject, user: "alice", calendar: "inbox", object: "m.ics"}, nil},
		{"/dav/calendars/alice/my%20cal/x%40y.ics", target{kind: kindObject, user: "alice", calendar: "my cal", object: "x@y.ics"}, nil},
		{"/dav/calendars/alice/work/%C3%A9t%C3%A9.ics", target{kind: kindObject, user: "alice", calendar: "work", object: "été.ics"}, nil},
		{"/davx/", target{}, errNoResource},
		{"/other/", target{}, errNoResource},
		{"/dav/nope/", target{}, errNoResource},
		{"/dav/principals/alice/x/", target{}, errNoResource},
		{"/dav/calendars/alice/work/a.ics/", target{}, errNoResource},
		{"/dav/calendars/alice/work/a/b", target{}, errNoResource},
		{"/dav/calendars/alice/../bob/", target{}, errBadPath},
		{"/dav/calendars/alice/%2e%2e/", target{}, errBadPath},
		{"/dav/calendars/alice/./", target{}, errBadPath},
		{"/dav/calendars/alice/a%2Fb/", target{}, errBadPath},
		{"/dav/calendars/alice/a%5Cb/", target{}, errBadPath},
		{"/dav/calendars//work/", target{}, errBadPath},
		{"/dav/calendars/alice/work/%00.ics", target{}, errBadPath},
		{"/dav/calendars/alice/work/%ff.ics", target{}, errBadPath},
		{"/dav/calendars/alice/work/%zz.ics", target{}, errBadPath},
		{"/dav/calendars/alice/" + long + "/", target{}, errBadPath},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := parsePath("/dav", tt.path)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHrefsRoundTrip(t *testing.T) {
	h := hrefs{prefix: "/dav"}
	for _, name := range []string{"plain.ics", "with space.ics", "été.ics", "a?b#c;d.ics", "100%.ics", "a+b=c&d.ics"} {
		href := h.object("alice", "my cal", name)
		got, err := parseHref("/dav", href)
		if err != nil {
			t.Fatalf("%q: %v", href, err)
		}
		if got.object != name || got.calendar != "my cal" || got.user != "alice" {
			t.Errorf("%q parsed as %+v", href, got)
		}
		abs, err := parseHref("/dav", "https://salon.example"+href)
		if err != nil || abs != got {
			t.Errorf("absolute %q: %+v, %v", href, abs, err)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/dav/", "/dav/calendars/alice/work/x.ics", "/dav/calendars/a/%2F/", "/dav/principals/%2e%2e/", "/dav//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tg, err := parsePath("/dav", p)
		if err != nil {
			return
		}
		for _, s := range []string{tg.user, tg.calendar, tg.object} {
			if s != "" && !validName(s) {
				t.Fatalf("%q gave invalid name %q", p, s)
			}
		}
		// What salon writes back parses to the same target.
		again, err := parsePath("/dav", hrefs{prefix: "/dav"}.of(tg))
		if err != nil || again.kind != tg.kind || again.user != tg.user || again.calendar != tg.calendar || again.object != tg.object {
			t.Fatalf("%q: round trip gave %+v, %v", p, again, err)
		}
	})
}
