package calendar

import (
	"html"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/salonhq/salon/calendar/ical"
)

// This file holds the iTIP (RFC 5546) operations on a parsed object that
// scheduling needs: who organizes and who attends, what counts as a change
// worth telling attendees about, the meeting link salon stamps into events,
// and the messages (REQUEST, CANCEL, REPLY) made from an object. Nothing
// here touches the store.

// iTIP methods and participation states salon uses.
const (
	methodRequest = "REQUEST"
	methodCancel  = "CANCEL"
	methodReply   = "REPLY"
	methodRefresh = "REFRESH"
	methodCounter = "COUNTER"

	partNeedsAction = "NEEDS-ACTION"
	partAccepted    = "ACCEPTED"
	partTentative   = "TENTATIVE"
	partDeclined    = "DECLINED"
)

// X-SALON-MEETING holds the slug of an event's meeting room: the source of
// truth from which the other link properties are written on every save.
// An organizer who wants no room sets it to "none".
const (
	propMeeting     = "X-SALON-MEETING"
	meetingOptOut   = "none"
	propAltDesc     = "X-ALT-DESC"
	propConference  = "CONFERENCE"
	paramSchedAgent = "SCHEDULE-AGENT"
	paramSchedStat  = "SCHEDULE-STATUS"
	paramForceSend  = "SCHEDULE-FORCE-SEND"
)

// Scheduling statuses written on ATTENDEE properties (RFC 6638 §3.2.9).
const (
	statusPending   = "1.1" // sent, delivery not yet confirmed (e-mail)
	statusDelivered = "1.2" // in the attendee's salon inbox
	statusSuccess   = "2.0"
	statusInvalid   = "3.7" // not a calendar user address salon can reach
	statusNoSched   = "5.3" // SCHEDULE-AGENT=NONE or CLIENT
)

// address returns the e-mail address of a mailto: calendar user address,
// lower case, or "" when the value is not a usable mailto: URI.
func address(v string) string {
	v = strings.TrimSpace(v)
	if len(v) < 7 || !strings.EqualFold(v[:7], "mailto:") {
		return ""
	}
	a := strings.TrimSpace(v[7:])
	if a == "" || len(a) > 254 || strings.ContainsAny(a, "\r\n\t <>\",;") || strings.Count(a, "@") != 1 {
		return ""
	}
	if _, err := mail.ParseAddress(a); err != nil {
		return ""
	}
	return strings.ToLower(a)
}

// schedComponents returns the object's components of its own type: the
// master first when there is one, then the overridden instances.
func schedComponents(cal *goical.Calendar, comp string) []*goical.Component {
	var list []*goical.Component
	for _, c := range cal.Children {
		if c.Name == comp {
			list = append(list, c)
		}
	}
	slices.SortStableFunc(list, func(a, b *goical.Component) int {
		ra, rb := a.Props.Get(goical.PropRecurrenceID) != nil, b.Props.Get(goical.PropRecurrenceID) != nil
		switch {
		case ra == rb:
			return 0
		case !ra:
			return -1
		}
		return 1
	})
	return list
}

// organizerOf returns the ORGANIZER address of the first component that has
// one and that property.
func organizerOf(comps []*goical.Component) (string, *goical.Prop) {
	for _, c := range comps {
		if p := c.Props.Get(goical.PropOrganizer); p != nil {
			return address(p.Value), p
		}
	}
	return "", nil
}

// attendee is one ATTENDEE across the components of an object.
type attendee struct {
	addr     string // lower-case e-mail address; "" when not mailto
	value    string // the property value as written
	name     string // CN
	partStat string // of the master (or the first component listing them)
	agent    string // SCHEDULE-AGENT, upper case; "" means SERVER
	force    bool   // SCHEDULE-FORCE-SEND=REQUEST
}

// attendeesOf lists the attendees of all comps, each once, in order.
func attendeesOf(comps []*goical.Component) []attendee {
	var list []attendee
	seen := map[string]bool{}
	for _, c := range comps {
		for _, p := range c.Props.Values(goical.PropAttendee) {
			key := strings.ToLower(strings.TrimSpace(p.Value))
			if seen[key] {
				continue
			}
			seen[key] = true
			ps := strings.ToUpper(p.Params.Get(goical.ParamParticipationStatus))
			if ps == "" {
				ps = partNeedsAction
			}
			list = append(list, attendee{
				addr:     address(p.Value),
				value:    p.Value,
				name:     p.Params.Get(goical.ParamCommonName),
				partStat: ps,
				agent:    strings.ToUpper(p.Params.Get(paramSchedAgent)),
				force:    strings.EqualFold(p.Params.Get(paramForceSend), methodRequest),
			})
		}
	}
	return list
}

// eachAttendee calls f with a pointer to every ATTENDEE property of comps
// whose address is addr.
func eachAttendee(comps []*goical.Component, addr string, f func(p *goical.Prop)) {
	for _, c := range comps {
		ps := c.Props[goical.PropAttendee]
		for i := range ps {
			if address(ps[i].Value) == addr {
				f(&ps[i])
			}
		}
	}
}

// sequenceOf returns a component's SEQUENCE, 0 when absent or malformed.
func sequenceOf(c *goical.Component) int {
	if p := c.Props.Get(goical.PropSequence); p != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(p.Value)); err == nil && n >= 0 {
			return n
		}
	}
	return 0
}

func setSequence(c *goical.Component, n int) {
	c.Props.Set(&goical.Prop{Name: goical.PropSequence, Params: goical.Params{}, Value: strconv.Itoa(n)})
}

// recurrenceKey identifies a component within its object: "" for the
// master, the RECURRENCE-ID value for an overridden instance.
func recurrenceKey(c *goical.Component) string {
	if p := c.Props.Get(goical.PropRecurrenceID); p != nil {
		return p.Params.Get(goical.ParamTimezoneID) + ":" + p.Value
	}
	return ""
}

// propText renders the listed properties of c, for comparing versions.
func propText(c *goical.Component, names ...string) string {
	var b strings.Builder
	for _, n := range names {
		for _, p := range c.Props.Values(n) {
			b.WriteString(n)
			for _, k := range sortedParamNames(p.Params) {
				b.WriteString(";" + k + "=" + strings.Join(p.Params[k], ","))
			}
			b.WriteString(":" + p.Value + "\n")
		}
	}
	return b.String()
}

func sortedParamNames(ps goical.Params) []string {
	names := make([]string, 0, len(ps))
	for k := range ps {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// significant is what makes an attendee's answer stale when it changes
// (RFC 5546 §2.1.4): the time, the recurrence, the place, who attends and
// whether it happens. A change to it bumps SEQUENCE.
func significant(c *goical.Component, link meetingLink) string {
	loc := ""
	if p := c.Props.Get(goical.PropLocation); p != nil && p.Value != link.url {
		loc = p.Value
	}
	var who []string
	for _, a := range attendeesOf([]*goical.Component{c}) {
		who = append(who, strings.ToLower(a.value))
	}
	slices.Sort(who)
	return propText(c, goical.PropDateTimeStart, goical.PropDateTimeEnd, goical.PropDuration, goical.PropDue,
		goical.PropRecurrenceRule, goical.PropRecurrenceDates, goical.PropExceptionDates, goical.PropStatus) +
		"LOCATION:" + loc + "\nATTENDEES:" + strings.Join(who, ",")
}

// volatile properties change on every save without meaning anything to
// attendees.
var volatile = map[string]bool{
	goical.PropDateTimeStamp: true, goical.PropLastModified: true, goical.PropSequence: true,
	goical.PropAttendee: true, goical.PropCreated: true, propAltDesc: true,
}

// content is everything attendees see of a component, for telling a save
// that changed nothing they care about (an organizer's client rewriting
// DTSTAMP, an alarm) from one that did.
func content(c *goical.Component, link meetingLink) string {
	var names []string
	for n := range c.Props {
		if !volatile[n] && !strings.HasPrefix(n, "X-MOZ-") && !strings.HasPrefix(n, "X-APPLE-") && !strings.HasPrefix(n, "X-LIC-") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	s := propText(c, names...)
	if link.url != "" {
		s = strings.ReplaceAll(s, link.url, "")
	}
	return significant(c, link) + "\n" + s
}

// meetingLink is an event's meeting room as stamped into it.
type meetingLink struct {
	slug  string
	url   string // PublicURL/m/{slug}
	label string // CONFERENCE LABEL and the DESCRIPTION block's words
	lang  string
}

// Delimiters of the block salon writes at the end of DESCRIPTION. They are
// matched line by line, so clients that rewrap text elsewhere do not stop
// the block from being replaced rather than duplicated.
const (
	descStart = "-- salon meeting ------------------------------"
	descEnd   = "-----------------------------------------------"
)

// stripMeetingBlock removes salon's block (and the blank lines before it)
// from a DESCRIPTION.
func stripMeetingBlock(desc string) string {
	norm := strings.ReplaceAll(desc, "\r\n", "\n")
	lines := strings.Split(norm, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == descStart {
			start = i
			break
		}
	}
	if start < 0 {
		return desc
	}
	end := len(lines) - 1
	for i := start + 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == descEnd {
			end = i
			break
		}
	}
	rest := append(slices.Clone(lines[:start]), lines[end+1:]...)
	return strings.TrimRight(strings.Join(rest, "\n"), "\n ")
}

// joinWords are the words of the DESCRIPTION block in each language.
var joinWords = map[string][2]string{
	"en": {"Join the video meeting:", "salon video meeting"},
	"fr": {"Rejoindre la réunion vidéo :", "Réunion vidéo salon"},
}

func wordsFor(lang string) [2]string {
	if w, ok := joinWords[lang]; ok {
		return w
	}
	return joinWords["en"]
}

// stampMeeting writes the meeting link into c in every form clients read
// (none reads one property alone): CONFERENCE (RFC 7986), URL, LOCATION
// when empty, a delimited block at the end of DESCRIPTION, X-ALT-DESC for
// Outlook, and X-SALON-MEETING. Earlier salon links are replaced.
func stampMeeting(c *goical.Component, link meetingLink, publicPrefix string) {
	c.Props.Set(&goical.Prop{Name: propMeeting, Params: goical.Params{}, Value: link.slug})

	var confs []goical.Prop
	for _, p := range c.Props.Values(propConference) {
		if !strings.HasPrefix(p.Value, publicPrefix) {
			confs = append(confs, p)
		}
	}
	confs = append(confs, goical.Prop{Name: propConference, Value: link.url, Params: goical.Params{
		goical.ParamValue: {"URI"}, "FEATURE": {"VIDEO", "AUDIO"}, "LABEL": {link.label},
	}})
	c.Props[propConference] = confs

	if p := c.Props.Get(goical.PropURL); p == nil || strings.HasPrefix(p.Value, publicPrefix) {
		c.Props.Set(&goical.Prop{Name: goical.PropURL, Params: goical.Params{goical.ParamValue: {"URI"}}, Value: link.url})
	}
	if p := c.Props.Get(goical.PropLocation); p == nil || strings.TrimSpace(p.Value) == "" || strings.HasPrefix(p.Value, publicPrefix) {
		c.Props.SetText(goical.PropLocation, link.url)
	}

	desc, _ := c.Props.Text(goical.PropDescription)
	desc = stripMeetingBlock(desc)
	words := wordsFor(link.lang)
	block := descStart + "\n" + words[0] + "\n" + link.url + "\n" + descEnd
	full := block
	if strings.TrimSpace(desc) != "" {
		full = desc + "\n\n" + block
	}
	params := goical.Params{}
	if p := c.Props.Get(goical.PropDescription); p != nil {
		params = p.Params // keep LANGUAGE, ALTREP
	}
	dp := goical.Prop{Name: goical.PropDescription, Params: params}
	dp.SetText(full)
	c.Props.Set(&dp)

	var h strings.Builder
	h.WriteString("<html><body>")
	if strings.TrimSpace(desc) != "" {
		h.WriteString("<p>" + strings.ReplaceAll(html.EscapeString(desc), "\n", "<br>") + "</p>")
	}
	h.WriteString(`<p><a href="` + html.EscapeString(link.url) + `">` + html.EscapeString(words[0]) + "</a><br>" + html.EscapeString(link.url) + "</p></body></html>")
	ap := goical.Prop{Name: propAltDesc, Params: goical.Params{"FMTTYPE": {"text/html"}}}
	ap.SetText(h.String())
	c.Props.Set(&ap)
}

// descriptionOf returns a component's DESCRIPTION without salon's block.
func descriptionOf(c *goical.Component) string {
	d, _ := c.Props.Text(goical.PropDescription)
	return stripMeetingBlock(d)
}

// cloneCalendar deep-copies a calendar so that messages made from it do
// not change it.
func cloneCalendar(cal *goical.Calendar) *goical.Calendar {
	return &goical.Calendar{Component: cloneComponent(cal.Component)}
}

func cloneComponent(c *goical.Component) *goical.Component {
	n := &goical.Component{Name: c.Name, Props: make(goical.Props, len(c.Props))}
	for k, ps := range c.Props {
		cp := make([]goical.Prop, len(ps))
		for i, p := range ps {
			cp[i] = goical.Prop{Name: p.Name, Value: p.Value, Params: make(goical.Params, len(p.Params))}
			for pk, pv := range p.Params {
				cp[i].Params[pk] = slices.Clone(pv)
			}
		}
		n.Props[k] = cp
	}
	for _, ch := range c.Children {
		n.Children = append(n.Children, cloneComponent(ch))
	}
	return n
}

// itipMessage turns an object into an iTIP message of method: METHOD set,
// alarms and organizer-only parameters dropped (RFC 6638 §3.2.9 says
// SCHEDULE-STATUS is for the organizer's copy), VTIMEZONEs kept.
func itipMessage(cal *goical.Calendar, comp, method, stamp string) *goical.Calendar {
	m := cloneCalendar(cal)
	m.Props.Set(&goical.Prop{Name: goical.PropMethod, Params: goical.Params{}, Value: method})
	if m.Props.Get(goical.PropProductID) == nil {
		m.Props.SetText(goical.PropProductID, prodID)
	}
	for _, c := range m.Children {
		if c.Name != comp {
			continue
		}
		c.Children = slices.DeleteFunc(c.Children, func(ch *goical.Component) bool { return ch.Name == goical.CompAlarm })
		stripOrganizerParams(c)
		// RFC 5546 §3.2: DTSTAMP of a message is when it was made.
		c.Props.Set(&goical.Prop{Name: goical.PropDateTimeStamp, Params: goical.Params{}, Value: stamp})
	}
	addMissingTimezones(m)
	return m
}

// tzProps are the properties whose TZID parameter names a zone.
var tzProps = []string{goical.PropDateTimeStart, goical.PropDateTimeEnd, goical.PropDue, goical.PropRecurrenceID,
	goical.PropExceptionDates, goical.PropRecurrenceDates}

// addMissingTimezones adds a VTIMEZONE for every TZID the message uses and
// does not define: CalDAV clients may leave standard zones out (RFC 7809),
// mail recipients cannot look them up (RFC 6047 §3: every referenced zone
// goes in the message).
func addMissingTimezones(cal *goical.Calendar) {
	defined := map[string]bool{}
	for _, c := range cal.Children {
		if c.Name == goical.CompTimezone {
			if id, _ := c.Props.Text(goical.PropTimezoneID); id != "" {
				defined[id] = true
			}
		}
	}
	var add []*goical.Component
	for _, c := range cal.Children {
		if c.Name == goical.CompTimezone {
			continue
		}
		for _, name := range tzProps {
			for _, p := range c.Props.Values(name) {
				id := p.Params.Get(goical.ParamTimezoneID)
				if id == "" || defined[id] {
					continue
				}
				defined[id] = true
				loc := ical.ResolveTZID(id, nil)
				if loc == nil {
					continue
				}
				from, err := time.ParseInLocation("20060102", firstN(p.Value, 8), loc)
				if err != nil {
					from = time.Now()
				}
				add = append(add, ical.VTimezone(id, loc, from))
			}
		}
	}
	cal.Children = append(add, cal.Children...)
}

func firstN(s string, n int) string {
	if len(s) < n {
		return s
	}
	return s[:n]
}

// stripOrganizerParams removes what only the organizer's copy carries.
func stripOrganizerParams(c *goical.Component) {
	for _, name := range []string{goical.PropAttendee, goical.PropOrganizer} {
		ps := c.Props[name]
		for i := range ps {
			ps[i].Params.Del(paramSchedStat)
			ps[i].Params.Del(paramForceSend)
		}
	}
}

// prodID names salon in the PRODID of the messages it writes.
const prodID = "-//salon//salon scheduling//EN"

// cancelMessage is the CANCEL of an object for its attendees: every
// component with STATUS:CANCELLED and a higher SEQUENCE (RFC 5546 §3.2.5).
func cancelMessage(cal *goical.Calendar, comp, stamp string) *goical.Calendar {
	m := itipMessage(cal, comp, methodCancel, stamp)
	for _, c := range m.Children {
		if c.Name == comp {
			c.Props.SetText(goical.PropStatus, "CANCELLED")
			setSequence(c, sequenceOf(c)+1)
		}
	}
	return m
}

// replyMessage is an attendee's REPLY (RFC 5546 §3.2.3): per component the
// UID, RECURRENCE-ID, SEQUENCE, ORGANIZER, times and summary, and only the
// replying attendee, with their PARTSTAT.
func replyMessage(cal *goical.Calendar, comp, addr, partStat string, stamp string) *goical.Calendar {
	m := &goical.Calendar{Component: &goical.Component{Name: goical.CompCalendar, Props: goical.Props{}}}
	m.Props.SetText(goical.PropVersion, "2.0")
	m.Props.SetText(goical.PropProductID, prodID)
	m.Props.Set(&goical.Prop{Name: goical.PropMethod, Params: goical.Params{}, Value: methodReply})
	for _, c := range cal.Children {
		if c.Name == goical.CompTimezone {
			m.Children = append(m.Children, cloneComponent(c))
		}
	}
	for _, c := range schedComponents(cal, comp) {
		r := &goical.Component{Name: comp, Props: goical.Props{}}
		for _, n := range []string{goical.PropUID, goical.PropRecurrenceID, goical.PropSequence, goical.PropOrganizer,
			goical.PropDateTimeStart, goical.PropDateTimeEnd, goical.PropDuration, goical.PropSummary, goical.PropRecurrenceRule} {
			for _, p := range c.Props.Values(n) {
				cp := cloneProp(p)
				r.Props.Add(&cp)
			}
		}
		r.Props.Set(&goical.Prop{Name: goical.PropDateTimeStamp, Params: goical.Params{}, Value: stamp})
		found := false
		for _, p := range c.Props.Values(goical.PropAttendee) {
			if address(p.Value) == addr {
				cp := cloneProp(p)
				cp.Params.Set(goical.ParamParticipationStatus, partStat)
				cp.Params.Del(goical.ParamRSVP)
				cp.Params.Del(paramSchedStat)
				r.Props.Add(&cp)
				found = true
				break
			}
		}
		if found {
			m.Children = append(m.Children, r)
		}
	}
	return m
}

func cloneProp(p goical.Prop) goical.Prop {
	cp := goical.Prop{Name: p.Name, Value: p.Value, Params: make(goical.Params, len(p.Params))}
	for k, v := range p.Params {
		cp.Params[k] = slices.Clone(v)
	}
	return cp
}

// encodeCalendar writes cal as salon writes every object it changes.
func encodeCalendar(cal *goical.Calendar) []byte { return ical.Encode(cal) }
