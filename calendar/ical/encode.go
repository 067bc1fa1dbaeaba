package ical

import (
	"slices"
	"strings"
	"unicode/utf8"

	goical "github.com/emersion/go-ical"
)

// encode writes a component tree as iCalendar text (RFC 5545 §3.1): CRLF
// line ends, lines folded at 75 octets without splitting a UTF-8 sequence,
// properties sorted by name (values of one name keep their order),
// parameters sorted and quoted when they hold ':', ';' or ','.
//
// goical.Encoder is not used: it refuses what Render must be able to write
// (partial calendar-data without VERSION or UID, per RFC 4791 §9.6.1) and
// what sloppy clients store (two DESCRIPTIONs), and it does not fold.
func encode(c *goical.Component) []byte {
	return encodeComponent(nil, c)
}

func encodeComponent(b []byte, c *goical.Component) []byte {
	return appendDelimiter(encodeOpen(b, c), "END:", c.Name)
}

// encodeOpen writes all of c but its END line.
func encodeOpen(b []byte, c *goical.Component) []byte {
	b = appendDelimiter(b, "BEGIN:", c.Name)
	var buf [32]string
	for _, name := range sortedKeys(buf[:0], c.Props) {
		for i := range c.Props[name] {
			b = appendProp(b, &c.Props[name][i])
		}
	}
	for _, child := range c.Children {
		b = encodeComponent(b, child)
	}
	return b
}

// appendDelimiter writes a BEGIN or END line.
func appendDelimiter(b []byte, kw, name string) []byte {
	w := lineWriter{b: b}
	w.write(kw)
	w.write(name)
	return w.end()
}

// sortedKeys appends the keys of m to keys, sorted.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendProp appends one property as a folded content line.
func appendProp(b []byte, p *goical.Prop) []byte {
	w := lineWriter{b: b}
	w.prop(p, p.Value)
	return w.end()
}

// lineWriter appends one content line, folding it as it goes (RFC 5545
// §3.1): n counts the octets of the current physical line.
type lineWriter struct {
	b []byte
	n int
}

const foldAt = 75

func (w *lineWriter) write(s string) {
	for {
		room := foldAt - w.n
		if len(s) <= room {
			w.b = append(w.b, s...)
			w.n += len(s)
			return
		}
		cut := max(room, 0)
		for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.b = append(w.b, s[:cut]...)
		w.b = append(w.b, "\r\n "...)
		w.n = 1
		s = s[cut:]
	}
}

func (w *lineWriter) end() []byte { return append(w.b, '\r', '\n') }

func (w *lineWriter) prop(p *goical.Prop, value string) {
	w.write(p.Name)
	var buf [8]string
	names := buf[:0]
	for name, vals := range p.Params {
		if len(vals) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		w.write(";")
		w.write(name)
		w.write("=")
		for i, v := range p.Params[name] {
			if i > 0 {
				w.write(",")
			}
			if strings.IndexByte(v, '"') >= 0 {
				v = strings.ReplaceAll(v, `"`, "")
			}
			if strings.ContainsAny(v, ":;,") {
				w.write(`"`)
				w.write(v)
				w.write(`"`)
			} else {
				w.write(v)
			}
		}
	}
	w.write(":")
	// A value cannot hold a line break; TEXT writes it as \n.
	if strings.ContainsAny(value, "\r\n") {
		value = strings.ReplaceAll(strings.ReplaceAll(value, "\r", ""), "\n", `\n`)
	}
	w.write(value)
}

// appendLine appends a content line given as text, folded.
func appendLine[S ~string | ~[]byte](b []byte, line S) []byte {
	w := lineWriter{b: b}
	w.write(string(line))
	return w.end()
}

// Encode writes cal as iCalendar text the way salon writes every object it
// changes: CRLF, folded at 75 octets, properties sorted by name.
func Encode(cal *goical.Calendar) []byte {
	return encode(cal.Component)
}
