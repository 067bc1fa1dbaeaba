package mail

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base32"
	"fmt"
	htmltemplate "html/template"
	"io"
	"mime"
	netmail "net/mail"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/emersion/go-message"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// The templates are parsed once: parsing costs more than composing.
var (
	htmlTemplate = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/invitation.html.tmpl"))
	textTemplate = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/invitation.txt.tmpl"))
)

// ComposerConfig is the part of salon's configuration a Composer needs.
type ComposerConfig struct {
	From   Address // salon's own sender (--mail-from), used for Sender: and the envelope MAIL FROM
	Domain string  // right-hand side of generated Message-IDs; "" takes From's domain
}

// ComposerOptions are a Composer's hooks, for deterministic tests.
type ComposerOptions struct {
	Now  func() time.Time // the Date header; nil means time.Now
	Rand io.Reader        // Message-IDs and MIME boundaries; nil means crypto/rand
}

// Composer turns Invitations into RFC 6047 iMIP messages. It is safe for
// concurrent use.
type Composer struct {
	from   Address
	domain string
	now    func() time.Time
	err    error // a configuration error, returned by every Compose

	mu   sync.Mutex // guards rand, which need not be safe for concurrent use
	rand io.Reader
}

// NewComposer returns a Composer. A configuration error (an invalid From
// address or Domain) is reported by every call to Compose.
func NewComposer(cfg ComposerConfig, opts ComposerOptions) *Composer {
	c := &Composer{
		from:   Address{Name: truncate(headerText(cfg.From.Name), maxNameLen), Email: cfg.From.Email},
		domain: cfg.Domain,
		now:    opts.Now,
		rand:   opts.Rand,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	if err := checkAddress(cfg.From.Email); err != nil {
		c.err = fmt.Errorf("mail: the sender address (--mail-from) is unusable: %w", err)
		return c
	}
	if c.domain == "" {
		c.domain = cfg.From.Email[strings.LastIndexByte(cfg.From.Email, '@')+1:]
	}
	if !isHostName(c.domain) {
		c.err = fmt.Errorf("mail: %q is not a host name; Message-IDs need one", c.domain)
	}
	return c
}

func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// view is what the body templates show.
type view struct {
	T           *texts
	Headline    string
	Notice      string
	Cancelled   bool
	Summary     string
	When        string
	Recurring   bool
	Location    string
	Organizer   string
	Description string
	JoinURL     string
	RSVP        *RSVPLinks
	Footer      string
}

// Compose builds the message that carries inv (RFC 6047 §2.4):
//
//	multipart/mixed
//	├── multipart/alternative
//	│   ├── text/plain
//	│   ├── text/html
//	│   └── text/calendar; method=…
//	└── application/ics (invite.ics attachment)
//
// Clients that handle iMIP read the text/calendar part; the attachment
// is for those that only import files. Errors about inv wrap
// ErrInvalidInvitation.
func (c *Composer) Compose(inv *Invitation) (Message, error) {
	if c.err != nil {
		return Message{}, c.err
	}
	chk, err := inv.check()
	if err != nil {
		return Message{}, err
	}
	from, to := inv.Organizer, inv.Attendee
	if chk.method == "REPLY" {
		from, to = inv.Attendee, inv.Organizer
	}
	from.Name = truncate(headerText(from.Name), maxNameLen)
	to.Name = truncate(headerText(to.Name), maxNameLen)
	t := textsFor(inv.Lang)
	v, subject := newView(inv, chk.method, t, from)

	var text, html bytes.Buffer
	if err := textTemplate.Execute(&text, &v); err != nil {
		return Message{}, fmt.Errorf("mail: rendering the text body: %w", err)
	}
	if err := htmlTemplate.Execute(&html, &v); err != nil {
		return Message{}, fmt.Errorf("mail: rendering the HTML body: %w", err)
	}

	id, mixed, alt, err := c.randomNames()
	if err != nil {
		return Message{}, fmt.Errorf("mail: generating a Message-ID: %w", err)
	}

	h := fields{
		{k: "From", v: formatAddress(from)},
	}
	if !strings.EqualFold(c.from.Email, from.Email) {
		// RFC 5322 §3.6.2: salon transmits a message the organizer (or
		// attendee) is the author of.
		h = append(h, field{k: "Sender", v: formatAddress(c.from)})
	}
	h = append(h, fields{
		{k: "Reply-To", v: formatAddress(from)},
		{k: "To", v: formatAddress(to)},
		subjectField(subject),
		{k: "Date", v: c.now().Format("Mon, 02 Jan 2006 15:04:05 -0700")},
		{k: "Message-Id", v: "<" + id + ">"},
		{k: "MIME-Version", v: "1.0"},
		{k: "Content-Language", v: t.Lang},
		// RFC 3834 §5: no vacation replies to a machine. Exchange's
		// own header too, but without NDR so that bounces still come
		// back.
		{k: "Auto-Submitted", v: "auto-generated"},
		{k: "X-Auto-Response-Suppress", v: "OOF, AutoReply"},
		{k: "Content-Type", v: mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mixed})},
	}...)

	var buf bytes.Buffer
	buf.Grow(4096 + text.Len() + html.Len() + 3*len(chk.calendar))
	if err := writeMessage(&buf, h, alt, chk, text.Bytes(), html.Bytes()); err != nil {
		return Message{}, fmt.Errorf("mail: writing the message: %w", err)
	}
	return Message{
		ID:      id,
		From:    c.from.Email,
		To:      []string{to.Email},
		Subject: subject,
		Method:  chk.method,
		UID:     chk.uid,
		Data:    buf.Bytes(),
	}, nil
}

// newView prepares what the body shows, and the subject. from is the
// author of the message, the organizer or the attendee.
func newView(inv *Invitation, method string, t *texts, from Address) (view, string) {
	organizer := Address{Name: truncate(headerText(inv.Organizer.Name), maxNameLen), Email: inv.Organizer.Email}
	v := view{
		T:           t,
		Summary:     headerText(inv.Summary),
		Recurring:   inv.Recurring,
		Location:    oneLine(inv.Location),
		Organizer:   displayFull(organizer),
		Description: multiLine(inv.Description),
		JoinURL:     inv.JoinURL,
		Footer:      fmt.Sprintf(t.Footer, display(from)),
	}
	if v.Summary == "" {
		v.Summary = t.Untitled
	}
	if !inv.Start.IsZero() {
		v.When = t.formatWhen(inv.Start, inv.End, inv.AllDay, truncate(oneLine(inv.TimeZone), maxZoneLen))
	}
	var prefix string
	switch method {
	case "REQUEST":
		prefix = t.SubjectRequest
		v.Headline = fmt.Sprintf(t.Invited, display(organizer))
		if inv.Update {
			prefix = t.SubjectUpdate
			v.Notice = t.Updated
		}
		v.RSVP = inv.RSVP
	case "CANCEL":
		prefix = t.SubjectCancel
		v.Notice = t.Cancelled
		v.Cancelled = true
		v.JoinURL = ""
	case "REPLY":
		ps := strings.ToUpper(inv.PartStat)
		prefix = t.SubjectReply[ps]
		v.Headline = fmt.Sprintf(t.Replied[ps], display(from))
	}
	subject := prefix + truncate(v.Summary, maxSubjectText)
	if v.When != "" {
		subject += " @ " + v.When
	}
	return v, subject
}

func writeMessage(w io.Writer, h fields, alt string, chk checked, text, html []byte) error {
	mw, err := message.CreateWriter(w, h.header())
	if err != nil {
		return err
	}
	aw, err := mw.CreatePart(fields{
		{k: "Content-Type", v: mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": alt})},
	}.header())
	if err != nil {
		return err
	}
	parts := []struct {
		h    fields
		body []byte
	}{
		{fields{
			{k: "Content-Type", v: "text/plain; charset=UTF-8"},
			{k: "Content-Transfer-Encoding", v: "quoted-printable"},
		}, text},
		{fields{
			{k: "Content-Type", v: "text/html; charset=UTF-8"},
			{k: "Content-Transfer-Encoding", v: "quoted-printable"},
		}, html},
		{fields{
			{k: "Content-Type", v: mime.FormatMediaType("text/calendar", map[string]string{"charset": "UTF-8", "method": chk.method})},
			{k: "Content-Transfer-Encoding", v: calendarEncoding(chk.calendar)},
		}, chk.calendar},
	}
	for _, p := range parts {
		if err := writePart(aw, p.h, p.body); err != nil {
			return err
		}
	}
	if err := aw.Close(); err != nil {
		return err
	}
	if err := writePart(mw, fields{
		{k: "Content-Type", v: `application/ics; name="invite.ics"`},
		{k: "Content-Disposition", v: `attachment; filename="invite.ics"`},
		{k: "Content-Transfer-Encoding", v: "base64"},
	}, chk.calendar); err != nil {
		return err
	}
	return mw.Close()
}

func writePart(mw *message.Writer, h fields, body []byte) error {
	pw, err := mw.CreatePart(h.header())
	if err != nil {
		return err
	}
	if _, err := pw.Write(body); err != nil {
		return err
	}
	return pw.Close()
}

// calendarEncoding returns 7bit when cal is ASCII in short lines, as
// iCalendar folded at 75 octets usually is (RFC 5545 §3.1), so that the
// part stays readable; base64 otherwise.
func calendarEncoding(cal []byte) string {
	n := 0
	for _, b := range cal {
		switch {
		case b == '\r' || b == '\n':
			n = 0
		case b == 0 || b >= 0x80:
			return "base64"
		default:
			n++
			if n > 76 {
				return "base64"
			}
		}
	}
	return "7bit"
}

// field is one header field, its value already encoded. A folded field
// is written as it is; go-message folds the others.
type field struct {
	k, v   string
	folded bool
}

// fields are header fields in the order they are written.
type fields []field

func (l fields) header() message.Header {
	var h message.Header
	// go-message writes the most recently added field first.
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].folded {
			h.AddRaw([]byte(l[i].k + ": " + l[i].v + "\r\n"))
		} else {
			h.Add(l[i].k, l[i].v)
		}
	}
	return h
}

// subjectField encodes a subject (RFC 2047) when it is not ASCII. It
// puts each encoded-word on its own line: go-message folds only where a
// line would pass 76 octets and there is a space before that, so it
// would write them all on one line, where RFC 2047 §2 wants at most 76.
func subjectField(subject string) field {
	v := mime.QEncoding.Encode("utf-8", subject)
	if v == subject {
		return field{k: "Subject", v: v}
	}
	// Encoded-words hold no spaces: the encoder separates them with one.
	return field{k: "Subject", v: strings.ReplaceAll(v, " ", "\r\n "), folded: true}
}

// formatAddress formats a for an address header. net/mail quotes an
// ASCII name, but it Q-encodes the others, leaving in the encoded-word
// the specials ("," "\" "(" …) that RFC 2047 §5(3) forbids there, and
// that net/mail's own parser, among others, then rejects: a non-ASCII name
// is B-encoded instead, whose alphabet is allowed.
func formatAddress(a Address) string {
	if a.Name == "" || isPrintableASCII(a.Name) {
		return (&netmail.Address{Name: a.Name, Address: a.Email}).String()
	}
	return mime.BEncoding.Encode("utf-8", a.Name) + " " + (&netmail.Address{Address: a.Email}).String()
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// display is how the body names a person.
func display(a Address) string {
	if a.Name != "" {
		return a.Name
	}
	return a.Email
}

// displayFull names a person with their address.
func displayFull(a Address) string {
	if a.Name != "" {
		return a.Name + " <" + a.Email + ">"
	}
	return a.Email
}

var randomEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomNames returns a Message-ID and two MIME boundaries. The
// boundaries start with "=_", which neither quoted-printable nor base64
// can produce, and neither is a prefix of the other (RFC 2046 §5.1.1).
func (c *Composer) randomNames() (id, mixed, alt string, err error) {
	var b [30]byte
	c.mu.Lock()
	_, err = io.ReadFull(c.rand, b[:])
	c.mu.Unlock()
	if err != nil {
		return "", "", "", err
	}
	r := randomEncoding.EncodeToString(b[15:])
	return randomEncoding.EncodeToString(b[:15]) + "@" + c.domain, "=_mixed_" + r, "=_alt_" + r, nil
}
