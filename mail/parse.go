package mail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	// Replies come from every kind of client; some still send
	// ISO-8859-1 or windows-1252 bodies and headers.
	_ "github.com/emersion/go-message/charset"
	gomail "github.com/emersion/go-message/mail"
	"golang.org/x/text/encoding/charmap"
)

// Inbound is an iMIP message received from a mail server.
type Inbound struct {
	From      Address // the From header
	Sender    Address // the Sender header, zero when absent
	Subject   string  // decoded
	MessageID string  // without <>
	Method    string  // the iTIP METHOD (upper case) of Calendar
	Calendar  []byte  // the iCalendar object, as UTF-8 with CRLF
}

// Limits on inbound messages. Replies are small (a few KiB); the limits
// only keep a hostile sender from making the parser use much memory or
// time.
const (
	// MaxInboundSize is the largest message ParseIMIP accepts, in bytes.
	// An SMTP listener should announce it (RFC 1870 SIZE) so that
	// larger messages are refused before they are sent.
	MaxInboundSize = 10 << 20
	// maxPartSize bounds each decoded part ParseIMIP reads.
	maxPartSize = 1 << 20
	// maxDepth bounds the nesting of multipart entities.
	maxDepth = 10
	// maxParts bounds the number of MIME entities in a message.
	maxParts = 100
	// maxCalendarDepth bounds the nesting of iCalendar components
	// (VCALENDAR > VEVENT > VALARM is 3).
	maxCalendarDepth = 8
	// maxParamValue bounds one iCalendar parameter value: go-ical
	// decodes parameter values in quadratic time, so a single huge
	// value handed to the calendar package would cost minutes of CPU.
	maxParamValue = 1 << 10
)

var (
	// ErrNoCalendar reports that the message carries no iCalendar part:
	// it is not an iMIP message.
	ErrNoCalendar = errors.New("mail: the message carries no iCalendar part (text/calendar or .ics attachment)")
	// ErrMalformed reports a message that cannot be read: broken MIME,
	// a missing From, an invalid iCalendar object, or a structure
	// beyond the parser's limits.
	ErrMalformed = errors.New("mail: malformed message")
	// ErrTooLarge reports a message or a part larger than the parser
	// accepts (see MaxInboundSize).
	ErrTooLarge = errors.New("mail: message too large")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// ParseIMIP reads an RFC 5322 message and extracts its iTIP payload
// (RFC 6047 §2.4). It takes the first text/calendar part wherever it sits
// in the MIME tree; failing that, the first application/ics part or *.ics
// attachment. It does not look into attached messages (message/rfc822):
// a forwarded invitation is no answer from the one who forwards it.
// Transfer encodings and charsets are decoded, and the iCalendar object's
// line endings are normalised to CRLF.
//
// Method is the calendar's METHOD or, when it has none (Lotus Notes), the
// Content-Type method parameter: trust Method rather than looking for
// METHOD in Calendar.
//
// Errors wrap ErrNoCalendar, ErrMalformed or ErrTooLarge, except errors
// reading r, which are returned as they are.
func ParseIMIP(r io.Reader) (*Inbound, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInboundSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxInboundSize {
		return nil, fmt.Errorf("%w: the message exceeds %d bytes", ErrTooLarge, MaxInboundSize)
	}

	e, entErr := message.Read(bytes.NewReader(data))
	if entErr != nil && e == nil {
		return nil, malformed("reading the header: %v", entErr)
	}

	h := gomail.Header{Header: e.Header}
	in := &Inbound{}
	if in.From, err = firstAddress(h, "From"); err != nil {
		return nil, err
	}
	if in.From.Email == "" {
		return nil, malformed("the message has no From address")
	}
	if in.Sender, err = firstAddress(h, "Sender"); err != nil {
		return nil, err
	}
	// An undecodable subject is still worth showing as it is.
	in.Subject, _ = h.Subject()
	in.Subject = fixC1(strings.ToValidUTF8(in.Subject, "\uFFFD"))
	in.MessageID = messageID(h)

	var w walker
	if err := w.walk(e, entErr, 0); err != nil {
		return nil, err
	}
	cal := w.calendar
	if cal == nil {
		cal = w.fallback
	}
	if cal == nil {
		if w.broken != nil {
			return nil, w.broken
		}
		return nil, ErrNoCalendar
	}
	if err := cal.normalise(); err != nil {
		return nil, err
	}
	in.Method, in.Calendar = cal.method, cal.data
	return in, nil
}

func firstAddress(h gomail.Header, key string) (Address, error) {
	l, err := h.AddressList(key)
	if err != nil {
		return Address{}, malformed("the %s header is not an address: %v", key, err)
	}
	if len(l) == 0 {
		return Address{}, nil
	}
	return Address{Name: fixC1(l[0].Name), Email: l[0].Address}, nil
}

// fixC1 reads C1 control characters as the windows-1252 characters they
// stand for. Outlook labels windows-1252 text ISO-8859-1, so that its
// curly quotes and dashes (0x80–0x9F) decode to invisible controls; no
// real text holds C1 controls. (WHATWG's encoding standard reads
// ISO-8859-1 as windows-1252 for the same reason.)
func fixC1(s string) string {
	if !strings.ContainsFunc(s, isC1) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isC1(r) {
			return charmap.Windows1252.DecodeByte(byte(r))
		}
		return r
	}, s)
}

func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

// isLatin1 reports whether charset is a name of ISO-8859-1 (RFC 1345).
func isLatin1(charset string) bool {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "iso_8859-1", "iso8859-1", "latin1", "l1", "cp819", "ibm819", "iso-ir-100":
		return true
	}
	return false
}

// messageID returns the Message-ID without angle brackets. Some clients
// write identifiers RFC 5322 does not allow; they are kept as written.
func messageID(h gomail.Header) string {
	if id, err := h.MessageID(); err == nil {
		return id
	}
	id := strings.TrimSpace(h.Get("Message-Id"))
	return strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
}

// calendarPart is an iCalendar payload found in the MIME tree.
type calendarPart struct {
	data        []byte
	method      string // from the iCalendar object, else from ctMethod
	ctMethod    string // the Content-Type method parameter
	description string // where it was found, for errors
}

func (c *calendarPart) normalise() error {
	data, info, err := normaliseCalendar(c.data)
	if err != nil {
		return fmt.Errorf("%w: the %s is not a valid iCalendar object: %w", ErrMalformed, c.description, err)
	}
	c.data = data
	c.method = info.method
	if c.method == "" {
		c.method = strings.ToUpper(strings.TrimSpace(c.ctMethod))
	}
	if c.method == "" {
		return malformed("the %s has no METHOD: it is not an iTIP message", c.description)
	}
	return nil
}

// walker walks a MIME tree looking for the iCalendar payload.
type walker struct {
	broken   error // why the walk stopped early, if it did
	parts    int
	calendar *calendarPart // the first text/calendar part
	fallback *calendarPart // the first application/ics or *.ics part
}

// walk visits e and its children, depth first, until it finds a
// text/calendar part. entErr is the error message.New returned for e.
func (w *walker) walk(e *message.Entity, entErr error, depth int) error {
	w.parts++
	if w.parts > maxParts {
		return malformed("more than %d MIME parts", maxParts)
	}
	if depth > maxDepth {
		return malformed("MIME parts nested deeper than %d levels", maxDepth)
	}

	mediaType, params, err := mime.ParseMediaType(e.Header.Get("Content-Type"))
	if err != nil && err != mime.ErrInvalidMediaParameter {
		if e.Header.Has("Content-Type") {
			// RFC 2045 §5.2 would read it as text/plain, which holds
			// nothing for us; a broken multipart type is an error.
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(e.Header.Get("Content-Type"))), "multipart/") {
				return malformed("invalid Content-Type %q", e.Header.Get("Content-Type"))
			}
			return nil
		}
		mediaType = "text/plain"
	}

	if strings.HasPrefix(mediaType, "multipart/") {
		if params["boundary"] == "" {
			return malformed("%s part without a boundary", mediaType)
		}
		mr := e.MultipartReader()
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && part == nil {
				// A truncated message may still hold a calendar
				// in the parts read so far.
				w.broken = malformed("reading a %s part: %v", mediaType, err)
				return nil
			}
			if err := w.walk(part, err, depth+1); err != nil {
				return err
			}
			if w.calendar != nil || w.broken != nil {
				return nil
			}
		}
	}

	var isCalendar bool
	switch {
	case mediaType == "text/calendar":
		isCalendar = true
	case w.fallback != nil:
		return nil
	case mediaType == "application/ics", isICSName(params["name"]):
	default:
		_, dparams, _ := e.Header.ContentDisposition()
		if !isICSName(dparams["filename"]) {
			return nil
		}
	}

	desc := mediaType + " part"
	if entErr != nil {
		if message.IsUnknownEncoding(entErr) {
			return malformed("the %s has an unknown transfer encoding %q", desc, e.Header.Get("Content-Transfer-Encoding"))
		}
		// An unknown charset leaves the body undecoded: keep it only
		// if it is UTF-8 anyway (checked in normaliseCalendar).
		if !message.IsUnknownCharset(entErr) {
			return malformed("reading the %s: %v", desc, entErr)
		}
	}
	data, err := io.ReadAll(io.LimitReader(e.Body, maxPartSize+1))
	if err != nil {
		return malformed("decoding the %s: %v", desc, err)
	}
	if len(data) > maxPartSize {
		return fmt.Errorf("%w: the %s exceeds %d bytes", ErrTooLarge, desc, maxPartSize)
	}
	if isLatin1(params["charset"]) {
		data = []byte(fixC1(string(data)))
	}
	c := &calendarPart{data: data, ctMethod: params["method"], description: desc}
	if isCalendar {
		w.calendar = c
	} else {
		w.fallback = c
	}
	return nil
}

func isICSName(name string) bool {
	return strings.EqualFold(path.Ext(name), ".ics")
}

// calendarInfo is what the scanner learns of an iCalendar object.
type calendarInfo struct {
	method string // the VCALENDAR METHOD, upper case
	uid    string // the UID of the first component that is not a VTIMEZONE
}

// normaliseCalendar returns data as one iCalendar object with CRLF line
// endings: it drops a UTF-8 byte order mark, converts LF and CR line
// endings, and drops whatever follows the first END:VCALENDAR. It checks
// the content line grammar (RFC 5545 §3.1) so that what it returns
// decodes with go-ical, whose decoder panics on some malformed lines.
func normaliseCalendar(data []byte) ([]byte, calendarInfo, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		return nil, calendarInfo{}, errors.New("it is not UTF-8")
	}

	out := make([]byte, 0, len(data)+len(data)/32)
	var (
		info    calendarInfo
		stack   []string
		logical []byte // the current unfolded content line
		done    bool
	)
	// endLine checks the unfolded content line in logical.
	endLine := func() error {
		if len(logical) == 0 {
			return nil
		}
		name, value, err := checkContentLine(logical)
		if err != nil {
			return err
		}
		logical = logical[:0]
		if len(stack) == 0 && name != "BEGIN" {
			return fmt.Errorf("property %s outside VCALENDAR", name)
		}
		switch name {
		case "BEGIN":
			if len(stack) == 0 && !strings.EqualFold(value, "VCALENDAR") {
				return fmt.Errorf("it begins with %q, not VCALENDAR", value)
			}
			if len(stack) >= maxCalendarDepth {
				return fmt.Errorf("components nested deeper than %d levels", maxCalendarDepth)
			}
			stack = append(stack, strings.ToUpper(value))
		case "END":
			if len(stack) == 0 || !strings.EqualFold(value, stack[len(stack)-1]) {
				return fmt.Errorf("unexpected END:%s", value)
			}
			stack = stack[:len(stack)-1]
			done = len(stack) == 0
		case "METHOD":
			if len(stack) == 1 && info.method == "" {
				info.method = strings.ToUpper(strings.TrimSpace(value))
			}
		case "UID":
			if len(stack) == 2 && stack[1] != "VTIMEZONE" && info.uid == "" {
				info.uid = value
			}
		}
		return nil
	}

	for rest := data; len(rest) > 0; {
		var line []byte
		if i := bytes.IndexAny(rest, "\r\n"); i >= 0 {
			line = rest[:i]
			if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
				i++
			}
			rest = rest[i+1:]
		} else {
			line, rest = rest, nil
		}

		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			// RFC 5545 §3.1: a folded line continues the previous one.
			if len(logical) == 0 {
				return nil, info, errors.New("it starts with a continuation line")
			}
			logical = append(logical, line[1:]...)
		} else {
			if err := endLine(); err != nil {
				return nil, info, err
			}
			if done {
				break
			}
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			logical = append(logical, line...)
		}
		out = append(out, line...)
		out = append(out, '\r', '\n')
	}
	if err := endLine(); err != nil {
		return nil, info, err
	}
	if !done {
		if len(stack) == 0 {
			return nil, info, errors.New("it is empty")
		}
		return nil, info, errors.New("it ends before END:VCALENDAR")
	}
	return out, info, nil
}

// checkContentLine checks one unfolded content line against the grammar
// of RFC 5545 §3.1 and returns its upper-case name and its value:
//
//	contentline = name *(";" param) ":" value
//	param       = param-name "=" param-value *("," param-value)
//	param-value = paramtext / quoted-string
func checkContentLine(l []byte) (name, value string, err error) {
	i := bytes.IndexAny(l, ";:")
	if i <= 0 {
		return "", "", fmt.Errorf("malformed content line %.40q", l)
	}
	name = strings.ToUpper(string(l[:i]))
	for l = l[i:]; l[0] == ';'; {
		l = l[1:]
		eq := bytes.IndexByte(l, '=')
		if eq <= 0 || bytes.ContainsAny(l[:eq], ";:,\"") {
			return "", "", fmt.Errorf("malformed parameter in %s", name)
		}
		l = l[eq+1:]
		for {
			var n int
			if len(l) > 0 && l[0] == '"' {
				end := bytes.IndexByte(l[1:], '"')
				if end < 0 {
					return "", "", fmt.Errorf("unterminated quoted parameter in %s", name)
				}
				n = end + 2
			} else {
				n = bytes.IndexAny(l, ";:,\"")
				if n < 0 || l[n] == '"' {
					return "", "", fmt.Errorf("malformed parameter value in %s", name)
				}
			}
			if n > maxParamValue {
				return "", "", fmt.Errorf("parameter value longer than %d bytes in %s", maxParamValue, name)
			}
			l = l[n:]
			if len(l) == 0 || (l[0] != ',' && l[0] != ';' && l[0] != ':') {
				return "", "", fmt.Errorf("malformed parameter value in %s", name)
			}
			if l[0] != ',' {
				break
			}
			l = l[1:]
		}
	}
	// The loop leaves l at ':'.
	return name, string(l[1:]), nil
}
