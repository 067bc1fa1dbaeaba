package calendar

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// kind says which sort of resource a URL names.
type kind int

const (
	kindRoot       kind = iota // /dav/
	kindPrincipals             // /dav/principals/
	kindPrincipal              // /dav/principals/{user}/
	kindCalendars              // /dav/calendars/
	kindHome                   // /dav/calendars/{user}/
	kindCalendar               // /dav/calendars/{user}/{calendar}/
	kindObject                 // /dav/calendars/{user}/{calendar}/{object}
	kindInbox                  // /dav/calendars/{user}/inbox/ (RFC 6638 §2.2)
	kindOutbox                 // /dav/calendars/{user}/outbox/ (RFC 6638 §2.1)
)

// maxSegment bounds every name in a URL; longer names are refused before
// anything reaches the store.
const maxSegment = 255

// target is a parsed request URL.
type target struct {
	kind     kind
	user     string
	calendar string
	object   string
	// slash records a trailing slash, which an object never has.
	slash bool
}

// errBadPath is a URL that salon will never serve: it is refused with 400
// before any storage access.
var errBadPath = errors.New("calendar: bad path")

// errNoResource is a well-formed URL outside salon's URL space (404).
var errNoResource = errors.New("calendar: no such resource")

// parsePath reads an escaped URL path (as sent on the wire) below prefix.
// Every segment is unescaped on its own, so an encoded slash stays inside
// its segment and is refused, as are "." and "..", empty segments, control
// characters, invalid UTF-8 and names over maxSegment bytes.
func parsePath(prefix, escaped string) (target, error) {
	rest, ok := strings.CutPrefix(escaped, prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return target{}, errNoResource
	}
	rest = strings.TrimPrefix(rest, "/")
	slash := rest == "" || strings.HasSuffix(rest, "/")
	rest = strings.TrimSuffix(rest, "/")
	var segs []string
	if rest != "" {
		for _, s := range strings.Split(rest, "/") {
			seg, err := unescapeSegment(s)
			if err != nil {
				return target{}, err
			}
			segs = append(segs, seg)
		}
		if len(segs) > 4 {
			return target{}, errNoResource
		}
	}
	t := target{slash: slash}
	switch {
	case len(segs) == 0:
		t.kind = kindRoot
	case segs[0] == "principals" && len(segs) <= 2:
		t.kind = kindPrincipals
		if len(segs) == 2 {
			t.kind, t.user = kindPrincipal, segs[1]
		}
	case segs[0] == "calendars":
		t.kind = kindCalendars
		switch len(segs) {
		case 2:
			t.kind, t.user = kindHome, segs[1]
		case 3:
			t.kind, t.user, t.calendar = kindCalendar, segs[1], segs[2]
			// The scheduling collections are reserved names in every home;
			// their members are objects like a calendar's.
			switch t.calendar {
			case InboxName:
				t.kind = kindInbox
			case OutboxName:
				t.kind = kindOutbox
			}
		case 4:
			t.kind, t.user, t.calendar, t.object = kindObject, segs[1], segs[2], segs[3]
		}
	default:
		return target{}, errNoResource
	}
	if t.kind == kindObject && slash {
		// A collection path below a calendar: calendars hold no collections.
		return target{}, errNoResource
	}
	return t, nil
}

func unescapeSegment(s string) (string, error) {
	if s == "" || len(s) > 3*maxSegment {
		return "", errBadPath
	}
	seg, err := url.PathUnescape(s)
	if err != nil {
		return "", errBadPath
	}
	if !validName(seg) {
		return "", errBadPath
	}
	return seg, nil
}

// validName reports whether seg may name a user, calendar or object.
func validName(seg string) bool {
	if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegment || !utf8.ValidString(seg) {
		return false
	}
	for _, r := range seg {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}

// hrefs builds the escaped URL paths salon hands out.
type hrefs struct{ prefix string }

func (p hrefs) root() string       { return p.prefix + "/" }
func (p hrefs) principals() string { return p.prefix + "/principals/" }
func (p hrefs) calendars() string  { return p.prefix + "/calendars/" }
func (p hrefs) principal(user string) string {
	return p.prefix + "/principals/" + url.PathEscape(user) + "/"
}
func (p hrefs) home(user string) string {
	return p.prefix + "/calendars/" + url.PathEscape(user) + "/"
}
func (p hrefs) calendar(user, cal string) string {
	return p.home(user) + url.PathEscape(cal) + "/"
}
func (p hrefs) object(user, cal, obj string) string {
	return p.calendar(user, cal) + url.PathEscape(obj)
}

func (p hrefs) of(t target) string {
	switch t.kind {
	case kindPrincipals:
		return p.principals()
	case kindPrincipal:
		return p.principal(t.user)
	case kindCalendars:
		return p.calendars()
	case kindHome:
		return p.home(t.user)
	case kindCalendar, kindInbox, kindOutbox:
		return p.calendar(t.user, t.calendar)
	case kindObject:
		return p.object(t.user, t.calendar, t.object)
	}
	return p.root()
}

// parseHref reads an href or Destination value: an absolute URL or a path.
func parseHref(prefix, href string) (target, error) {
	href = strings.TrimSpace(href)
	u, err := url.Parse(href)
	if err != nil || u.RawQuery != "" || u.Fragment != "" {
		return target{}, errBadPath
	}
	return parsePath(prefix, u.EscapedPath())
}
