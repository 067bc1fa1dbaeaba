package calendar

import (
	"net/http"
	"strings"
	"time"

	"github.com/salonhq/salon/calendar/ical"
)

// Parsing of the CalDAV query language: calendar-data requests
// (RFC 4791 §9.6) and filters (§9.7), into calendar/ical's types.

func invalidFilter(msg string) error {
	return errCond(http.StatusForbidden, nsCalDAV, "valid-filter", msg)
}

// collations are the ones RFC 4791 §7.5.1 requires.
var collations = map[string]bool{"": true, "i;ascii-casemap": true, "i;octet": true, "i;unicode-casemap": true}

// parseTimeRange reads the start and end attributes of a time-range,
// expand or limit-* element ("date with UTC time", RFC 5545 §3.3.5). A
// time without "Z" is taken as UTC; a bare date as its midnight in UTC.
func parseTimeRange(n *node, needBoth bool) (*ical.TimeRange, error) {
	var tr ical.TimeRange
	start, hasStart := n.AttrValue("start")
	end, hasEnd := n.AttrValue("end")
	if needBoth && (!hasStart || !hasEnd) {
		return nil, invalidFilter("<" + n.Name.Local + "> needs both start and end")
	}
	if !hasStart && !hasEnd {
		return nil, invalidFilter("<" + n.Name.Local + "> needs start or end")
	}
	var err error
	if hasStart {
		if tr.Start, err = parseUTC(start); err != nil {
			return nil, invalidFilter("<" + n.Name.Local + "> start " + start + " is not a UTC date-time like 20060102T150405Z")
		}
	}
	if hasEnd {
		if tr.End, err = parseUTC(end); err != nil {
			return nil, invalidFilter("<" + n.Name.Local + "> end " + end + " is not a UTC date-time like 20060102T150405Z")
		}
	}
	if hasStart && hasEnd && !tr.End.After(tr.Start) {
		return nil, invalidFilter("<" + n.Name.Local + "> end must be after start")
	}
	return &tr, nil
}

func parseUTC(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"20060102T150405Z", "20060102T150405", "20060102"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	_, err := time.Parse("20060102T150405Z", s)
	return time.Time{}, err
}

// parseDataRequest reads a CALDAV:calendar-data element of a REPORT.
func parseDataRequest(n *node) (*ical.DataRequest, error) {
	if ct, ok := n.AttrValue("content-type"); ok && !strings.EqualFold(strings.TrimSpace(ct), "text/calendar") {
		return nil, errCond(http.StatusForbidden, nsCalDAV, "supported-calendar-data", "calendar-data is only available as text/calendar")
	}
	if v, ok := n.AttrValue("version"); ok && strings.TrimSpace(v) != "2.0" {
		return nil, errCond(http.StatusForbidden, nsCalDAV, "supported-calendar-data", "calendar-data is only available as iCalendar 2.0")
	}
	var dr ical.DataRequest
	for _, c := range n.Children {
		if c.Name.Space != nsCalDAV {
			continue
		}
		var err error
		switch c.Name.Local {
		case "comp":
			dr.Comp, err = parseCompSelect(c)
		case "expand":
			dr.Expand, err = parseTimeRange(c, true)
		case "limit-recurrence-set":
			dr.LimitRecurrenceSet, err = parseTimeRange(c, true)
		case "limit-freebusy-set":
			dr.LimitFreeBusySet, err = parseTimeRange(c, true)
		}
		if err != nil {
			return nil, err
		}
	}
	return &dr, nil
}

func parseCompSelect(n *node) (*ical.CompSelect, error) {
	name, _ := n.AttrValue("name")
	if strings.TrimSpace(name) == "" {
		return nil, errStatus(http.StatusBadRequest, "CALDAV:comp needs a name attribute")
	}
	cs := &ical.CompSelect{Name: strings.ToUpper(strings.TrimSpace(name))}
	for _, c := range n.Children {
		if c.Name.Space != nsCalDAV {
			continue
		}
		switch c.Name.Local {
		case "allprop":
			cs.AllProps = true
		case "prop":
			p, _ := c.AttrValue("name")
			if strings.TrimSpace(p) == "" {
				return nil, errStatus(http.StatusBadRequest, "CALDAV:prop needs a name attribute")
			}
			cs.Props = append(cs.Props, strings.ToUpper(strings.TrimSpace(p)))
		case "allcomp":
			cs.AllComps = true
		case "comp":
			sub, err := parseCompSelect(c)
			if err != nil {
				return nil, err
			}
			cs.Comps = append(cs.Comps, *sub)
		}
	}
	return cs, nil
}

// parseFilter reads a CALDAV:filter; its one comp-filter must name
// VCALENDAR (RFC 4791 §9.7).
func parseFilter(n *node) (ical.CompFilter, error) {
	var comps []*node
	for _, c := range n.Children {
		if c.is(nsCalDAV, "comp-filter") {
			comps = append(comps, c)
		}
	}
	if len(comps) != 1 {
		return ical.CompFilter{}, invalidFilter("CALDAV:filter needs exactly one comp-filter, for VCALENDAR")
	}
	f, err := parseCompFilter(comps[0])
	if err != nil {
		return f, err
	}
	if f.Name != "VCALENDAR" {
		return f, invalidFilter("the outer comp-filter must name VCALENDAR")
	}
	return f, nil
}

func filterName(n *node) (string, error) {
	name, _ := n.AttrValue("name")
	name = strings.ToUpper(strings.TrimSpace(name))
	if name == "" {
		return "", invalidFilter("CALDAV:" + n.Name.Local + " needs a name attribute")
	}
	return name, nil
}

func parseCompFilter(n *node) (ical.CompFilter, error) {
	var (
		f   ical.CompFilter
		err error
	)
	if f.Name, err = filterName(n); err != nil {
		return f, err
	}
	for _, c := range n.Children {
		if c.Name.Space != nsCalDAV {
			continue
		}
		switch c.Name.Local {
		case "is-not-defined":
			f.IsNotDefined = true
		case "time-range":
			if f.TimeRange != nil {
				return f, invalidFilter("a comp-filter has at most one time-range")
			}
			if f.TimeRange, err = parseTimeRange(c, false); err != nil {
				return f, err
			}
		case "prop-filter":
			pf, err := parsePropFilter(c)
			if err != nil {
				return f, err
			}
			f.Props = append(f.Props, pf)
		case "comp-filter":
			cf, err := parseCompFilter(c)
			if err != nil {
				return f, err
			}
			f.Comps = append(f.Comps, cf)
		}
	}
	if f.IsNotDefined && (f.TimeRange != nil || len(f.Props) > 0 || len(f.Comps) > 0) {
		return f, invalidFilter("is-not-defined stands alone in comp-filter " + f.Name)
	}
	return f, nil
}

func parsePropFilter(n *node) (ical.PropFilter, error) {
	var (
		f   ical.PropFilter
		err error
	)
	if f.Name, err = filterName(n); err != nil {
		return f, err
	}
	for _, c := range n.Children {
		if c.Name.Space != nsCalDAV {
			continue
		}
		switch c.Name.Local {
		case "is-not-defined":
			f.IsNotDefined = true
		case "time-range":
			if f.TimeRange, err = parseTimeRange(c, false); err != nil {
				return f, err
			}
		case "text-match":
			if f.TextMatch, err = parseTextMatch(c); err != nil {
				return f, err
			}
		case "param-filter":
			pf, err := parseParamFilter(c)
			if err != nil {
				return f, err
			}
			f.Params = append(f.Params, pf)
		}
	}
	if f.TimeRange != nil && f.TextMatch != nil {
		return f, invalidFilter("prop-filter " + f.Name + " has both time-range and text-match")
	}
	if f.IsNotDefined && (f.TimeRange != nil || f.TextMatch != nil || len(f.Params) > 0) {
		return f, invalidFilter("is-not-defined stands alone in prop-filter " + f.Name)
	}
	return f, nil
}

func parseParamFilter(n *node) (ical.ParamFilter, error) {
	var (
		f   ical.ParamFilter
		err error
	)
	if f.Name, err = filterName(n); err != nil {
		return f, err
	}
	for _, c := range n.Children {
		switch {
		case c.is(nsCalDAV, "is-not-defined"):
			f.IsNotDefined = true
		case c.is(nsCalDAV, "text-match"):
			if f.TextMatch, err = parseTextMatch(c); err != nil {
				return f, err
			}
		}
	}
	if f.IsNotDefined && f.TextMatch != nil {
		return f, invalidFilter("is-not-defined stands alone in param-filter " + f.Name)
	}
	return f, nil
}

func parseTextMatch(n *node) (*ical.TextMatch, error) {
	tm := &ical.TextMatch{Text: n.Text()}
	tm.Collation, _ = n.AttrValue("collation")
	tm.Collation = strings.TrimSpace(tm.Collation)
	if !collations[tm.Collation] {
		return nil, errCond(http.StatusForbidden, nsCalDAV, "supported-collation",
			"collation "+tm.Collation+" is not supported; use i;ascii-casemap, i;unicode-casemap or i;octet")
	}
	switch neg, _ := n.AttrValue("negate-condition"); strings.TrimSpace(neg) {
	case "yes":
		tm.Negate = true
	case "", "no":
	default:
		return nil, invalidFilter("negate-condition must be yes or no")
	}
	return tm, nil
}
