package mail

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var (
	testConfig = ComposerConfig{
		From:   Address{Name: "salon", Email: "salon@meet.example.com"},
		Domain: "meet.example.com",
	}
	testNow   = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	alice     = Address{Name: "Alice Martin", Email: "alice@example.com"}
	bob       = Address{Name: "Bob Dupont", Email: "bob@example.org"}
	elodie    = Address{Name: "Élodie Garnier", Email: "elodie@garnier.fr"}
	testUID   = "7kq0vhc3l1p2m4n6r8s0t2v4x6@salon.example.com"
	testRSVP  = &RSVPLinks{Accept: "https://meet.example.com/rsvp/tok123?a=accept", Tentative: "https://meet.example.com/rsvp/tok123?a=tentative", Decline: "https://meet.example.com/rsvp/tok123?a=decline"}
	testJoin  = "https://meet.example.com/r/team-meeting"
	parisZone = mustLoadLocation("Europe/Paris")
)

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// newTestComposer returns a Composer with a fixed clock and a seeded
// random source, whose output is the same on every run.
func newTestComposer() *Composer {
	return NewComposer(testConfig, ComposerOptions{
		Now:  func() time.Time { return testNow },
		Rand: rand.NewChaCha8([32]byte{'s', 'a', 'l', 'o', 'n'}),
	})
}

// testCalendar is an iTIP object as package calendar would hand it over.
func testCalendar(method, summary string, sequence int, organizer, attendee Address, partStat string) []byte {
	attendeeParams := "CN=" + attendee.Name + ";PARTSTAT=" + partStat
	if method == "REQUEST" {
		attendeeParams += ";RSVP=TRUE"
	}
	status := "CONFIRMED"
	if method == "CANCEL" {
		status = "CANCELLED"
	}
	lines := []string{
		"BEGIN:VCALENDAR",
		"VERSION:2.0",
		"PRODID:-//salon//salon 1.0//EN",
		"METHOD:" + method,
		"BEGIN:VTIMEZONE",
		"TZID:Europe/Paris",
		"BEGIN:DAYLIGHT",
		"TZOFFSETFROM:+0100",
		"TZOFFSETTO:+0200",
		"TZNAME:CEST",
		"DTSTART:19700329T020000",
		"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
		"END:DAYLIGHT",
		"BEGIN:STANDARD",
		"TZOFFSETFROM:+0200",
		"TZOFFSETTO:+0100",
		"TZNAME:CET",
		"DTSTART:19701025T030000",
		"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
		"END:STANDARD",
		"END:VTIMEZONE",
		"BEGIN:VEVENT",
		"UID:" + testUID,
		"DTSTAMP:20261120T093000Z",
		fmt.Sprintf("SEQUENCE:%d", sequence),
		"DTSTART;TZID=Europe/Paris:20261130T140000",
		"DTEND;TZID=Europe/Paris:20261130T150000",
		"RRULE:FREQ=WEEKLY;BYDAY=MO",
		"SUMMARY:" + summary,
		"STATUS:" + status,
		"ORGANIZER;CN=" + organizer.Name + ":mailto:" + organizer.Email,
		"ATTENDEE;" + attendeeParams + ":mailto:" + attendee.Email,
		"END:VEVENT",
		"END:VCALENDAR",
	}
	var b strings.Builder
	for _, l := range lines {
		foldLine(&b, l)
	}
	return []byte(b.String())
}

// foldLine writes l folded at 75 octets, as RFC 5545 §3.1 asks, without
// splitting a UTF-8 sequence.
func foldLine(b *strings.Builder, l string) {
	for limit := 75; len(l) > limit; limit = 74 {
		i := limit
		for !utf8.RuneStart(l[i]) {
			i--
		}
		b.WriteString(l[:i])
		b.WriteString("\r\n ")
		l = l[i:]
	}
	b.WriteString(l)
	b.WriteString("\r\n")
}

// goldenCase is one composed message kept in testdata/golden, with what
// its structure must show.
type goldenCase struct {
	name string
	inv  *Invitation

	from, sender, to string // header values as decoded by go-message
	subject          string
	lang             string
	calEncoding      string
	textHas          []string
	textHasNot       []string
	htmlHas          []string
	htmlHasNot       []string
}

func goldenCases() []goldenCase {
	base := func() Invitation {
		return Invitation{
			Organizer:   alice,
			Attendee:    bob,
			Summary:     "Team meeting",
			Location:    "Lovelace room",
			Description: "Agenda:\n- budget\n- <b>roadmap</b>",
			Start:       time.Date(2026, 11, 30, 14, 0, 0, 0, parisZone),
			End:         time.Date(2026, 11, 30, 15, 0, 0, 0, parisZone),
			Recurring:   true,
			TimeZone:    "Europe/Paris",
			JoinURL:     testJoin,
			UID:         testUID,
		}
	}
	request := base()
	request.Method = "REQUEST"
	request.Lang = "en"
	request.RSVP = testRSVP
	request.Calendar = testCalendar("REQUEST", "Team meeting", 0, alice, bob, "NEEDS-ACTION")

	update := base()
	update.Method = "REQUEST"
	update.Update = true
	update.Lang = "fr"
	update.Organizer = elodie
	update.Summary = "Réunion d’équipe"
	update.Location = "Salle Lovelace"
	update.Description = "Ordre du jour :\n– budget"
	update.RSVP = testRSVP
	update.Calendar = testCalendar("REQUEST", "Réunion d’équipe", 1, elodie, bob, "NEEDS-ACTION")

	cancel := base()
	cancel.Method = "CANCEL"
	cancel.Lang = "en"
	cancel.Recurring = false
	cancel.Calendar = testCalendar("CANCEL", "Team meeting", 2, alice, bob, "NEEDS-ACTION")

	reply := base()
	reply.Method = "REPLY"
	reply.Lang = "en"
	reply.PartStat = "ACCEPTED"
	reply.JoinURL = ""
	reply.Description = ""
	reply.Calendar = testCalendar("REPLY", "Team meeting", 0, alice, bob, "ACCEPTED")

	const when = "Monday, November 30, 2026, 2:00 PM – 3:00 PM (Europe/Paris)"
	return []goldenCase{{
		name:        "request-en",
		inv:         &request,
		from:        `"Alice Martin" <alice@example.com>`,
		sender:      `"salon" <salon@meet.example.com>`,
		to:          `"Bob Dupont" <bob@example.org>`,
		subject:     "Invitation: Team meeting @ " + when,
		lang:        "en",
		calEncoding: "7bit",
		textHas: []string{"Alice Martin invited you to a meeting.", "Join the meeting: " + testJoin,
			"When: " + when, "Repeats", "Where: Lovelace room", "Organizer: Alice Martin <alice@example.com>",
			"- <b>roadmap</b>", "Accept: " + testRSVP.Accept, "Tentative: " + testRSVP.Tentative, "Decline: " + testRSVP.Decline},
		textHasNot: []string{"updated", "cancelled"},
		htmlHas: []string{`<html lang="en">`, `href="` + testJoin + `"`, ">Join the meeting</a>", when,
			"&lt;b&gt;roadmap&lt;/b&gt;", `href="https://meet.example.com/rsvp/tok123?a=accept"`, ">Decline</a>"},
		htmlHasNot: []string{"<b>roadmap", "<script", "<img", "<link", "src="},
	}, {
		name:        "request-fr-update",
		inv:         &update,
		from:        `"Élodie Garnier" <elodie@garnier.fr>`,
		sender:      `"salon" <salon@meet.example.com>`,
		to:          `"Bob Dupont" <bob@example.org>`,
		subject:     "Invitation modifiée\u00a0: Réunion d’équipe @ lundi 30 novembre 2026, 14:00 – 15:00 (Europe/Paris)",
		lang:        "fr",
		calEncoding: "base64",
		textHas: []string{"Élodie Garnier vous invite à une réunion.", "Cette invitation a été modifiée.",
			"Rejoindre la réunion\u00a0: " + testJoin, "Quand\u00a0: lundi 30 novembre 2026, 14:00 – 15:00 (Europe/Paris)",
			"Se répète", "Lieu\u00a0: Salle Lovelace", "Participerez-vous\u00a0?", "Peut-être\u00a0: " + testRSVP.Tentative},
		htmlHas:    []string{`<html lang="fr">`, ">Rejoindre la réunion</a>", "Cette invitation a été modifiée.", ">Refuser</a>"},
		htmlHasNot: []string{"Join the meeting", "<script"},
	}, {
		name:        "cancel",
		inv:         &cancel,
		from:        `"Alice Martin" <alice@example.com>`,
		sender:      `"salon" <salon@meet.example.com>`,
		to:          `"Bob Dupont" <bob@example.org>`,
		subject:     "Cancelled: Team meeting @ " + when,
		lang:        "en",
		calEncoding: "7bit",
		textHas:     []string{"This meeting was cancelled.", "When: " + when},
		textHasNot:  []string{"Join the meeting", testJoin, "Accept", "Repeats", "invited you"},
		htmlHas:     []string{"This meeting was cancelled.", "text-decoration:line-through"},
		htmlHasNot:  []string{"Join the meeting", testJoin, "rsvp"},
	}, {
		name:        "reply",
		inv:         &reply,
		from:        `"Bob Dupont" <bob@example.org>`,
		sender:      `"salon" <salon@meet.example.com>`,
		to:          `"Alice Martin" <alice@example.com>`,
		subject:     "Accepted: Team meeting @ " + when,
		lang:        "en",
		calEncoding: "7bit",
		textHas:     []string{"Bob Dupont has accepted the invitation.", "When: " + when, "on behalf of Bob Dupont"},
		textHasNot:  []string{"Join the meeting", "Accept:", "Will you attend?"},
		htmlHas:     []string{"Bob Dupont has accepted the invitation."},
		htmlHasNot:  []string{"Join the meeting", "rsvp"},
	}}
}

func TestComposeGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newTestComposer().Compose(tc.inv)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", tc.name+".eml")
			if *update {
				if err := os.WriteFile(path, m.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update to create it)", err)
			}
			if !bytes.Equal(m.Data, want) {
				t.Errorf("the message differs from %s (run go test -run Golden -update after checking the diff):\n%s", path, m.Data)
			}
			checkComposed(t, m, tc)
		})
	}
}

// checkComposed checks a composed message as a mail client would read
// it: its envelope, its header, its MIME tree, its bodies and its
// iCalendar parts.
func checkComposed(t *testing.T, m Message, tc goldenCase) {
	t.Helper()
	inv := tc.inv
	method := strings.ToUpper(inv.Method)

	wantTo := inv.Attendee.Email
	if method == "REPLY" {
		wantTo = inv.Organizer.Email
	}
	if m.From != testConfig.From.Email || !reflect.DeepEqual(m.To, []string{wantTo}) {
		t.Errorf("envelope = %q → %q, want %q → %q", m.From, m.To, testConfig.From.Email, wantTo)
	}
	if m.Method != method || m.UID != testUID || m.Subject != tc.subject {
		t.Errorf("Message = {Method %q, UID %q, Subject %q}, want {%q, %q, %q}", m.Method, m.UID, m.Subject, method, testUID, tc.subject)
	}
	if !bytes.HasSuffix(m.Data, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(m.Data, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("the message has line endings other than CRLF")
	}

	e, err := message.Read(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := gomail.Header{Header: e.Header}
	checkHeaderCounts(t, h, map[string]int{
		"From": 1, "Sender": 1, "Reply-To": 1, "To": 1, "Subject": 1, "Date": 1, "Message-Id": 1,
		"Mime-Version": 1, "Content-Language": 1, "Auto-Submitted": 1, "X-Auto-Response-Suppress": 1, "Content-Type": 1,
	})
	for k, want := range map[string]string{
		"From":             tc.from,
		"Sender":           tc.sender,
		"Reply-To":         tc.from,
		"To":               tc.to,
		"Subject":          tc.subject,
		"Mime-Version":     "1.0",
		"Content-Language": tc.lang,
		"Auto-Submitted":   "auto-generated",
	} {
		got, err := h.Text(k)
		if k != "Subject" {
			// Addresses: compare what a client shows.
			if l, aerr := h.AddressList(k); aerr == nil && len(l) == 1 {
				got = l[0].String()
				want = mustParseAddress(t, want).String()
			}
		}
		if err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", k, got, err, want)
		}
	}
	if id, err := h.MessageID(); err != nil || id != m.ID || !strings.HasSuffix(id, "@"+testConfig.Domain) {
		t.Errorf("Message-Id = %q (%v), want %q ending in @%s", id, err, m.ID, testConfig.Domain)
	}
	if d, err := h.Date(); err != nil || !d.Equal(testNow) {
		t.Errorf("Date = %v (%v), want %v", d, err, testNow)
	}

	parts := readParts(t, e)
	var tree []string
	for _, p := range parts {
		tree = append(tree, p.path+" "+p.mediaType)
	}
	wantTree := []string{"0 multipart/mixed", "1 multipart/alternative", "1.1 text/plain", "1.2 text/html", "1.3 text/calendar", "2 application/ics"}
	if !reflect.DeepEqual(tree, wantTree) {
		t.Fatalf("MIME tree = %q, want %q", tree, wantTree)
	}
	text, html, cal, ics := parts[2], parts[3], parts[4], parts[5]
	for _, p := range []part{text, html, cal} {
		if p.params["charset"] != "UTF-8" {
			t.Errorf("%s charset = %q, want UTF-8", p.mediaType, p.params["charset"])
		}
	}
	if cal.params["method"] != method {
		t.Errorf("text/calendar method = %q, want %q", cal.params["method"], method)
	}
	if cte := cal.header.Get("Content-Transfer-Encoding"); cte != tc.calEncoding {
		t.Errorf("text/calendar Content-Transfer-Encoding = %q, want %q", cte, tc.calEncoding)
	}
	if ics.params["name"] != "invite.ics" {
		t.Errorf("application/ics name = %q, want invite.ics", ics.params["name"])
	}
	if disp, dparams, err := ics.header.ContentDisposition(); err != nil || disp != "attachment" || dparams["filename"] != "invite.ics" {
		t.Errorf("application/ics Content-Disposition = %q %q (%v), want attachment; filename=invite.ics", disp, dparams, err)
	}

	checkContains(t, "text/plain", string(text.body), tc.textHas, tc.textHasNot)
	checkContains(t, "text/html", string(html.body), tc.htmlHas, tc.htmlHasNot)
	for _, p := range []part{cal, ics} {
		if !bytes.Equal(p.body, inv.Calendar) {
			t.Errorf("the %s part is\n%s\nwant the invitation's calendar\n%s", p.mediaType, p.body, inv.Calendar)
		}
		checkICalRoundTrip(t, p.mediaType, p.body, inv.Calendar)
	}
}

func mustParseAddress(t *testing.T, s string) *gomail.Address {
	t.Helper()
	a, err := gomail.ParseAddress(s)
	if err != nil {
		t.Fatalf("ParseAddress(%q): %v", s, err)
	}
	return a
}

// checkHeaderCounts checks that h has exactly the fields of want, each
// as many times as want says.
func checkHeaderCounts(t *testing.T, h gomail.Header, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for f := h.Fields(); f.Next(); {
		got[f.Key()]++
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("header fields = %v, want %v", got, want)
	}
}

func checkContains(t *testing.T, what, s string, has, hasNot []string) {
	t.Helper()
	for _, sub := range has {
		if !strings.Contains(s, sub) {
			t.Errorf("the %s body lacks %q:\n%s", what, sub, s)
		}
	}
	for _, sub := range hasNot {
		if strings.Contains(s, sub) {
			t.Errorf("the %s body contains %q:\n%s", what, sub, s)
		}
	}
}

// part is one MIME entity of a parsed message.
type part struct {
	path      string // "0" for the root, "1.2" for the second child of the first child
	mediaType string
	params    map[string]string
	header    message.Header
	body      []byte // decoded; nil for multipart entities
}

func readParts(t *testing.T, e *message.Entity) []part {
	t.Helper()
	var parts []part
	err := e.Walk(func(path []int, e *message.Entity, err error) error {
		if err != nil {
			return err
		}
		p := part{path: "0", header: e.Header}
		if len(path) > 0 {
			p.path = strings.Trim(strings.ReplaceAll(fmt.Sprint(addOne(path)), " ", "."), "[]")
		}
		p.mediaType, p.params, err = e.Header.ContentType()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(p.mediaType, "multipart/") {
			if p.body, err = io.ReadAll(e.Body); err != nil {
				return err
			}
		}
		parts = append(parts, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

func addOne(path []int) []int {
	out := make([]int, len(path))
	for i, n := range path {
		out[i] = n + 1
	}
	return out
}

// checkICalRoundTrip checks that got decodes with go-ical, encodes and
// decodes again, and carries the same iTIP properties as want.
func checkICalRoundTrip(t *testing.T, what string, got, want []byte) {
	t.Helper()
	cal, err := ical.NewDecoder(bytes.NewReader(got)).Decode()
	if err != nil {
		t.Fatalf("%s: go-ical cannot decode it: %v", what, err)
	}
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		t.Fatalf("%s: go-ical cannot encode it again: %v", what, err)
	}
	again, err := ical.NewDecoder(&buf).Decode()
	if err != nil {
		t.Fatalf("%s: go-ical cannot decode its own encoding: %v", what, err)
	}
	orig, err := ical.NewDecoder(bytes.NewReader(want)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	wantProps := itipProps(orig)
	for _, c := range []*ical.Calendar{cal, again} {
		if got := itipProps(c); !reflect.DeepEqual(got, wantProps) {
			t.Errorf("%s: iTIP properties = %q, want %q", what, got, wantProps)
		}
	}
}

// itipProps lists the properties iTIP processing depends on.
func itipProps(cal *ical.Calendar) []string {
	var out []string
	add := func(prefix string, props ical.Props, name string) {
		for _, p := range props.Values(name) {
			out = append(out, fmt.Sprintf("%s%s%v:%s", prefix, name, map[string][]string(p.Params), p.Value))
		}
	}
	add("", cal.Props, ical.PropMethod)
	for _, ev := range cal.Events() {
		for _, name := range []string{ical.PropUID, ical.PropSequence, ical.PropDateTimeStart, ical.PropOrganizer, ical.PropAttendee} {
			add("VEVENT.", ev.Props, name)
		}
	}
	return out
}

func TestComposeParseRoundTrip(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newTestComposer().Compose(tc.inv)
			if err != nil {
				t.Fatal(err)
			}
			in, err := ParseIMIP(bytes.NewReader(m.Data))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in.Calendar, tc.inv.Calendar) {
				t.Errorf("Calendar = %q, want %q", in.Calendar, tc.inv.Calendar)
			}
			from := mustParseAddress(t, tc.from)
			sender := mustParseAddress(t, tc.sender)
			want := Inbound{
				From:      Address{Name: from.Name, Email: from.Address},
				Sender:    Address{Name: sender.Name, Email: sender.Address},
				Subject:   tc.subject,
				MessageID: m.ID,
				Method:    m.Method,
				Calendar:  in.Calendar,
			}
			if !reflect.DeepEqual(*in, want) {
				t.Errorf("ParseIMIP = %+v, want %+v", *in, want)
			}
		})
	}
}

// validInvitation is a REQUEST that Compose accepts; tests break one
// thing at a time.
func validInvitation() *Invitation {
	return &Invitation{
		Method:    "REQUEST",
		Organizer: alice,
		Attendee:  bob,
		Summary:   "Team meeting",
		Start:     time.Date(2026, 11, 30, 14, 0, 0, 0, parisZone),
		End:       time.Date(2026, 11, 30, 15, 0, 0, 0, parisZone),
		TimeZone:  "Europe/Paris",
		JoinURL:   testJoin,
		RSVP:      testRSVP,
		Calendar:  testCalendar("REQUEST", "Team meeting", 0, alice, bob, "NEEDS-ACTION"),
		UID:       testUID,
	}
}

func TestComposeHeaderInjection(t *testing.T) {
	inv := validInvitation()
	inv.Summary = "Hello\r\nBcc: mallory@evil.example\r\n\r\nbody"
	inv.Organizer.Name = "Alice\r\nX-Injected: yes"
	inv.Attendee.Name = "Bob\nTo: mallory@evil.example"
	inv.Location = "Room\r1\u2028Bcc: x@evil.example"
	inv.TimeZone = "Europe/Paris\r\nX-Tz: 1"

	m, err := newTestComposer().Compose(inv)
	if err != nil {
		t.Fatal(err)
	}
	e, err := message.Read(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := gomail.Header{Header: e.Header}
	checkHeaderCounts(t, h, map[string]int{
		"From": 1, "Sender": 1, "Reply-To": 1, "To": 1, "Subject": 1, "Date": 1, "Message-Id": 1,
		"Mime-Version": 1, "Content-Language": 1, "Auto-Submitted": 1, "X-Auto-Response-Suppress": 1, "Content-Type": 1,
	})
	subject, _ := h.Subject()
	if want := "Hello  Bcc: mallory@evil.example    body @ "; !strings.HasPrefix(subject, "Invitation: "+want) {
		t.Errorf("Subject = %q, want the line breaks replaced by spaces", subject)
	}
	if strings.ContainsAny(subject, "\r\n") || m.Subject != subject {
		t.Errorf("Subject = %q, Message.Subject = %q", subject, m.Subject)
	}
	for _, k := range []string{"From", "To"} {
		l, err := h.AddressList(k)
		if err != nil || len(l) != 1 || strings.ContainsAny(l[0].Name, "\r\n") {
			t.Errorf("%s = %v (%v), want one address without line breaks", k, l, err)
		}
	}
	for _, p := range readParts(t, e)[1:] {
		for f := p.header.Fields(); f.Next(); {
			if !strings.HasPrefix(f.Key(), "Content-") {
				t.Errorf("part %s has an unexpected %s field", p.path, f.Key())
			}
		}
	}
}

func TestComposeEncodedWordLookalike(t *testing.T) {
	inv := validInvitation()
	inv.Summary = "=?utf-8?q?Hi=0D=0ABcc:_x@evil.example?="
	inv.Organizer.Name = "=?utf-8?b?QWxpY2UNCkJjYzogeEBldmlsLmV4YW1wbGU=?="
	m, err := newTestComposer().Compose(inv)
	if err != nil {
		t.Fatal(err)
	}
	e, err := message.Read(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := gomail.Header{Header: e.Header}
	subject, _ := h.Subject()
	if !strings.Contains(subject, "=\u200b?utf-8?q?Hi=0D=0ABcc") {
		t.Errorf("Subject = %q, want the encoded-word look-alike kept literal", subject)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || strings.ContainsAny(from[0].Name, "\r\n") || !strings.HasPrefix(from[0].Name, "=\u200b?utf-8?b?") {
		t.Errorf("From = %v (%v), want the look-alike kept literal", from, err)
	}
}

func TestComposeInvalidAddress(t *testing.T) {
	for _, email := range []string{
		"",
		"bob",
		"bob@",
		"@example.org",
		"Bob <bob@example.org>",
		"<bob@example.org>",
		"bob@example.org\r\nBcc: mallory@evil.example",
		"bob@example.org\n",
		"bob@exa mple.org",
		"bob@example.org, carol@example.org",
		"bob\x00@example.org",
	} {
		t.Run(fmt.Sprintf("%q", email), func(t *testing.T) {
			for _, who := range []string{"organizer", "attendee"} {
				inv := validInvitation()
				if who == "organizer" {
					inv.Organizer.Email = email
				} else {
					inv.Attendee.Email = email
				}
				_, err := newTestComposer().Compose(inv)
				if !errors.Is(err, ErrInvalidAddress) || !errors.Is(err, ErrInvalidInvitation) {
					t.Errorf("%s: err = %v, want ErrInvalidAddress and ErrInvalidInvitation", who, err)
				}
			}
			c := NewComposer(ComposerConfig{From: Address{Email: email}}, ComposerOptions{})
			if _, err := c.Compose(validInvitation()); !errors.Is(err, ErrInvalidAddress) {
				t.Errorf("sender: err = %v, want ErrInvalidAddress", err)
			}
		})
	}
}

func TestComposeInvalidInvitation(t *testing.T) {
	tests := []struct {
		name   string
		change func(inv *Invitation)
	}{
		{"unknown method", func(inv *Invitation) { inv.Method = "PUBLISH" }},
		{"counter method", func(inv *Invitation) { inv.Method = "COUNTER" }},
		{"empty method", func(inv *Invitation) { inv.Method = "" }},
		{"empty calendar", func(inv *Invitation) { inv.Calendar = nil }},
		{"not a calendar", func(inv *Invitation) { inv.Calendar = []byte("hello\r\n") }},
		{"truncated calendar", func(inv *Invitation) { inv.Calendar = inv.Calendar[:len(inv.Calendar)/2] }},
		{"method mismatch", func(inv *Invitation) { inv.Method = "CANCEL" }},
		{"uid mismatch", func(inv *Invitation) { inv.UID = "other@example.com" }},
		{"javascript join link", func(inv *Invitation) { inv.JoinURL = "javascript:alert(1)" }},
		{"relative join link", func(inv *Invitation) { inv.JoinURL = "/r/abc" }},
		{"bad rsvp link", func(inv *Invitation) { inv.RSVP = &RSVPLinks{Accept: "data:text/html,hi"} }},
		{"reply without partstat", func(inv *Invitation) {
			inv.Method = "REPLY"
			inv.Calendar = testCalendar("REPLY", "x", 0, alice, bob, "ACCEPTED")
		}},
		{"reply with needs-action", func(inv *Invitation) {
			inv.Method = "REPLY"
			inv.PartStat = "NEEDS-ACTION"
			inv.Calendar = testCalendar("REPLY", "x", 0, alice, bob, "NEEDS-ACTION")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := validInvitation()
			tt.change(inv)
			m, err := newTestComposer().Compose(inv)
			if !errors.Is(err, ErrInvalidInvitation) {
				t.Errorf("err = %v, want ErrInvalidInvitation", err)
			}
			if m.Data != nil {
				t.Error("a message came with the error")
			}
		})
	}
}

func TestComposeDefaults(t *testing.T) {
	// No UID: it comes from the calendar. A lower-case method is fine.
	// LF line endings are normalised, as ParseIMIP does.
	inv := validInvitation()
	inv.UID = ""
	inv.Method = "request"
	inv.Lang = "de"
	inv.Summary = " \t"
	inv.Calendar = bytes.ReplaceAll(inv.Calendar, []byte("\r\n"), []byte("\n"))
	// No Domain: the sender's domain. No Rand, no Now: the real ones.
	c := NewComposer(ComposerConfig{From: Address{Email: "salon@meet.example.com"}}, ComposerOptions{})
	m, err := c.Compose(inv)
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != testUID || m.Method != "REQUEST" || !strings.HasSuffix(m.ID, "@meet.example.com") {
		t.Errorf("Message = {UID %q, Method %q, ID %q}", m.UID, m.Method, m.ID)
	}
	if !strings.HasPrefix(m.Subject, "Invitation: (no title) @ Monday") {
		t.Errorf("Subject = %q, want English and (no title)", m.Subject)
	}
	in, err := ParseIMIP(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if want := validInvitation().Calendar; !bytes.Equal(in.Calendar, want) {
		t.Errorf("Calendar = %q, want CRLF %q", in.Calendar, want)
	}
	if m2, _ := c.Compose(inv); m2.ID == m.ID {
		t.Error("two messages have the same Message-ID")
	}
}

func TestComposeSameSender(t *testing.T) {
	// When salon sends as the organizer, there is no Sender field.
	c := NewComposer(ComposerConfig{From: Address{Name: "Alice", Email: "ALICE@example.com"}}, ComposerOptions{})
	m, err := c.Compose(validInvitation())
	if err != nil {
		t.Fatal(err)
	}
	e, err := message.Read(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if e.Header.Has("Sender") {
		t.Errorf("Sender = %q, want none", e.Header.Get("Sender"))
	}
	if m.From != "ALICE@example.com" {
		t.Errorf("envelope sender = %q", m.From)
	}
}

func TestComposeBadConfig(t *testing.T) {
	c := NewComposer(ComposerConfig{From: Address{Email: "salon@meet.example.com"}, Domain: "bad domain\r\n"}, ComposerOptions{})
	if _, err := c.Compose(validInvitation()); err == nil {
		t.Error("a bad Domain was accepted")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestComposeRandError(t *testing.T) {
	c := NewComposer(testConfig, ComposerOptions{Rand: failingReader{}})
	if _, err := c.Compose(validInvitation()); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Errorf("err = %v, want the Rand error", err)
	}
}

func TestComposeConcurrent(t *testing.T) {
	c := newTestComposer()
	done := make(chan string)
	for range 8 {
		go func() {
			m, err := c.Compose(validInvitation())
			if err != nil {
				t.Error(err)
			}
			done <- m.ID
		}()
	}
	seen := map[string]bool{}
	for range 8 {
		id := <-done
		if seen[id] {
			t.Errorf("Message-ID %q used twice", id)
		}
		seen[id] = true
	}
}

func TestTextsWhen(t *testing.T) {
	ny := mustLoadLocation("America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		start, end time.Time
		allDay     bool
		tz         string
		en, fr     string
	}{{
		name:  "afternoon",
		start: at(parisZone, 2026, 11, 30, 14, 0), end: at(parisZone, 2026, 11, 30, 15, 0), tz: "Europe/Paris",
		en: "Monday, November 30, 2026, 2:00 PM – 3:00 PM (Europe/Paris)",
		fr: "lundi 30 novembre 2026, 14:00 – 15:00 (Europe/Paris)",
	}, {
		name:  "morning, first of the month, no zone",
		start: at(time.UTC, 2026, 12, 1, 9, 5), end: at(time.UTC, 2026, 12, 1, 9, 35),
		en: "Tuesday, December 1, 2026, 9:05 AM – 9:35 AM",
		fr: "mardi 1er décembre 2026, 09:05 – 09:35",
	}, {
		name:  "across midnight",
		start: at(ny, 2026, 12, 31, 23, 0), end: at(ny, 2027, 1, 1, 1, 0), tz: "America/New_York",
		en: "Thursday, December 31, 2026, 11:00 PM – Friday, January 1, 2027, 1:00 AM (America/New_York)",
		fr: "jeudi 31 décembre 2026, 23:00 – vendredi 1er janvier 2027, 01:00 (America/New_York)",
	}, {
		name:  "no end",
		start: at(parisZone, 2026, 8, 15, 12, 0), tz: "Europe/Paris",
		en: "Saturday, August 15, 2026, 12:00 PM (Europe/Paris)",
		fr: "samedi 15 août 2026, 12:00 (Europe/Paris)",
	}, {
		name:  "all day",
		start: day(2026, 2, 14), end: day(2026, 2, 15), allDay: true, tz: "Europe/Paris",
		en: "Saturday, February 14, 2026",
		fr: "samedi 14 février 2026",
	}, {
		name:  "all day without end",
		start: day(2026, 2, 14), allDay: true,
		en: "Saturday, February 14, 2026",
		fr: "samedi 14 février 2026",
	}, {
		name:  "several days",
		start: day(2026, 7, 30), end: day(2026, 8, 3), allDay: true,
		en: "Thursday, July 30, 2026 – Sunday, August 2, 2026",
		fr: "jeudi 30 juillet 2026 – dimanche 2 août 2026",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := textsFor("en").formatWhen(tt.start, tt.end, tt.allDay, tt.tz); got != tt.en {
				t.Errorf("en = %q, want %q", got, tt.en)
			}
			if got := textsFor("fr").formatWhen(tt.start, tt.end, tt.allDay, tt.tz); got != tt.fr {
				t.Errorf("fr = %q, want %q", got, tt.fr)
			}
		})
	}
}

func TestTextsComplete(t *testing.T) {
	// Every language has every sentence, every answer and no English
	// names of days or months where they should be its own.
	for _, tx := range []*texts{english, french} {
		v := reflect.ValueOf(*tx)
		for i := range v.NumField() {
			f := v.Field(i)
			if f.Kind() == reflect.String && f.String() == "" {
				t.Errorf("%s: %s is empty", tx.Lang, v.Type().Field(i).Name)
			}
		}
		for ps := range partStats {
			if tx.SubjectReply[ps] == "" || !strings.Contains(tx.Replied[ps], "%s") {
				t.Errorf("%s: no texts for %s", tx.Lang, ps)
			}
		}
	}
	for d := range 7 {
		if french.weekdays[d] == time.Weekday(d).String() {
			t.Errorf("fr weekday %d is English", d)
		}
	}
}

func TestComposeLongText(t *testing.T) {
	inv := validInvitation()
	inv.Summary = strings.Repeat("é", 400)
	inv.Organizer.Name = strings.Repeat("x", 2000)
	m, err := newTestComposer().Compose(inv)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Invitation: " + strings.Repeat("é", maxSubjectText-1) + "… @ "; !strings.HasPrefix(m.Subject, want) {
		t.Errorf("Subject = %q, want it cut at %d characters", m.Subject, maxSubjectText)
	}
	for _, l := range strings.Split(string(m.Data), "\r\n") {
		if len(l) > 998 {
			t.Errorf("line of %d octets: %.80s…", len(l), l)
		}
	}
	if got := truncate("ééé", 3); got != "ééé" {
		t.Errorf("truncate cut %q", got)
	}
}

func TestComposeNamesWithSpecials(t *testing.T) {
	for _, name := range []string{`\é`, "Dupont, Élodie", "Élodie (RH)", `Élodie "E" <e@x>`, "é;:@[]", "Bob, \"the\" builder"} {
		inv := validInvitation()
		inv.Organizer.Name = name
		m, err := newTestComposer().Compose(inv)
		if err != nil {
			t.Fatal(err)
		}
		in, err := ParseIMIP(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if in.From != (Address{Name: name, Email: alice.Email}) {
			t.Errorf("From = %+v, want %q", in.From, name)
		}
	}
}

func TestComposeNoStart(t *testing.T) {
	// The calendar package could not work out the first instance: the
	// message goes without a time, the calendar object has it.
	inv := validInvitation()
	inv.Start, inv.End = time.Time{}, time.Time{}
	inv.Recurring = true
	m, err := newTestComposer().Compose(inv)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Invitation: Team meeting" {
		t.Errorf("Subject = %q", m.Subject)
	}
	e, err := message.Read(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	parts := readParts(t, e)
	checkContains(t, "text/plain", string(parts[2].body), []string{"Team meeting", "Join the meeting"}, []string{"When", "Repeats", "0001"})
	checkContains(t, "text/html", string(parts[3].body), []string{"Team meeting"}, []string{">When<", "Repeats"})
}
