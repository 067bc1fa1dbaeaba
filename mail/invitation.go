package mail

import (
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Invitation is what package calendar asks this package to send: one
// iTIP message (RFC 5546) for one recipient, with what the recipient
// should read in their own language.
type Invitation struct {
	Method    string  // REQUEST, CANCEL or REPLY (others → error)
	Organizer Address // the sender of a REQUEST/CANCEL; the recipient of a REPLY
	Attendee  Address // the recipient of a REQUEST/CANCEL; the author of a REPLY
	Update    bool    // a REQUEST that changes an invitation sent before
	Lang      string  // "en" or "fr"; anything else → "en"

	Summary     string
	Location    string
	Description string // the organizer's text (plain)
	// Start and End bound the first instance; each is shown in its own
	// Location. When AllDay, End is exclusive as DTEND is (RFC 5545
	// §3.6.1); a zero End shows the start alone, a zero Start no time at
	// all (the calendar object still has it).
	Start, End time.Time
	AllDay     bool
	Recurring  bool   // adds a "repeats" line to the body
	TimeZone   string // IANA name shown beside times, "" for floating/UTC

	JoinURL  string     // http or https; "" for none
	RSVP     *RSVPLinks // nil: no answer links (CANCEL, REPLY)
	PartStat string     // for REPLY: ACCEPTED, TENTATIVE or DECLINED

	// Calendar is the complete iTIP VCALENDAR with METHOD and every
	// VTIMEZONE, with CRLF line endings. Its METHOD must be Method.
	Calendar []byte
	// UID is the UID of the event; "" takes the one in Calendar.
	UID string
}

// RSVPLinks are the web links with which the recipient of a REQUEST
// answers without a calendar application. Each is http or https; an
// empty one is not shown.
type RSVPLinks struct{ Accept, Tentative, Decline string }

var (
	// ErrInvalidInvitation reports an Invitation that cannot be sent as
	// it is: an unknown method, a missing calendar, a bad link…
	ErrInvalidInvitation = errors.New("mail: invalid invitation")
	// ErrInvalidAddress reports an e-mail address that is not a bare
	// RFC 5322 addr-spec. Errors that wrap it also wrap
	// ErrInvalidInvitation when they come from an Invitation.
	ErrInvalidAddress = errors.New("mail: invalid e-mail address")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInvitation, fmt.Sprintf(format, args...))
}

// checkAddress checks that email is a bare address such as
// alice@example.com, as RCPT TO and iCalendar mailto: URIs need.
func checkAddress(email string) error {
	if email == "" {
		return fmt.Errorf("%w: the address is empty", ErrInvalidAddress)
	}
	if strings.ContainsFunc(email, unicode.IsControl) {
		return fmt.Errorf("%w: %q contains control characters", ErrInvalidAddress, email)
	}
	a, err := netmail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email || !strings.Contains(email, "@") {
		return fmt.Errorf("%w: %q is not of the form name@example.com", ErrInvalidAddress, email)
	}
	return nil
}

// checkURL checks that a link in the body is an absolute http or https
// URL: html/template would blank out other schemes, and a mail reader
// must not be offered javascript: links.
func checkURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("the %s %q is not an http or https URL", what, s)
	}
	return nil
}

// partStats are the answers a REPLY may carry (RFC 5546 §3.2.3).
var partStats = map[string]bool{"ACCEPTED": true, "TENTATIVE": true, "DECLINED": true}

// checked is a valid Invitation's normalised parts.
type checked struct {
	method   string // upper case
	uid      string
	calendar []byte // CRLF line endings
}

// check validates inv.
func (inv *Invitation) check() (checked, error) {
	var none checked
	method := strings.ToUpper(inv.Method)
	switch method {
	case "REQUEST", "CANCEL", "REPLY":
	default:
		return none, invalid("unknown iTIP method %q: want REQUEST, CANCEL or REPLY", inv.Method)
	}
	if err := checkAddress(inv.Organizer.Email); err != nil {
		return none, fmt.Errorf("%w: organizer: %w", ErrInvalidInvitation, err)
	}
	if err := checkAddress(inv.Attendee.Email); err != nil {
		return none, fmt.Errorf("%w: attendee: %w", ErrInvalidInvitation, err)
	}
	if method == "REPLY" && !partStats[strings.ToUpper(inv.PartStat)] {
		return none, invalid("a REPLY needs a PartStat of ACCEPTED, TENTATIVE or DECLINED, not %q", inv.PartStat)
	}
	if inv.JoinURL != "" {
		if err := checkURL("join link", inv.JoinURL); err != nil {
			return none, err
		}
	}
	if inv.RSVP != nil {
		for _, l := range []struct{ what, url string }{
			{"accept link", inv.RSVP.Accept},
			{"tentative link", inv.RSVP.Tentative},
			{"decline link", inv.RSVP.Decline},
		} {
			if l.url == "" {
				continue
			}
			if err := checkURL(l.what, l.url); err != nil {
				return none, err
			}
		}
	}

	if len(inv.Calendar) == 0 {
		return none, invalid("the invitation has no calendar object")
	}
	cal, info, err := normaliseCalendar(inv.Calendar)
	if err != nil {
		return none, invalid("the calendar object is invalid: %v", err)
	}
	if info.method != method {
		return none, invalid("the calendar's METHOD is %q but the invitation's is %q", info.method, method)
	}
	uid := inv.UID
	switch {
	case uid == "":
		uid = info.uid
	case info.uid != "" && info.uid != uid:
		return none, invalid("the calendar's UID is %q but the invitation's is %q", info.uid, uid)
	}
	return checked{method: method, uid: uid, calendar: cal}, nil
}

// oneLine makes s safe for a header and a one-line display: invalid
// UTF-8 is replaced, control characters (CR and LF among them) and line
// separators become spaces, and surrounding spaces are trimmed.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, isLineBreakOrControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if isLineBreakOrControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// headerText is oneLine for text that goes into a header (a subject, a
// display name). The encoder leaves ASCII text as it is, so a literal
// "=?utf-8?q?…?=" would reach the recipient as an encoded word and decode
// to anything, line breaks included: a zero-width space after "=" keeps
// it literal, and makes the encoder encode the whole text.
func headerText(s string) string {
	return strings.ReplaceAll(oneLine(s), "=?", "=\u200b?")
}

// Lengths beyond which text is cut in headers. Clients show less than
// this anyway, and a header word longer than a line (998 octets) cannot
// be folded without changing it.
const (
	maxNameLen     = 100 // display names
	maxSubjectText = 150 // the summary in the subject; the body has it whole
	maxZoneLen     = 64  // time zone names
)

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n-1 {
			return strings.TrimSpace(s[:pos]) + "…"
		}
		i++
	}
	return s
}

func isLineBreakOrControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// multiLine makes s safe for a body: invalid UTF-8 is replaced, line
// endings become LF, and control characters other than LF and tab are
// dropped.
func multiLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r == '\r' || r == '\u2028' || r == '\u2029':
			return '\n'
		case r == '\n' || r == '\t':
			return r
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s))
}
