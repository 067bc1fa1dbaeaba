package web

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// crlf turns a message written with \n into one with CRLF line endings, as
// the outbox stores them.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// invitationMail is an iMIP invitation shaped like salon's: alternative
// text and HTML (in quoted-printable and base64), the calendar part, and
// the same calendar again as an attachment.
var invitationMail = crlf(`From: "Ada Lovelace" <ada@example.org>
To: bob@example.org
Subject: =?utf-8?q?Invitation=C2=A0: R=C3=A9union <hebdo>?=
Date: Mon, 23 Feb 2026 09:00:00 +0000
Message-ID: <abc@salon.example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Bonjour Bob,
R=C3=A9pondre : https://meet.example.org/rsvp/tok?partstat=3DACCEPTED
--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

` + base64Lines(`<html><head><title>x</title></head><body>
<p>Réunion</p>
<a href="https://meet.example.org/m/k3fa-9qzx-m2wd">Join</a>
<a href=" https://meet.example.org/rsvp/tok?partstat=ACCEPTED&amp;x=1 ">Accept</a>
<a href="mailto:ada@example.org">Mail</a>
<a name="anchor">no href</a>
<A HREF='HTTP://Example.COM/upper'>upper</A>
<a href="javascript:alert(1)">bad</a>
<a href="/relative">relative</a>
<a href="https://meet.example.org/rsvp/tok?partstat=ACCEPTED&amp;x=1">Accept again</a>
</body></html>`) + `
--alt--

--outer
Content-Type: text/calendar; charset=utf-8; method=REQUEST
Content-Transfer-Encoding: 7bit

BEGIN:VCALENDAR
METHOD:REQUEST
END:VCALENDAR
--outer
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

` + base64Lines("BEGIN:VCALENDAR\r\nMETHOD:OTHER\r\nEND:VCALENDAR\r\n") + `
--outer--
`)

func TestParseMailView(t *testing.T) {
	v := parseMailView([]byte(invitationMail))
	if v.Problem != "" {
		t.Errorf("Problem = %q", v.Problem)
	}
	wantHeaders := []mailHeader{
		{"From", `"Ada Lovelace" <ada@example.org>`},
		{"To", "bob@example.org"},
		{"Subject", "Invitation\u00a0: Réunion <hebdo>"},
		{"Date", "Mon, 23 Feb 2026 09:00:00 +0000"},
		{"Message-ID", "<abc@salon.example.org>"},
	}
	if !slices.Equal(v.Headers, wantHeaders) {
		t.Errorf("Headers = %q\nwant %q", v.Headers, wantHeaders)
	}
	if v.Text != "Bonjour Bob,\r\nRépondre : https://meet.example.org/rsvp/tok?partstat=ACCEPTED" {
		t.Errorf("Text = %q", v.Text)
	}
	if !strings.HasPrefix(v.HTML, "<html>") || !strings.Contains(v.HTML, "<p>Réunion</p>") {
		t.Errorf("HTML = %q", v.HTML)
	}
	if v.Calendar != "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR" {
		t.Errorf("Calendar = %q", v.Calendar)
	}
	wantLinks := []string{
		"https://meet.example.org/m/k3fa-9qzx-m2wd",
		"https://meet.example.org/rsvp/tok?partstat=ACCEPTED&x=1",
		"HTTP://Example.COM/upper",
		"https://meet.example.org/rsvp/tok?partstat=ACCEPTED&x=1",
	}
	if !slices.Equal(v.Links, wantLinks) {
		t.Errorf("Links = %q\nwant %q", v.Links, wantLinks)
	}
}

func TestParseMailViewOddMessages(t *testing.T) {
	nested := "Content-Type: text/html\r\n\r\n<a href=\"https://deep.example/\">x</a>"
	for range maxMIMEDepth + 2 {
		nested = "Content-Type: multipart/mixed; boundary=b" + fmt.Sprint(len(nested)) + "\r\n\r\n--b" + fmt.Sprint(len(nested)) + "\r\n" + nested + "\r\n--b" + fmt.Sprint(len(nested)) + "--\r\n"
	}
	var many strings.Builder
	many.WriteString("Content-Type: multipart/mixed; boundary=m\r\n\r\n")
	for range maxMIMEParts + 10 {
		many.WriteString("--m\r\nContent-Type: image/png\r\n\r\nx\r\n")
	}
	many.WriteString("--m\r\nContent-Type: text/plain\r\n\r\nlate text\r\n--m--\r\n")

	tests := []struct {
		name        string
		raw         string
		text, html  string
		cal         string
		problem     string // in Problem; "" means none
		headerCount int
	}{
		{"empty", "", "", "", "", "", 0},
		{"no header end", "Subject: x", "", "", "", "", 1},
		{"bad header", "not a header line\r\n\r\nbody", "", "", "", "header", 0},
		{"plain, no content type", "Subject: hi\r\n\r\nhello", "hello", "", "", "", 1},
		{"latin-1", "Content-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9", "café", "", "", "", 0},
		{"unknown charset", "Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla\xff", "qapla\uFFFD", "", "", "charset", 0},
		{"unknown encoding", "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-rot13\r\n\r\nuryyb", "uryyb", "", "", "encoding", 0},
		{"broken base64", "Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!", "", "", "", "base64", 0},
		{"bad content type", "Content-Type: text/\r\n\r\nx", "", "", "", "content type", 0},
		{"multipart without boundary", "Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhello\r\n--x--", "", "", "", "boundary", 0},
		{"multipart never closed", "Content-Type: multipart/alternative; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nopen", "open", "", "", "EOF", 0},
		{"text attachment ignored", "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nfile\r\n--a\r\nContent-Type: text/plain\r\n\r\nbody\r\n--a--", "body", "", "", "", 0},
		{"too deep", nested, "", "", "", "nested", 0},
		{"too many parts", many.String(), "", "", "", "parts", 0},
		{"not UTF-8 declared UTF-8", "Content-Type: text/calendar; charset=utf-8\r\nSubject: \xff\r\n\r\nBEGIN\xfe", "", "", "BEGIN\uFFFD", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := parseMailView([]byte(tt.raw))
			if v.Text != tt.text || v.HTML != tt.html || v.Calendar != tt.cal {
				t.Errorf("Text %q, HTML %q, Calendar %q; want %q, %q, %q", v.Text, v.HTML, v.Calendar, tt.text, tt.html, tt.cal)
			}
			if tt.problem == "" && v.Problem != "" || !strings.Contains(v.Problem, tt.problem) {
				t.Errorf("Problem = %q, want one mentioning %q", v.Problem, tt.problem)
			}
			if len(v.Headers) != tt.headerCount {
				t.Errorf("Headers = %q, want %d", v.Headers, tt.headerCount)
			}
		})
	}
}

func TestParseMailViewBounds(t *testing.T) {
	big := "Content-Type: text/plain\r\n\r\n" + strings.Repeat("é", maxPartBytes)
	v := parseMailView([]byte(big))
	if len(v.Text) > maxPartBytes || !strings.Contains(v.Problem, "longer than") {
		t.Errorf("Text of %d bytes, Problem %q", len(v.Text), v.Problem)
	}
	var links strings.Builder
	links.WriteString("Content-Type: text/html\r\n\r\n")
	for i := range maxMailLinks + 10 {
		fmt.Fprintf(&links, `<a href="https://x.example/%d">x</a>`, i)
	}
	if v := parseMailView([]byte(links.String())); len(v.Links) != maxMailLinks {
		t.Errorf("%d links kept, want %d", len(v.Links), maxMailLinks)
	}
	long := "Subject: " + strings.Repeat("s", 3*maxHeaderValues) + "\r\n\r\n"
	if v := parseMailView([]byte(long)); len(v.Headers) != 1 || len(v.Headers[0].Value) > maxHeaderValues+len("…") {
		t.Errorf("header of %d bytes shown", len(v.Headers[0].Value))
	}
}

// base64Lines encodes s as a base64 body, in lines of 76 characters.
func base64Lines(s string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	var lines []string
	for len(enc) > 76 {
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	return strings.Join(append(lines, enc), "\r\n")
}
