package calendar_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	goical "github.com/emersion/go-ical"

	"github.com/salonhq/salon/mail"
)

var updateITIP = flag.Bool("update-itip", false, "rewrite calendar/testdata/itip/*.ics from the current output")

// TestITIPGolden pins every iTIP object salon writes for one meeting's
// life: the organizer's stamped copy, the REQUEST in a salon user's inbox
// and by mail, the attendee's copy, the REPLY, the CANCEL. Each must also
// parse with go-ical and survive its encoder.
func TestITIPGolden(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	const path = "/dav/calendars/alice/default/golden.ics"
	// No VTIMEZONE: salon adds the one the mail needs.
	data := meetingEvent("golden-1", "20300110T140000", 0, "bob@example.com", "carol@outside.example")
	data = regexp.MustCompile(`(?s)BEGIN:VTIMEZONE.*END:VTIMEZONE\r\n`).ReplaceAllString(data, "")
	e.put("alice", path, data).expect(t, http.StatusCreated)

	got := map[string]string{}
	got["organizer-copy"] = e.do("alice", "GET", path, "").body
	got["request-inbox"] = string(e.inbox(t, "bob")[0].Data)
	bobCal, bobCopy := e.object(t, "bob", "golden-1")
	got["attendee-copy"] = string(bobCopy.Data)
	mailCal := func(i int) string {
		t.Helper()
		msgs := e.mail(t)
		full, err := e.outbox.Entry(ctx, msgs[i].Seq)
		if err != nil {
			t.Fatal(err)
		}
		in, err := mail.ParseIMIP(bytes.NewReader(full.Data))
		if err != nil {
			t.Fatal(err)
		}
		return string(in.Calendar)
	}
	got["request-mail"] = mailCal(0)

	accepted := strings.Replace(string(bobCopy.Data), "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com", "PARTSTAT=ACCEPTED:mailto:bob@example.com", 1)
	e.put("bob", "/dav/calendars/bob/"+bobCal.Name+"/"+bobCopy.Name, accepted).expect(t, http.StatusNoContent)
	got["reply-inbox"] = string(e.inbox(t, "alice")[0].Data)

	e.do("alice", "DELETE", path, "").expect(t, http.StatusNoContent)
	got["cancel-mail"] = mailCal(1)

	slug := regexp.MustCompile(`X-SALON-MEETING:([a-z0-9-]+)`).FindStringSubmatch(got["organizer-copy"])
	if slug == nil {
		t.Fatalf("no meeting in\n%s", got["organizer-copy"])
	}
	for name, text := range got {
		text = strings.ReplaceAll(text, slug[1], "SLUG")
		// The slug's length may move a fold; compare unfolded.
		text = strings.ReplaceAll(text, "\r\n ", "")
		file := filepath.Join("testdata", "itip", name+".ics")
		if *updateITIP {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test ./calendar/ -run ITIPGolden -update-itip)", err)
		}
		if text != string(want) {
			t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, text, want)
		}
		roundTrip(t, name, got[name])
	}
	if !strings.Contains(got["request-mail"], "BEGIN:VTIMEZONE") || !strings.Contains(got["request-mail"], "TZID:Europe/Paris") {
		t.Error("the mailed REQUEST lacks the VTIMEZONE its times refer to")
	}
}

// roundTrip parses text with go-ical, encodes it with go-ical and parses
// it again: the scheduling properties survive.
func roundTrip(t *testing.T, name, text string) {
	t.Helper()
	cal, err := goical.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		t.Fatalf("%s does not parse with go-ical: %v\n%s", name, err, text)
	}
	var buf bytes.Buffer
	if err := goical.NewEncoder(&buf).Encode(cal); err != nil {
		t.Fatalf("%s: go-ical cannot encode it back: %v", name, err)
	}
	back, err := goical.NewDecoder(&buf).Decode()
	if err != nil {
		t.Fatalf("%s: go-ical's own output does not parse: %v", name, err)
	}
	key := func(c *goical.Calendar) string {
		var b strings.Builder
		if m := c.Props.Get(goical.PropMethod); m != nil {
			b.WriteString("METHOD:" + m.Value + "\n")
		}
		for _, ev := range c.Events() {
			for _, p := range []string{goical.PropUID, goical.PropSequence, goical.PropDateTimeStart, goical.PropOrganizer, goical.PropAttendee, goical.PropStatus} {
				for _, v := range ev.Props.Values(p) {
					b.WriteString(p + ":" + v.Value + ";" + v.Params.Get(goical.ParamParticipationStatus) + "\n")
				}
			}
		}
		return b.String()
	}
	if key(cal) != key(back) {
		t.Errorf("%s changed in a go-ical round trip:\n%s\nvs\n%s", name, key(cal), key(back))
	}
	if key(cal) == "" {
		t.Errorf("%s has no event", name)
	}
}
