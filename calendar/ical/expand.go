package ical

import (
	"maps"
	"slices"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
)

// Instance is one occurrence of a calendar object: the master's instances
// not excluded or overridden, and the overrides.
type Instance struct {
	// Start is the instance's DTSTART (for a VTODO without one, its DUE);
	// End its end (Start for an instant). Both are zero for a VTODO
	// without dates.
	Start, End time.Time
	// RecurrenceID identifies the instance; zero when the object does not
	// recur.
	RecurrenceID time.Time
	AllDay       bool
	// Component holds the instance's properties: the master or the
	// override. Do not modify it.
	Component *goical.Component
}

// Instances lists the instances of o that overlap tr (RFC 4791 §9.9),
// sorted by start, at most 10,000. Floating and all-day times are read in
// floating (UTC when nil).
func Instances(o *Object, tr TimeRange, floating *time.Location) []Instance {
	if o == nil || o.Cal == nil {
		return nil
	}
	occs := overlapping(o.modelOf(), tr, floating)
	out := make([]Instance, 0, len(occs))
	for _, oc := range occs {
		in := Instance{RecurrenceID: oc.rid, Component: oc.cm.c}
		if !oc.timeless {
			it := oc.times()
			in.Start, in.End, in.AllDay = it.start, it.end, it.allDay
			if oc.cm.c.Name == goical.CompToDo {
				in.End = it.start
				if it.hasEnd {
					in.End = it.end
				} else if it.hasDue {
					in.End = it.due
				}
			}
		}
		out = append(out, in)
	}
	return out
}

// overlapping collects the occurrences that match tr, sorted by start,
// without the duplicates an RDATE repeating a rule instance makes.
func overlapping(m *model, tr TimeRange, floating *time.Location) []occurrence {
	occs := make([]occurrence, 0, 4)
	from, to := tr.window(m.lo, m.hi)
	m.occurrences(from, to, floating, func(oc occurrence) bool {
		if tr.matches(oc, floating) {
			occs = append(occs, oc)
		}
		return len(occs) < maxInstances
	})
	slices.SortStableFunc(occs, func(a, b occurrence) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return a.rid.Compare(b.rid)
	})
	return slices.CompactFunc(occs, func(a, b occurrence) bool {
		return a.cm == b.cm && a.start.Equal(b.start) && a.rid.Equal(b.rid)
	})
}

// renderExpanded writes the calendar of RFC 4791 §9.6.5: the instances
// that overlap req.Expand, each a component with its own DTSTART, DTEND,
// DUE and RECURRENCE-ID in UTC (DATE values stay DATEs), without RRULE,
// RDATE, EXDATE or VTIMEZONE. Each component of the recurrence set is
// encoded once per call, as a template; instances only add their times.
func renderExpanded(o *Object, rawLen int, m *model, req DataRequest, floating *time.Location) []byte {
	src := o.Cal.Component
	shell := &goical.Component{Name: src.Name, Props: src.Props}
	for _, c := range src.Children {
		if c.Name != goical.CompTimezone && c.Name != m.kind {
			shell.Children = append(shell.Children, toUTC(c, o.Cal, floating, nil))
		}
	}
	if req.LimitFreeBusySet != nil {
		shell = limitFreeBusySet(shell, *req.LimitFreeBusySet, floating)
	}
	sel, selected := req.Comp, true
	if sel != nil {
		shell = selectComp(shell, sel)
		sel, selected = childSelect(sel, m.kind)
	}
	var occs []occurrence
	if selected {
		occs = overlapping(m, *req.Expand, floating)
	}
	// Each instance takes about as much room as the stored object.
	out := encodeOpen(make([]byte, 0, rawLen*(len(occs)+1)+256), shell)
	recurring := len(m.comps) > 1 || m.master != nil && m.master.recurs()
	var templates [4]*template // per component, for the first few
	for _, oc := range occs {
		var tpl *template
		i := indexOf(m.comps, oc.cm)
		if i >= 0 && i < len(templates) {
			tpl = templates[i]
		}
		if tpl == nil {
			tpl = newTemplate(oc.cm, sel, o.Cal, floating, rawLen)
			if i >= 0 && i < len(templates) {
				templates[i] = tpl
			}
		}
		out = tpl.write(out, oc, recurring)
	}
	return appendDelimiter(out, "END:", src.Name)
}

// childSelect finds what sel asks of the sub-components named name: nil
// for everything.
func childSelect(sel *CompSelect, name string) (*CompSelect, bool) {
	if sel.AllComps {
		return nil, true
	}
	for i := range sel.Comps {
		if strings.EqualFold(sel.Comps[i].Name, name) {
			return &sel.Comps[i], true
		}
	}
	return nil, false
}

// instanceProps are the properties each expanded instance writes itself,
// in the order the encoder sorts names.
var instanceProps = [...]string{goical.PropDateTimeEnd, goical.PropDateTimeStart, goical.PropDue, goical.PropRecurrenceID}

// notCopied reports the properties a template leaves out: those instances
// write themselves and the recurrence properties.
func notCopied(name string) bool {
	switch name {
	case "RRULE", "RDATE", "EXDATE", "EXRULE",
		goical.PropDateTimeEnd, goical.PropDateTimeStart, goical.PropDue, goical.PropRecurrenceID:
		return true
	}
	return false
}

// template is one component encoded for expansion.
type template struct {
	name   string
	static []staticProp // sorted by name
	// params holds, per instanceProps entry, the parameters its line
	// keeps (";X-A=b", without TZID, VALUE and RANGE); want says whether
	// the selection keeps the property at all.
	params   [len(instanceProps)]string
	want     [len(instanceProps)]bool
	hasDTEND bool
	buf      []byte // the encoded static properties, then the children
	children int    // where the children start in buf
}

// staticProp is a property the instances copy: buf[start:end].
type staticProp struct {
	name       string
	start, end int
}

func newTemplate(cm *compModel, sel *CompSelect, cal *goical.Calendar, floating *time.Location, size int) *template {
	c := toUTC(cm.c, cal, floating, notCopiedSet)
	if sel != nil {
		c = selectComp(c, sel)
	}
	tpl := &template{name: c.Name, hasDTEND: cm.c.Props[goical.PropDateTimeEnd] != nil,
		buf: make([]byte, 0, size), static: make([]staticProp, 0, len(c.Props))}
	var buf [32]string
	for _, name := range sortedKeys(buf[:0], c.Props) {
		if notCopied(name) {
			continue
		}
		start := len(tpl.buf)
		for i := range c.Props[name] {
			tpl.buf = appendProp(tpl.buf, &c.Props[name][i])
		}
		tpl.static = append(tpl.static, staticProp{name, start, len(tpl.buf)})
	}
	for i, name := range instanceProps {
		tpl.want[i] = sel == nil || sel.AllProps || slices.ContainsFunc(sel.Props, func(p string) bool { return strings.EqualFold(p, name) })
		if ps := cm.c.Props[name]; len(ps) > 0 && hasKeptParam(ps[0].Params) {
			p := goical.Prop{Params: maps.Clone(ps[0].Params)}
			maps.DeleteFunc(p.Params, func(k string, _ []string) bool { return !keptParam(k) })
			w := lineWriter{n: -1 << 30} // unfolded
			w.prop(&p, "")
			tpl.params[i] = strings.TrimSuffix(string(w.b), ":")
		}
	}
	tpl.children = len(tpl.buf)
	for _, child := range c.Children {
		tpl.buf = encodeComponent(tpl.buf, child)
	}
	return tpl
}

// keptParam reports the parameters an instance's times keep.
func keptParam(k string) bool {
	return k != goical.ParamTimezoneID && k != goical.ParamValue && k != goical.ParamRange
}

func hasKeptParam(params goical.Params) bool {
	for k := range params {
		if keptParam(k) {
			return true
		}
	}
	return false
}

// notCopiedSet is notCopied for toUTC.
var notCopiedSet = map[string]bool{"RRULE": true, "RDATE": true, "EXDATE": true, "EXRULE": true,
	goical.PropDateTimeEnd: true, goical.PropDateTimeStart: true, goical.PropDue: true, goical.PropRecurrenceID: true}

// write appends one instance.
func (tpl *template) write(out []byte, oc occurrence, recurring bool) []byte {
	out = appendDelimiter(out, "BEGIN:", tpl.name)
	var values [len(instanceProps)]time.Time
	var isDate [len(instanceProps)]bool
	if !oc.timeless {
		it := oc.times()
		cm := oc.cm
		if oc.hasPeriodEnd || tpl.hasDTEND {
			values[0], isDate[0] = it.end, it.allDay
		}
		if it.hasStart {
			values[1], isDate[1] = it.start, it.allDay
		}
		if it.hasDue {
			values[2], isDate[2] = it.due, cm.due.kind == kindDate
		}
		if recurring {
			values[3], isDate[3] = oc.rid, cm.rid.kind == kindDate || cm.rid.kind == kindNone && it.allDay
		}
	}
	next := 0
	for i := 0; i <= len(tpl.static); i++ {
		name := ""
		if i < len(tpl.static) {
			name = tpl.static[i].name
		}
		for ; next < len(instanceProps) && (name == "" || instanceProps[next] < name); next++ {
			if !values[next].IsZero() && tpl.want[next] {
				out = tpl.appendTime(out, next, values[next], isDate[next])
			}
		}
		if i == len(tpl.static) {
			break
		}
		if sp := tpl.static[i]; sp.name != goical.PropDuration || !oc.hasPeriodEnd {
			// (an RDATE period's end replaces DURATION)
			out = append(out, tpl.buf[sp.start:sp.end]...)
		}
	}
	out = append(out, tpl.buf[tpl.children:]...)
	return appendDelimiter(out, "END:", tpl.name)
}

// appendTime writes instance property i with value t.
func (tpl *template) appendTime(out []byte, i int, t time.Time, date bool) []byte {
	var scratch [16]byte
	w := lineWriter{b: out}
	w.write(instanceProps[i])
	w.write(tpl.params[i])
	if date {
		w.write(";VALUE=DATE:")
		w.write(string(t.AppendFormat(scratch[:0], dateFormat)))
	} else {
		w.write(":")
		w.write(string(t.UTC().AppendFormat(scratch[:0], utcFormat)))
	}
	return w.end()
}
