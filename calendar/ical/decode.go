package ical

import (
	"fmt"
	"strings"
	"unicode/utf8"

	goical "github.com/emersion/go-ical"
)

// Limits on what decode accepts, so that hostile input costs bounded time
// and memory. Real clients stay far below them: a yearly meeting with ten
// years of moved instances has a few hundred components.
const (
	maxComponents = 10000
	maxDepth      = 4 // VCALENDAR > VEVENT > VALARM > one more
	maxProps      = 100000
	maxParams     = 64 // per property
)

// decodeError is a syntax error with the line it was found on.
type decodeError struct {
	line int
	msg  string
}

func (e *decodeError) Error() string {
	if e.line == 0 {
		return e.msg
	}
	return fmt.Sprintf("line %d: %s", e.line, e.msg)
}

// decode reads one iCalendar stream into go-ical values (RFC 5545 §3.1).
//
// It replaces goical.Decoder for data from clients: that decoder panics on
// some malformed parameters ("X;A=b" without a colon, text after a quoted
// value), builds parameter values byte by byte (quadratic time) and recurses
// once per BEGIN without a limit. This one runs in linear time, keeps to the
// limits above and accepts what sloppy clients write: LF line ends, a
// byte-order mark, blank lines and lower-case names.
//
// The result has exactly one VCALENDAR; anything but blank lines after its
// END is an error, so is a second VCALENDAR.
func decode(data []byte) (*goical.Calendar, error) {
	if !utf8.Valid(data) {
		return nil, &decodeError{msg: "data is not UTF-8; save the calendar as UTF-8 (RFC 5545 §3.1.4)"}
	}
	d := decoder{s: string(data)}
	d.s = strings.TrimPrefix(d.s, "\uFEFF")
	return d.calendar()
}

type decoder struct {
	s      string // input not yet read
	line   int    // number of the physical line last read
	comps  int
	props  int
	folded strings.Builder
}

// next returns the next non-blank logical line, unfolded (RFC 5545 §3.1),
// or ok false at the end of the input.
func (d *decoder) next() (line string, ok bool) {
	for d.s != "" {
		l := d.physical()
		if !d.continues() {
			if l == "" {
				continue
			}
			return l, true
		}
		d.folded.Reset()
		d.folded.WriteString(l)
		for d.continues() {
			d.folded.WriteString(d.physical()[1:])
		}
		if d.folded.Len() == 0 {
			continue
		}
		return d.folded.String(), true
	}
	return "", false
}

// physical consumes one physical line without its line end.
func (d *decoder) physical() string {
	d.line++
	i := strings.IndexByte(d.s, '\n')
	var l string
	if i < 0 {
		l, d.s = d.s, ""
	} else {
		l, d.s = d.s[:i], d.s[i+1:]
	}
	return strings.TrimSuffix(l, "\r")
}

// continues reports whether the next physical line folds into this one.
func (d *decoder) continues() bool {
	return d.s != "" && (d.s[0] == ' ' || d.s[0] == '\t')
}

func (d *decoder) errorf(format string, args ...any) error {
	return &decodeError{line: d.line, msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) calendar() (*goical.Calendar, error) {
	l, ok := d.next()
	if !ok {
		return nil, &decodeError{msg: "empty data; expected BEGIN:VCALENDAR"}
	}
	p, err := d.contentLine(l)
	if err != nil {
		return nil, err
	}
	if p.Name != "BEGIN" || !strings.EqualFold(strings.TrimSpace(p.Value), goical.CompCalendar) {
		return nil, d.errorf("expected BEGIN:VCALENDAR, got %.40q", l)
	}
	root, err := d.component(goical.CompCalendar)
	if err != nil {
		return nil, err
	}
	if l, ok := d.next(); ok {
		if p, err := d.contentLine(l); err == nil && p.Name == "BEGIN" {
			return nil, &objectError{msg: "more than one VCALENDAR; store each calendar object in its own resource (RFC 4791 §4.1)"}
		}
		return nil, d.errorf("data after END:VCALENDAR")
	}
	return &goical.Calendar{Component: root}, nil
}

// objectError is well-formed iCalendar that is not one calendar object
// resource (RFC 4791 §4.1).
type objectError struct{ msg string }

func (e *objectError) Error() string { return e.msg }

// component reads the body of a component whose BEGIN line was just read,
// up to and including its END line. Nesting is handled with an explicit
// stack so that depth costs no Go stack.
func (d *decoder) component(name string) (*goical.Component, error) {
	root := &goical.Component{Name: name, Props: make(goical.Props)}
	stack := []*goical.Component{root}
	d.comps++
	for {
		l, ok := d.next()
		if !ok {
			return nil, d.errorf("missing END:%s", stack[len(stack)-1].Name)
		}
		p, err := d.contentLine(l)
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch p.Name {
		case "BEGIN":
			child := strings.ToUpper(strings.TrimSpace(p.Value))
			if child == "" {
				return nil, d.errorf("BEGIN without a component name")
			}
			if len(stack) >= maxDepth {
				return nil, d.errorf("components nested deeper than %d levels", maxDepth)
			}
			if d.comps++; d.comps > maxComponents {
				return nil, d.errorf("more than %d components", maxComponents)
			}
			c := &goical.Component{Name: child, Props: make(goical.Props)}
			top.Children = append(top.Children, c)
			stack = append(stack, c)
		case "END":
			if end := strings.TrimSpace(p.Value); !strings.EqualFold(end, top.Name) {
				return nil, d.errorf("END:%.40s where END:%s was expected", end, top.Name)
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return root, nil
			}
		default:
			if d.props++; d.props > maxProps {
				return nil, d.errorf("more than %d properties", maxProps)
			}
			top.Props[p.Name] = append(top.Props[p.Name], p)
		}
	}
}

// contentLine parses name *(";" param) ":" value (RFC 5545 §3.1).
func (d *decoder) contentLine(l string) (goical.Prop, error) {
	i := 0
	for i < len(l) && isNameChar(l[i]) {
		i++
	}
	if i == 0 {
		return goical.Prop{}, d.errorf("malformed content line %.40q: expected a property name", l)
	}
	p := goical.Prop{Name: strings.ToUpper(l[:i]), Params: make(goical.Params)}
	rest := l[i:]
	for n := 0; rest != "" && rest[0] == ';'; n++ {
		if n == maxParams {
			return goical.Prop{}, d.errorf("property %s has more than %d parameters", p.Name, maxParams)
		}
		rest = rest[1:]
		j := 0
		for j < len(rest) && isNameChar(rest[j]) {
			j++
		}
		if j == 0 || j == len(rest) || rest[j] != '=' {
			return goical.Prop{}, d.errorf("property %s: malformed parameter", p.Name)
		}
		pname := strings.ToUpper(rest[:j])
		rest = rest[j+1:]
		for {
			var v string
			if rest != "" && rest[0] == '"' {
				k := strings.IndexByte(rest[1:], '"')
				if k < 0 {
					return goical.Prop{}, d.errorf("property %s: unterminated quoted parameter value", p.Name)
				}
				v, rest = rest[1:k+1], rest[k+2:]
			} else {
				k := strings.IndexAny(rest, ";,:\"")
				if k < 0 {
					return goical.Prop{}, d.errorf("property %s: missing ':' before the value", p.Name)
				}
				if rest[k] == '"' {
					return goical.Prop{}, d.errorf("property %s: '\"' inside an unquoted parameter value", p.Name)
				}
				v, rest = rest[:k], rest[k:]
			}
			p.Params[pname] = append(p.Params[pname], v)
			if rest == "" || rest[0] != ',' {
				break
			}
			rest = rest[1:]
		}
	}
	if rest == "" || rest[0] != ':' {
		return goical.Prop{}, d.errorf("property %s: missing ':' before the value", p.Name)
	}
	p.Value = rest[1:]
	return p, nil
}

// isNameChar accepts the characters of iana-token and x-name (RFC 5545
// §3.1), plus '_', which some exporters put in X- names.
func isNameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Decode reads one VCALENDAR leniently, as Parse does, without checking it
// is a calendar object resource: for iTIP messages (RFC 5546), whose
// components may lack what a stored object needs.
func Decode(data []byte) (*goical.Calendar, error) {
	cal, err := decode(data)
	if err != nil {
		return nil, &InvalidError{Precondition: "valid-calendar-data", Msg: err.Error()}
	}
	return cal, nil
}
