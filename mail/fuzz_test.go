package mail

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
)

// FuzzParseIMIP feeds ParseIMIP mangled messages. It must never panic,
// must classify every error, and what it accepts must be what it
// promises: a From address, a METHOD, a CRLF iCalendar object that
// go-ical decodes.
func FuzzParseIMIP(f *testing.F) {
	for _, pattern := range []string{"testdata/inbound/*.eml", "testdata/golden/*.eml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	// Small messages, for the fuzzer to mangle content lines.
	for _, cal := range []string{
		replyCal,
		"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nATTENDEE;CN=\"B, o\";PARTSTAT=ACCEPTED,X:mailto:b@x\r\n" +
			"DESCRIPTION:folded\r\n  line\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\nMETHOD:CANCEL\nBEGIN:VTIMEZONE\nUID:tz\nEND:VTIMEZONE\nEND:VCALENDAR",
	} {
		f.Add([]byte(header + "Content-Type: text/calendar; method=REPLY\r\n\r\n" + cal))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseIMIP(bytes.NewReader(data))
		if err != nil {
			if in != nil {
				t.Errorf("ParseIMIP returned %+v with the error %v", in, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoCalendar) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("unclassified error: %v", err)
			}
			return
		}
		if in.From.Email == "" {
			t.Error("accepted a message without a From address")
		}
		if in.Method == "" || in.Method != strings.ToUpper(in.Method) {
			t.Errorf("Method = %q, want a non-empty upper-case method", in.Method)
		}
		checkNormalised(t, in.Calendar)
	})
}

// FuzzCompose puts arbitrary text where users type: the summary, a
// name, the location. Whatever it is, the message must have the same
// header fields, each once, must parse, and must carry it unchanged
// apart from the line breaks and controls taken out.
func FuzzCompose(f *testing.F) {
	f.Add("Team meeting", "Alice Martin", "Lovelace room")
	f.Add("Réunion d’équipe", "Élodie Garnier", "Salle 3 — 2e étage")
	f.Add("Hello\r\nBcc: mallory@evil.example\r\n\r\nbody", "Alice\r\nX-Injected: yes", "Room\r1\u2028Bcc: x")
	f.Add("=?utf-8?q?Hi=0D=0ABcc:_x?=", "=?utf-8?b?QWxpY2UNCg==?=", "=?")
	f.Add(`"quoted" <angle> (comment), semi; colon:`, `Dupont, Bob "the builder" <b@x>`, "\\")
	f.Add(strings.Repeat("long ", 300), strings.Repeat("x", 2000), strings.Repeat("é", 1000))
	f.Add("\xff\xfe invalid UTF-8", "\x00\x1b[31m", "\u202etxt.exe")
	f.Add("", "", "")
	wantFields := map[string]int{
		"From": 1, "Sender": 1, "Reply-To": 1, "To": 1, "Subject": 1, "Date": 1, "Message-Id": 1,
		"Mime-Version": 1, "Content-Language": 1, "Auto-Submitted": 1, "X-Auto-Response-Suppress": 1, "Content-Type": 1,
	}
	wantTree := []string{"0 multipart/mixed", "1 multipart/alternative", "1.1 text/plain", "1.2 text/html", "1.3 text/calendar", "2 application/ics"}
	f.Fuzz(func(t *testing.T, summary, name, location string) {
		inv := validInvitation()
		inv.Summary = summary
		inv.Organizer.Name = name
		inv.Attendee.Name = location
		inv.Location = location
		inv.Description = summary + "\n" + location
		m, err := newTestComposer().Compose(inv)
		if err != nil {
			t.Fatal(err)
		}
		e, err := message.Read(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		h := gomail.Header{Header: e.Header}
		checkHeaderCounts(t, h, wantFields)

		subject, err := h.Subject()
		if err != nil || subject != m.Subject || strings.ContainsFunc(subject, isLineBreakOrControl) {
			t.Errorf("Subject = %q (%v), Message.Subject = %q", subject, err, m.Subject)
		}
		for _, a := range []struct {
			key  string
			want Address
		}{
			{"From", Address{Name: truncate(headerText(name), maxNameLen), Email: alice.Email}},
			{"To", Address{Name: truncate(headerText(location), maxNameLen), Email: bob.Email}},
		} {
			l, err := h.AddressList(a.key)
			if err != nil || len(l) != 1 || l[0].Name != a.want.Name || l[0].Address != a.want.Email {
				t.Errorf("%s = %v (%v), want %+v", a.key, l, err, a.want)
			}
		}

		parts := readParts(t, e)
		var tree []string
		for _, p := range parts {
			tree = append(tree, p.path+" "+p.mediaType)
		}
		if !reflect.DeepEqual(tree, wantTree) {
			t.Fatalf("MIME tree = %q, want %q", tree, wantTree)
		}

		in, err := ParseIMIP(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(in.Calendar, inv.Calendar) || in.Method != "REQUEST" || in.Subject != m.Subject {
			t.Errorf("ParseIMIP = %+v", in)
		}
	})
}
