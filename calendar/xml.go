package calendar

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// XML namespaces salon speaks, and the prefixes it writes them with.
const (
	nsDAV    = "DAV:"
	nsCalDAV = "urn:ietf:params:xml:ns:caldav"
	nsCS     = "http://calendarserver.org/ns/"
	nsApple  = "http://apple.com/ns/ical/"
	nsSalon  = "http://salon.invalid/ns/"
)

var prefixes = map[string]string{
	nsDAV:    "D",
	nsCalDAV: "C",
	nsCS:     "CS",
	nsApple:  "ICAL",
}

// Limits of request bodies beyond the byte size.
const (
	maxXMLDepth    = 64
	maxXMLElements = 100000
)

// node is one element of a parsed request body. Names carry their
// namespace URI, never a prefix.
type node struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []*node
	// content keeps character data and child elements in document order,
	// so that dead properties round-trip.
	content []any // string or *node
}

// Text returns the character data directly inside n.
func (n *node) Text() string {
	var b strings.Builder
	for _, c := range n.content {
		if s, ok := c.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

// Child returns the first child named ns:local, or nil.
func (n *node) Child(ns, local string) *node {
	for _, c := range n.Children {
		if c.Name.Space == ns && c.Name.Local == local {
			return c
		}
	}
	return nil
}

// AttrValue returns the value of the un-namespaced attribute local.
func (n *node) AttrValue(local string) (string, bool) {
	for _, a := range n.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

func (n *node) is(ns, local string) bool { return n.Name.Space == ns && n.Name.Local == local }

// xmlError is a request body that is not acceptable XML; it becomes 400.
type xmlError struct{ msg string }

func (e *xmlError) Error() string { return "malformed XML request body: " + e.msg }

// parseXML reads one XML document. DOCTYPE declarations (and so entity
// definitions) are refused, as are documents nested deeper than
// maxXMLDepth or with more than maxXMLElements elements. Errors from r
// (such as http.MaxBytesError) are returned unchanged.
func parseXML(r io.Reader) (*node, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var (
		root  *node
		stack []*node
		count int
	)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &xmlError{msg: fmt.Sprintf("line %d: %s", se.Line, se.Msg)}
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if len(stack) >= maxXMLDepth {
				return nil, &xmlError{msg: fmt.Sprintf("elements nested deeper than %d levels", maxXMLDepth)}
			}
			if count > maxXMLElements {
				return nil, &xmlError{msg: fmt.Sprintf("more than %d elements", maxXMLElements)}
			}
			if root != nil && len(stack) == 0 {
				return nil, &xmlError{msg: "more than one root element"}
			}
			n := &node{Name: t.Name, Attr: t.Copy().Attr}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
				p.content = append(p.content, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].Name != t.Name {
				return nil, &xmlError{msg: "element <" + t.Name.Local + "> closed but not open"}
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.content = append(p.content, string(t))
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, &xmlError{msg: "text outside the root element"}
			}
		case xml.Directive:
			return nil, &xmlError{msg: "DOCTYPE and other declarations are not accepted"}
		case xml.ProcInst, xml.Comment:
		}
	}
	if root == nil {
		return nil, &xmlError{msg: "no root element"}
	}
	if len(stack) > 0 {
		return nil, &xmlError{msg: "document ends inside <" + stack[len(stack)-1].Name.Local + ">"}
	}
	if err := resolveNamespaces(root, nil); err != nil {
		return nil, err
	}
	return root, nil
}

// resolveNamespaces replaces prefixes by namespace URIs. RawToken leaves
// them unresolved so that an undeclared prefix can be refused rather than
// silently taken as a namespace named after the prefix.
func resolveNamespaces(n *node, scope map[string]string) error {
	var local map[string]string
	attrs := n.Attr[:0]
	for _, a := range n.Attr {
		switch {
		case a.Name.Space == "xmlns":
			if local == nil {
				local = copyScope(scope)
			}
			if a.Value == "" {
				return &xmlError{msg: "empty namespace for prefix " + a.Name.Local}
			}
			local[a.Name.Local] = a.Value
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			if local == nil {
				local = copyScope(scope)
			}
			local[""] = a.Value
		default:
			attrs = append(attrs, a)
		}
	}
	n.Attr = attrs
	if local != nil {
		scope = local
	}
	ns, ok := scope[n.Name.Space]
	if !ok && n.Name.Space != "" {
		return &xmlError{msg: fmt.Sprintf("undeclared namespace prefix %q", n.Name.Space)}
	}
	n.Name.Space = ns
	for i, a := range n.Attr {
		switch a.Name.Space {
		case "":
		case "xml":
			n.Attr[i].Name.Space = "http://www.w3.org/XML/1998/namespace"
		default:
			ans, ok := scope[a.Name.Space]
			if !ok {
				return &xmlError{msg: fmt.Sprintf("undeclared namespace prefix %q", a.Name.Space)}
			}
			n.Attr[i].Name.Space = ans
		}
	}
	for _, c := range n.Children {
		if err := resolveNamespaces(c, scope); err != nil {
			return err
		}
	}
	return nil
}

func copyScope(s map[string]string) map[string]string {
	m := make(map[string]string, len(s)+1)
	for k, v := range s {
		m[k] = v
	}
	return m
}

// propKey is the form a property name takes as a DeadProps key.
func propKey(n xml.Name) string { return "{" + n.Space + "}" + n.Local }

func parsePropKey(k string) (xml.Name, bool) {
	rest, ok := strings.CutPrefix(k, "{")
	if !ok {
		return xml.Name{}, false
	}
	ns, local, ok := strings.Cut(rest, "}")
	if !ok || local == "" {
		return xml.Name{}, false
	}
	return xml.Name{Space: ns, Local: local}, true
}

// innerXML serialises what is inside n, declaring every namespace where
// it is used so the fragment stands alone.
func (n *node) innerXML() string {
	var b strings.Builder
	for _, c := range n.content {
		switch c := c.(type) {
		case string:
			b.WriteString(escapeText(c))
		case *node:
			c.writeTo(&b)
		}
	}
	return b.String()
}

func (n *node) writeTo(b *strings.Builder) {
	b.WriteString(strings.TrimSuffix(foreignOpen(n.Name), ">"))
	for _, a := range n.Attr {
		if a.Name.Space != "" {
			continue
		}
		b.WriteString(" " + a.Name.Local + `="` + escapeAttr(a.Value) + `"`)
	}
	b.WriteString(">")
	b.WriteString(n.innerXML())
	b.WriteString(foreignClose(n.Name))
}

// foreignOpen and foreignClose write a name in any namespace, declared on
// the element itself; the empty namespace resets the default one.
func foreignOpen(n xml.Name) string {
	if n.Space == "" {
		return "<" + n.Local + ` xmlns="">`
	}
	return "<X:" + n.Local + ` xmlns:X="` + escapeAttr(n.Space) + `">`
}

func foreignClose(n xml.Name) string {
	if n.Space == "" {
		return "</" + n.Local + ">"
	}
	return "</X:" + n.Local + ">"
}

// escapeText escapes s for XML text and attribute values. It is on the hot
// path of every REPORT (calendar-data is mostly text), so it copies runs of
// ordinary bytes at once. CR is escaped so that iCalendar's CRLF survives
// XML line-end normalisation; characters XML cannot carry (C0 controls,
// invalid UTF-8, U+FFFE/U+FFFF) become U+FFFD, as encoding/xml does.
func escapeText(s string) string {
	i := 0
	for i < len(s) && plainXMLByte(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	b.WriteString(s[:i])
	for i < len(s) {
		start := i
		for i < len(s) && plainXMLByte(s[i]) {
			i++
		}
		b.WriteString(s[start:i])
		if i == len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '&':
			b.WriteString("&amp;")
		case c == '<':
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		case c == '"':
			b.WriteString("&#34;")
		case c == '\'':
			b.WriteString("&#39;")
		case c == '\r':
			b.WriteString("&#xD;")
		case c < 0x80:
			b.WriteString("\uFFFD") // a C0 control XML 1.0 cannot carry
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || !xmlChar(r) {
				b.WriteString("\uFFFD")
			} else {
				b.WriteString(s[i : i+size])
			}
			i += size
			continue
		}
		i++
	}
	return b.String()
}

// plainXMLByte reports ASCII bytes that stand for themselves in XML text.
func plainXMLByte(c byte) bool {
	switch c {
	case '&', '<', '>', '"', '\'', '\r':
		return false
	case '\n', '\t':
		return true
	}
	return c >= 0x20 && c < 0x80
}

// xmlChar reports whether XML 1.0 allows r (above ASCII).
func xmlChar(r rune) bool {
	return r <= 0xD7FF || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

func escapeAttr(s string) string { return escapeText(s) }

// openTag, closeTag and emptyTag write an element name with salon's
// prefixes, declaring any other namespace on the element itself.
func openTag(n xml.Name) string {
	if p, ok := prefixes[n.Space]; ok {
		return "<" + p + ":" + n.Local + ">"
	}
	return foreignOpen(n)
}

func closeTag(n xml.Name) string {
	if p, ok := prefixes[n.Space]; ok {
		return "</" + p + ":" + n.Local + ">"
	}
	return foreignClose(n)
}

func emptyTag(n xml.Name) string {
	if p, ok := prefixes[n.Space]; ok {
		return "<" + p + ":" + n.Local + "/>"
	}
	return strings.TrimSuffix(foreignOpen(n), ">") + "/>"
}

// xmlHeader starts every XML body salon writes, with its namespace
// declarations on the root element written by the caller.
const xmlHeader = `<?xml version="1.0" encoding="utf-8"?>` + "\n"

const nsDecls = ` xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:ICAL="http://apple.com/ns/ical/"`
