package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decodes the legacy charsets mail still uses
	"golang.org/x/net/html"
)

// Bounds of mail parsing. Stored messages come from salon itself, but an
// outbox row can hold anything a bug or a hand-edit put there, and the
// admin page must stay up whatever it is.
const (
	maxMIMEDepth    = 8       // nesting of multiparts
	maxMIMEParts    = 64      // parts visited in one message
	maxPartBytes    = 2 << 20 // decoded bytes kept of one text part
	maxMailLinks    = 1000    // links listed from the HTML part
	maxHeaderValues = 1 << 10 // bytes shown of one header value
	maxProblemLen   = 300     // bytes shown of a parse error
)

// mailView is a stored message taken apart for display: the headers people
// read, the first text/plain, text/html and text/calendar parts, decoded to
// UTF-8, and the web links of the HTML part.
type mailView struct {
	Headers  []mailHeader
	Text     string
	HTML     string
	Calendar string
	// Links are the http(s) targets of the HTML part's <a href>, in
	// document order, duplicates kept: scripts and tests look for the
	// join and RSVP links here.
	Links []string
	// Problem says why the message could not be read entirely, or is "".
	// Whatever was read before the problem is kept.
	Problem string
}

// mailHeader is one decoded header field.
type mailHeader struct {
	Name, Value string
}

// shownHeaders are the fields the admin page lists, in this order.
var shownHeaders = []string{"From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID"}

// parseMailView takes raw apart. It never fails: a message it cannot read
// gives a view with Problem set, and the page shows the raw message.
func parseMailView(raw []byte) mailView {
	var v mailView
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		v.note(fmt.Errorf("the header cannot be read: %w", err))
		return v
	}
	if err != nil {
		v.note(err)
	}
	for _, name := range shownHeaders {
		for f := e.Header.FieldsByKey(name); f.Next(); {
			value, err := f.Text()
			if err != nil {
				value = f.Value() // undecodable encoded-words: show them as they are
			}
			v.Headers = append(v.Headers, mailHeader{Name: name, Value: clip(cleanUTF8(value), maxHeaderValues)})
		}
	}
	parts := 0
	v.walk(e, 0, &parts)
	if v.HTML != "" {
		v.Links = htmlLinks(v.HTML, maxMailLinks)
	}
	return v
}

// walk visits e and, for a multipart, its parts depth-first, keeping the
// first part of each text type that is not an attachment (a text/calendar
// one counts even as an attachment: iMIP senders attach invite.ics).
func (v *mailView) walk(e *message.Entity, depth int, parts *int) {
	*parts++
	if *parts > maxMIMEParts {
		v.note(fmt.Errorf("more than %d parts; the rest is not shown", maxMIMEParts))
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		if depth >= maxMIMEDepth {
			v.note(fmt.Errorf("multiparts nested more than %d deep; the inner ones are not shown", maxMIMEDepth))
			return
		}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return
			}
			if p == nil {
				v.note(err)
				return
			}
			if err != nil {
				v.note(err) // unknown charset or encoding: p is still readable
			}
			v.walk(p, depth+1, parts)
			if *parts > maxMIMEParts {
				return
			}
		}
	}
	mediaType, _, err := e.Header.ContentType()
	if err != nil {
		if e.Header.Get("Content-Type") != "" {
			v.note(fmt.Errorf("content type: %w", err))
			return
		}
		mediaType = "text/plain" // RFC 2045 §5.2 default
	}
	disp, _, _ := e.Header.ContentDisposition()
	attachment := strings.EqualFold(disp, "attachment")
	var dst *string
	switch strings.ToLower(mediaType) {
	case "text/plain":
		if !attachment {
			dst = &v.Text
		}
	case "text/html":
		if !attachment {
			dst = &v.HTML
		}
	case "text/calendar", "application/ics":
		dst = &v.Calendar
	}
	if dst == nil || *dst != "" {
		return
	}
	body, err := io.ReadAll(io.LimitReader(e.Body, maxPartBytes+1))
	if err != nil {
		v.note(fmt.Errorf("%s part: %w", mediaType, err))
	}
	if len(body) > maxPartBytes {
		body = body[:maxPartBytes]
		v.note(fmt.Errorf("the %s part is longer than %d bytes; the rest is not shown", mediaType, maxPartBytes))
	}
	*dst = cleanUTF8(string(body))
}

// note records the first problem met: later ones are usually its echoes.
func (v *mailView) note(err error) {
	if v.Problem == "" && err != nil {
		// Errors quote the offending input, which may be long or binary.
		v.Problem = clip(cleanUTF8(err.Error()), maxProblemLen)
	}
}

// htmlLinks returns the http and https targets of the <a href> in doc, at
// most limit of them, as the browser would read the attribute (entities
// decoded, surrounding spaces dropped).
func htmlLinks(doc string, limit int) []string {
	var links []string
	z := html.NewTokenizer(strings.NewReader(doc))
	for len(links) < limit {
		switch z.Next() {
		case html.ErrorToken:
			return links
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if string(name) != "a" {
				continue
			}
			for hasAttr {
				var key, val []byte
				key, val, hasAttr = z.TagAttr()
				if string(key) != "href" {
					continue
				}
				if link := strings.TrimSpace(string(val)); webURL(link) {
					links = append(links, link)
				}
				break // the browser uses the first href
			}
		}
	}
	return links
}

// webURL reports whether s is an absolute http or https URL with a host.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")) && u.Host != ""
}

// cleanUTF8 replaces bytes that are not UTF-8, which html/template and
// encoding/json would otherwise mangle each in its own way.
func cleanUTF8(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
