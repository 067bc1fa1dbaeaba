package mail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-ical"
)

// TestParseIMIPClients reads the messages of testdata/inbound, written as
// the mail clients named in their file names write them. Each
// name.eml carries the calendar in name.ics, as ParseIMIP must return it.
func TestParseIMIPClients(t *testing.T) {
	tests := []struct {
		file    string
		quirk   string
		want    Inbound // without Calendar
		partIdx string
	}{{
		file:  "outlook-reply.eml",
		quirk: "multipart/alternative at the top, base64 utf-8 calendar, REPLY without ORGANIZER, ISO-8859-1 subject",
		want: Inbound{
			From:      Address{Name: "Bob Dupont", Email: "bob.dupont@contoso.com"},
			Subject:   "Accepté\u00a0: Réunion d’équipe",
			MessageID: "AM0PR02MB5987B1E2C3D4E5F6A7B8C9D0E1F2A@AM0PR02MB5987.eurprd02.prod.outlook.com",
			Method:    "REPLY",
		},
	}, {
		file:  "gmail-reply.eml",
		quirk: "text/calendar in the alternative and the same object as an application/ics attachment",
		want: Inbound{
			From:      Address{Name: "Carol Smith", Email: "carol.smith@gmail.com"},
			Sender:    Address{Name: "Google Calendar", Email: "calendar-notification@google.com"},
			Subject:   "Tentatively Accepted: Team meeting @ Mon Nov 30, 2026 2pm - 3pm (CET) (alice@example.com)",
			MessageID: "calendar-0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098@google.com",
			Method:    "REPLY",
		},
	}, {
		file:  "thunderbird-reply.eml",
		quirk: "8bit UTF-8 calendar, a preamble, boundaries starting with dashes",
		want: Inbound{
			From:      Address{Name: "Élodie Garnier", Email: "elodie@garnier.fr"},
			Subject:   "Refusé\u00a0: Réunion d’équipe",
			MessageID: "5c1f3b2a-8d7e-4f6a-9b0c-1d2e3f4a5b6c@garnier.fr",
			Method:    "REPLY",
		},
	}, {
		file:  "applemail-reply.eml",
		quirk: "LF line endings everywhere, quoted-printable calendar attachment with soft line breaks",
		want: Inbound{
			From:      Address{Name: "François Petit", Email: "francois@icloud.com"},
			Subject:   "Invitation acceptée\u00a0: Réunion d’équipe",
			MessageID: "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D@icloud.com",
			Method:    "REPLY",
		},
	}, {
		file:  "script-lf-only.eml",
		quirk: "a lone text/calendar entity, base64 of LF-only iCalendar with a byte order mark and no final line break",
		want: Inbound{
			From:      Address{Email: "noreply@bookings.example.net"},
			Subject:   "Your booking",
			MessageID: "20261120080000.4242@bookings.example.net",
			Method:    "REQUEST",
		},
	}, {
		file:  "lotus-latin1-reply.eml",
		quirk: "windows-1252 labelled ISO-8859-1, quoted-printable calendar without METHOD: the Content-Type method parameter stands in",
		want: Inbound{
			From:      Address{Name: "Gérard Lefèvre", Email: "gerard.lefevre@acme.fr"},
			Subject:   "Accepté: Réunion d’équipe",
			MessageID: "OF1A2B3C4D.5E6F7A8B-ONC1258A1B.0026D0E1-C1258A1B.0026D0F2@acme.fr",
			Method:    "REPLY",
		},
	}, {
		file:  "webmail-ics-attachment.eml",
		quirk: "no text/calendar, only an application/octet-stream attachment named Reply.ICS",
		want: Inbound{
			From:      Address{Name: "Dave", Email: "dave@example.net"},
			Subject:   "Re: Invitation: Team meeting",
			MessageID: "abc123.def456@webmail.example.net",
			Method:    "REPLY",
		},
	}}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".eml"), func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "inbound", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			wantCal, err := os.ReadFile(filepath.Join("testdata", "inbound", strings.TrimSuffix(tt.file, ".eml")+".ics"))
			if err != nil {
				t.Fatal(err)
			}

			in, err := ParseIMIP(f)
			if err != nil {
				t.Fatalf("%s: %v", tt.quirk, err)
			}
			cal := in.Calendar
			in.Calendar = nil
			if !reflect.DeepEqual(*in, tt.want) {
				t.Errorf("%s:\n got %+v\nwant %+v", tt.quirk, *in, tt.want)
			}
			if !bytes.Equal(cal, wantCal) {
				t.Errorf("%s: Calendar =\n%q\nwant\n%q", tt.quirk, cal, wantCal)
			}
			checkNormalised(t, cal)
		})
	}
}

// checkNormalised checks what ParseIMIP promises of a Calendar.
func checkNormalised(t *testing.T, cal []byte) {
	t.Helper()
	if !bytes.HasSuffix(cal, []byte("\r\n")) {
		t.Errorf("Calendar does not end with CRLF: %q", cal)
	}
	if n := bytes.Count(cal, []byte("\n")); n != bytes.Count(cal, []byte("\r")) || n != bytes.Count(cal, []byte("\r\n")) {
		t.Errorf("Calendar has line endings other than CRLF: %q", cal)
	}
	if _, err := ical.NewDecoder(bytes.NewReader(cal)).Decode(); err != nil {
		t.Errorf("go-ical cannot decode the Calendar: %v\n%s", err, cal)
	}
}

func TestParseIMIPNoCalendar(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "inbound", "no-calendar.eml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ParseIMIP(f); !errors.Is(err, ErrNoCalendar) {
		t.Errorf("err = %v, want ErrNoCalendar", err)
	}
}

const (
	replyCal = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	otherCal = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:COUNTER\r\nBEGIN:VEVENT\r\nUID:u2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	header   = "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: test\r\nMIME-Version: 1.0\r\n"
)

func TestParseIMIPPrefersTextCalendar(t *testing.T) {
	// An application/ics part first, the text/calendar part after it,
	// nested deeper: the text/calendar part wins.
	msg := header + "Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\nContent-Type: application/ics; name=invite.ics\r\n\r\n" + otherCal +
		"\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n" +
		"--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--inner\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n" + replyCal +
		"\r\n--inner--\r\n\r\n--outer--\r\n"
	in, err := ParseIMIP(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if in.Method != "REPLY" || string(in.Calendar) != replyCal {
		t.Errorf("got %s %q, want the text/calendar part", in.Method, in.Calendar)
	}
}

func TestParseIMIPMalformed(t *testing.T) {
	single := func(ct, cte, body string) string {
		s := header + "Content-Type: " + ct + "\r\n"
		if cte != "" {
			s += "Content-Transfer-Encoding: " + cte + "\r\n"
		}
		return s + "\r\n" + body
	}
	tests := []struct {
		name string
		msg  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"garbage", "\x00\x01\x02 not a message", ErrMalformed},
		{"no body", "From: bob@example.org\r\nSubject: x", ErrNoCalendar},
		{"no From", "To: alice@example.com\r\nContent-Type: text/calendar\r\n\r\n" + replyCal, ErrMalformed},
		{"bad From", "From: <<<\r\nContent-Type: text/calendar\r\n\r\n" + replyCal, ErrMalformed},
		{"bad Sender", "From: bob@example.org\r\nSender: @@\r\nContent-Type: text/calendar\r\n\r\n" + replyCal, ErrMalformed},
		{"multipart without boundary", single("multipart/mixed", "", "--x\r\n\r\nhi\r\n--x--\r\n"), ErrMalformed},
		{"multipart with a broken Content-Type", single(`multipart/mixed; boundary="x`, "", "--x\r\n\r\nhi\r\n--x--\r\n"), ErrMalformed},
		{"unterminated multipart", single("multipart/mixed; boundary=x", "", "--x\r\nContent-Type: text/plain\r\n\r\nhi"), ErrMalformed},
		{"multipart without parts", single("multipart/mixed; boundary=x", "", "no boundary here\r\n"), ErrMalformed},
		{"bad base64", single("text/calendar", "base64", "!!!!not base64!!!!\r\n"), ErrMalformed},
		{"bad quoted-printable", single("text/calendar", "quoted-printable", "BEGIN:VCALENDAR=ZZ\r\n"), ErrMalformed},
		{"unknown transfer encoding", single("text/calendar", "x-uuencode", replyCal), ErrMalformed},
		{"unknown charset, not UTF-8", single("text/calendar; charset=x-klingon", "8bit", "BEGIN:VCALENDAR\r\nX:\xff\r\n"), ErrMalformed},
		{"not iCalendar", single("text/calendar", "", "hello\r\n"), ErrMalformed},
		{"empty calendar", single("text/calendar", "", ""), ErrMalformed},
		{"not a VCALENDAR", single("text/calendar", "", "BEGIN:VEVENT\r\nEND:VEVENT\r\n"), ErrMalformed},
		{"unbalanced", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"truncated", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n"), ErrMalformed},
		{"no METHOD", single("text/calendar", "", strings.Replace(replyCal, "METHOD:REPLY\r\n", "", 1)), ErrMalformed},
		{"parameter without colon", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nATTENDEE;CN=x\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"quoted parameter without colon", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nATTENDEE;CN=\"x\"\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"junk after quoted parameter", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nATTENDEE;CN=\"x\"y:z\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"unterminated quote", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nATTENDEE;CN=\"x:z\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"parameter without value", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nATTENDEE;CN:z\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"empty property name", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n:z\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"continuation first", single("text/calendar", "", " BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"property before BEGIN", single("text/calendar", "", "METHOD:REPLY\r\n"+replyCal), ErrMalformed},
		{"huge parameter", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nATTENDEE;CN=\""+strings.Repeat("x", 2000)+"\":mailto:a@b\r\nEND:VCALENDAR\r\n"), ErrMalformed},
		{"deep components", single("text/calendar", "", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n"+strings.Repeat("BEGIN:X\r\n", 20)+strings.Repeat("END:X\r\n", 20)+"END:VCALENDAR\r\n"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := ParseIMIP(strings.NewReader(tt.msg))
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseIMIP = %+v, %v; want %v", in, err, tt.want)
			}
		})
	}
}

func TestParseIMIPTruncated(t *testing.T) {
	// The closing boundary is missing, but the .ics attachment came
	// before the end.
	msg := header + "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--b\r\nContent-Type: application/ics\r\n\r\n" + replyCal +
		"\r\n--b\r\nContent-Type: text/plain\r\n\r\ncut here"
	in, err := ParseIMIP(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if string(in.Calendar) != replyCal {
		t.Errorf("Calendar = %q", in.Calendar)
	}
}

func TestParseIMIPLimits(t *testing.T) {
	nested := func(depth int) string {
		var b strings.Builder
		b.WriteString(header + "Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
		for i := 1; i < depth; i++ {
			fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
		}
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/calendar\r\n\r\n%s", depth-1, replyCal)
		for i := depth - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "\r\n--b%d--\r\n", i)
		}
		return b.String()
	}
	many := func(parts int) string {
		var b strings.Builder
		b.WriteString(header + "Content-Type: multipart/mixed; boundary=b\r\n\r\n")
		for range parts - 2 {
			b.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
		}
		b.WriteString("--b\r\nContent-Type: text/calendar\r\n\r\n" + replyCal + "\r\n--b--\r\n")
		return b.String()
	}
	// bigCalendar returns a message whose calendar is size bytes long.
	bigCalendar := func(size int) string {
		cal := strings.Replace(replyCal, "UID:u1", "DESCRIPTION:", 1)
		cal = strings.Replace(cal, "DESCRIPTION:", "DESCRIPTION:"+strings.Repeat("x", size-len(cal)), 1)
		return header + "Content-Type: text/calendar\r\n\r\n" + cal
	}
	tests := []struct {
		name string
		msg  string
		want error // nil: accepted
	}{
		{"depth at the limit", nested(maxDepth), nil},
		{"too deep", nested(maxDepth + 2), ErrMalformed},
		{"parts at the limit", many(maxParts), nil},
		{"too many parts", many(maxParts + 1), ErrMalformed},
		{"part at the limit", bigCalendar(maxPartSize), nil},
		{"part too large", bigCalendar(maxPartSize + 1), ErrTooLarge},
		{"message too large", header + "Content-Type: text/plain\r\n\r\n" + strings.Repeat("x", MaxInboundSize), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIMIP(strings.NewReader(tt.msg))
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), "limit") && !strings.Contains(err.Error(), "more than") &&
				!strings.Contains(err.Error(), "deeper than") && !strings.Contains(err.Error(), "exceeds") {
				t.Errorf("err = %v, which does not say a limit was passed", err)
			}
		})
	}
}

func TestParseIMIPReadError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := ParseIMIP(io.MultiReader(strings.NewReader(header), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the reader's error", err)
	}
}

func TestParseNormaliseCalendar(t *testing.T) {
	const want = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u1\r\nSUMMARY:long\r\n  line\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	tests := []struct {
		name string
		in   string
	}{
		{"CRLF", want},
		{"LF", strings.ReplaceAll(want, "\r\n", "\n")},
		{"CR", strings.ReplaceAll(want, "\r\n", "\r")},
		{"mixed", strings.Replace(want, "\r\n", "\n", 3)},
		{"no final line break", strings.TrimSuffix(want, "\r\n")},
		{"byte order mark", "\uFEFF" + want},
		{"blank lines", "\r\n" + strings.ReplaceAll(want, "UID:u1\r\n", "UID:u1\r\n\r\n\n")},
		{"trailing junk", want + "\r\n\r\nBEGIN:VCALENDAR\r\ngarbage"},
		{"lower-case names", strings.Replace(strings.Replace(want, "BEGIN:VEVENT", "begin:vevent", 1), "END:VEVENT", "End:VEvent", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, info, err := normaliseCalendar([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			wantOut := want
			if tt.name == "lower-case names" {
				wantOut = tt.in
			}
			if string(got) != wantOut {
				t.Errorf("got %q, want %q", got, wantOut)
			}
			if info.method != "REPLY" || info.uid != "u1" {
				t.Errorf("info = %+v", info)
			}
		})
	}
}

func TestParseNormaliseCalendarUID(t *testing.T) {
	// The UID of the event, not of a time zone before it.
	cal := "BEGIN:VCALENDAR\r\nMETHOD:request\r\nBEGIN:VTIMEZONE\r\nUID:tz\r\nTZID:X\r\nEND:VTIMEZONE\r\n" +
		"BEGIN:VEVENT\r\nUID:ev\r\nBEGIN:VALARM\r\nUID:alarm\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	_, info, err := normaliseCalendar([]byte(cal))
	if err != nil {
		t.Fatal(err)
	}
	if info.uid != "ev" || info.method != "REQUEST" {
		t.Errorf("info = %+v, want uid ev and method REQUEST", info)
	}
}
