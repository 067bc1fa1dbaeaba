package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-smtp"

	"github.com/salonhq/salon/mail"
)

// mailSink is an SMTP server that records what salon's relay connection
// hands it, as a smarthost would.
type mailSink struct {
	mu   sync.Mutex
	msgs []sinkMessage
	addr string
}

type sinkMessage struct {
	from string
	to   []string
	data []byte
}

func startMailSink(t *testing.T) *mailSink {
	t.Helper()
	sink := &mailSink{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: sink}, nil }))
	s.Domain = "sink.test"
	s.AllowInsecureAuth = true
	s.ReadTimeout, s.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.addr = l.Addr().String()
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return sink
}

// to returns the messages for rcpt, in the order received.
func (s *mailSink) to(rcpt string) []sinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sinkMessage
	for _, m := range s.msgs {
		for _, r := range m.to {
			if strings.EqualFold(r, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

type sinkSession struct {
	sink *mailSink
	from string
	to   []string
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, sinkMessage{from: s.from, to: s.to, data: b})
	s.sink.mu.Unlock()
	return nil
}
func (s *sinkSession) Reset()        { s.from, s.to = "", nil }
func (s *sinkSession) Logout() error { return nil }

// TestSchedulingWithPythonCalDAV is the end-to-end path: an
// organizer using python3-caldav invites a salon user and an outside
// address; the salon user finds it in their calendar and inbox, the
// outside address receives the mail, whose join link opens the room and
// whose RSVP link answers; moving sends an update and deleting a CANCEL.
func TestSchedulingWithPythonCalDAV(t *testing.T) {
	if err := exec.Command(python3, "-c", "import caldav").Run(); err != nil {
		t.Fatal("python3 cannot import caldav: install the Debian package python3-caldav (make test does)")
	}
	sink := startMailSink(t)
	lmtpPort := freePort(t, "tcp")
	srv := startSalon(t, "--smtp", "smtp://"+sink.addr+"?tls=none", "--mail-from", "salon@meet.test",
		"--inbound-listen", fmt.Sprintf("lmtp://127.0.0.1:%d", lmtpPort))
	const pass = "organizer password"
	srv.addUser("olga", "olga@example.org", pass)
	srv.addUser("bert", "bert@example.org", pass)
	const uid = "review-1@e2e"
	const outside = "carol@outside.example"
	py := func(action string) {
		t.Helper()
		out := runClient(t, 2*time.Minute, "", python3, "clients/python_scheduling.py", srv.base+"/dav/", "olga", pass, action, uid, "bert@example.org", outside)
		if !strings.Contains(out, "all steps passed") {
			t.Fatalf("python-caldav %s did not finish:\n%s", action, out)
		}
	}
	py("create")

	// The salon user has it in their calendar and their inbox at once.
	_, body := davRequest(t, "PROPFIND", srv.base+"/dav/calendars/bert/default/", "bert", pass, "", map[string]string{"Depth": "1"})
	hrefs := regexp.MustCompile(`/dav/calendars/bert/default/[^<]+\.ics`).FindAllString(body, -1)
	if len(hrefs) != 1 {
		t.Fatalf("bert's calendar lists %v", hrefs)
	}
	resp, copyData := davRequest(t, "GET", srv.base+hrefs[0], "bert", pass, "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(copyData, uid) || !strings.Contains(copyData, "PARTSTAT=NEEDS-ACTION") {
		t.Fatalf("bert's copy (%d):\n%s", resp.StatusCode, copyData)
	}
	_, inbox := davRequest(t, "PROPFIND", srv.base+"/dav/calendars/bert/inbox/", "bert", pass, "", map[string]string{"Depth": "1"})
	if !regexp.MustCompile(`/dav/calendars/bert/inbox/[^<]+\.ics`).MatchString(inbox) {
		t.Fatalf("bert's inbox is empty:\n%s", inbox)
	}

	// The outside address gets the invitation by mail.
	var invites []sinkMessage
	waitFor(t, 30*time.Second, "the invitation to reach the SMTP server", func() bool {
		invites = sink.to(outside)
		return len(invites) == 1
	})
	if len(sink.to("bert@example.org")) != 0 {
		t.Error("the salon user was mailed too; salon users get invitations in their inbox")
	}
	inv := parseInvite(t, invites[0].data, "REQUEST")
	if !strings.Contains(string(inv.Calendar), uid) {
		t.Fatalf("invitation calendar:\n%s", inv.Calendar)
	}
	raw := decodedText(t, invites[0].data)
	join := regexp.MustCompile(regexp.QuoteMeta(srv.base) + `/m/[a-z0-9-]+`).FindString(raw)
	if join == "" {
		t.Fatalf("no join link in the invitation:\n%s", raw)
	}
	resp, err := http.Get(join)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", join, resp.StatusCode, err)
	}
	resp.Body.Close()
	slug := join[strings.LastIndex(join, "/")+1:]
	jr, err := http.Post(srv.base+"/api/v1/meetings/"+slug+"/join", "application/json", strings.NewReader(`{"name":"Carol"}`))
	if err != nil || jr.StatusCode != http.StatusOK {
		t.Fatalf("join through the mailed link: %v %v", jr.StatusCode, err)
	}
	jr.Body.Close()

	// The RSVP link: GET shows, POST answers.
	rsvp := regexp.MustCompile(regexp.QuoteMeta(srv.base) + `/rsvp/[A-Za-z0-9._~%-]+`).FindString(raw)
	if rsvp == "" {
		t.Fatalf("no RSVP link in the invitation:\n%s", raw)
	}
	resp, err = http.Get(rsvp + "?partstat=ACCEPTED")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v", rsvp, err)
	}
	resp.Body.Close()
	if organizerPartStat(t, srv, pass, uid, outside) != "NEEDS-ACTION" {
		t.Fatal("a GET of the RSVP link changed the answer")
	}
	resp, err = http.PostForm(rsvp, url.Values{"partstat": {"ACCEPTED"}})
	if err != nil || resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %v %s", rsvp, err, b)
	}
	resp.Body.Close()
	if ps := organizerPartStat(t, srv, pass, uid, outside); ps != "ACCEPTED" {
		t.Fatalf("after the RSVP the organizer's copy says %s", ps)
	}

	// The mail server hands salon a reply from the attendee's mail
	// program (Outlook style: no ORGANIZER) over LMTP.
	reply := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nMETHOD:REPLY\r\n" +
		"BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:0\r\n" +
		"ATTENDEE;PARTSTAT=DECLINED:mailto:" + outside + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	msg := "From: Carol <" + outside + ">\r\nTo: olga@example.org\r\nSubject: Declined: Quarterly review\r\n" +
		"Message-ID: <reply-1@outside.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/calendar; method=REPLY; charset=UTF-8\r\n\r\n" + reply
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lmtpPort))
	if err != nil {
		t.Fatal(err)
	}
	lc := smtp.NewClientLMTP(conn)
	if err := lc.SendMail(outside, []string{"olga@example.org"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("LMTP delivery of the reply: %v", err)
	}
	lc.Close()
	if ps := organizerPartStat(t, srv, pass, uid, outside); ps != "DECLINED" {
		t.Fatalf("after the mailed REPLY the organizer's copy says %s", ps)
	}

	// Moving sends an update with a higher SEQUENCE.
	py("move")
	waitFor(t, 30*time.Second, "the update to reach the SMTP server", func() bool {
		invites = sink.to(outside)
		return len(invites) == 2
	})
	upd := parseInvite(t, invites[1].data, "REQUEST")
	if !bytes.Contains(upd.Calendar, []byte("SEQUENCE:1")) || !bytes.Contains(upd.Calendar, []byte("20310310T150000")) {
		t.Fatalf("update calendar:\n%s", upd.Calendar)
	}

	// Deleting sends CANCEL.
	py("delete")
	waitFor(t, 30*time.Second, "the cancellation to reach the SMTP server", func() bool {
		invites = sink.to(outside)
		return len(invites) == 3
	})
	parseInvite(t, invites[2].data, "CANCEL")
}

// parseInvite reads an iMIP message as a mail client would.
func parseInvite(t *testing.T, data []byte, method string) *mail.Inbound {
	t.Helper()
	in, err := mail.ParseIMIP(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the message is not iMIP: %v\n%s", err, data)
	}
	if in.Method != method {
		t.Fatalf("method %s, want %s", in.Method, method)
	}
	return in
}

// decodedText returns the message's text parts decoded, for finding links.
func decodedText(t *testing.T, data []byte) string {
	t.Helper()
	e, err := message.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read the message: %v", err)
	}
	var b strings.Builder
	err = e.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil {
			return err
		}
		if ct, _, _ := part.Header.ContentType(); strings.HasPrefix(ct, "text/") {
			body, err := io.ReadAll(part.Body)
			if err != nil {
				return err
			}
			b.WriteString(ct + "\n")
			b.Write(body)
			b.WriteString("\n")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the message: %v", err)
	}
	return b.String()
}

// organizerPartStat returns an attendee's PARTSTAT in olga's copy.
func organizerPartStat(t *testing.T, srv *salonProc, pass, uid, attendee string) string {
	t.Helper()
	return organizerPartStatOf(t, srv, "olga", pass, uid, attendee)
}

// organizerPartStatOf returns an attendee's PARTSTAT in the organizer's
// copy, read over CalDAV.
func organizerPartStatOf(t *testing.T, srv *salonProc, organizer, pass, uid, attendee string) string {
	t.Helper()
	home := "/dav/calendars/" + organizer + "/default/"
	_, body := davRequest(t, "PROPFIND", srv.base+home, organizer, pass, "", map[string]string{"Depth": "1"})
	for _, href := range regexp.MustCompile(regexp.QuoteMeta(home)+`[^<]+\.ics`).FindAllString(body, -1) {
		_, data := davRequest(t, "GET", srv.base+href, organizer, pass, "", nil)
		if !strings.Contains(data, "UID:"+uid) {
			continue
		}
		unfolded := strings.ReplaceAll(data, "\r\n ", "")
		for _, l := range strings.Split(unfolded, "\r\n") {
			if strings.HasPrefix(l, "ATTENDEE") && strings.HasSuffix(strings.ToLower(l), "mailto:"+attendee) {
				if m := regexp.MustCompile(`PARTSTAT=([A-Z-]+)`).FindStringSubmatch(l); m != nil {
					return m[1]
				}
				return "NEEDS-ACTION"
			}
		}
		t.Fatalf("no ATTENDEE %s in the organizer's copy:\n%s", attendee, data)
	}
	t.Fatalf("the organizer has no event %s", uid)
	return ""
}
