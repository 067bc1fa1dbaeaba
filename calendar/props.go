package calendar

import (
	"encoding/xml"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/salonhq/salon/calendar/ical"
	"github.com/salonhq/salon/internal/auth"
)

// resource is one thing PROPFIND and REPORT describe.
type resource struct {
	kind kind
	href string
	user auth.User // the owner, who is also the signed-in user
	cal  *Calendar
	info ObjectInfo // objects: always set
	obj  *Object    // objects: set when the data was loaded
	// parsed is obj's data parsed, when the caller already has it.
	parsed *ical.Object
}

// propReq is one property asked for; data is set for a CALDAV:calendar-data
// in a REPORT that asks for part of the object.
type propReq struct {
	name xml.Name
	data *ical.DataRequest
}

func davName(local string) xml.Name    { return xml.Name{Space: nsDAV, Local: local} }
func calDAVName(local string) xml.Name { return xml.Name{Space: nsCalDAV, Local: local} }

var (
	pResourceType      = davName("resourcetype")
	pDisplayName       = davName("displayname")
	pGetETag           = davName("getetag")
	pGetContentType    = davName("getcontenttype")
	pGetContentLength  = davName("getcontentlength")
	pGetLastModified   = davName("getlastmodified")
	pCreationDate      = davName("creationdate")
	pCurrentPrincipal  = davName("current-user-principal")
	pPrincipalURL      = davName("principal-URL")
	pPrincipalColl     = davName("principal-collection-set")
	pPrivileges        = davName("current-user-privilege-set")
	pOwner             = davName("owner")
	pSupportedReports  = davName("supported-report-set")
	pSyncToken         = davName("sync-token")
	pAlternateURIs     = davName("alternate-URI-set")
	pGroupMembership   = davName("group-membership")
	pCalendarData      = calDAVName("calendar-data")
	pCalendarHomeSet   = calDAVName("calendar-home-set")
	pCalendarAddresses = calDAVName("calendar-user-address-set")
	pCalendarUserType  = calDAVName("calendar-user-type")
	pDescription       = calDAVName("calendar-description")
	pTimezone          = calDAVName("calendar-timezone")
	pComponentSet      = calDAVName("supported-calendar-component-set")
	pSupportedData     = calDAVName("supported-calendar-data")
	pMaxResourceSize   = calDAVName("max-resource-size")
	pSupportedPrivs    = davName("supported-privilege-set")
	pScheduleInboxURL  = calDAVName("schedule-inbox-URL")
	pScheduleOutboxURL = calDAVName("schedule-outbox-URL")
	pScheduleDefault   = calDAVName("schedule-default-calendar-URL")
	pScheduleTransp    = calDAVName("schedule-calendar-transp")
	pScheduleTag       = calDAVName("schedule-tag")
	pColor             = xml.Name{Space: nsApple, Local: "calendar-color"}
	pOrder             = xml.Name{Space: nsApple, Local: "calendar-order"}
	pCTag              = xml.Name{Space: nsCS, Local: "getctag"}
	pEmailAddressSet   = xml.Name{Space: nsCS, Local: "email-address-set"}
)

// liveProp is a property salon computes. allprop marks the RFC 4918 ones
// returned for DAV:allprop; the CalDAV, scheduling and ACL ones are asked
// for by name (RFC 4791 §5.2, RFC 6638 §2 and §9, RFC 3744 §5) and
// calendar-data is never in allprop.
type liveProp struct {
	name    xml.Name
	allprop bool
	// protected properties cannot be set by PROPPATCH.
	protected bool
}

func lp(n xml.Name, allprop bool) liveProp {
	return liveProp{name: n, allprop: allprop, protected: true}
}

var (
	commonProps = []liveProp{
		lp(pResourceType, true), lp(pCurrentPrincipal, false), lp(pPrincipalColl, false),
		lp(pPrivileges, false), lp(pSupportedPrivs, false), lp(pSupportedReports, false),
	}
	principalProps = []liveProp{
		lp(pDisplayName, true), lp(pPrincipalURL, false), lp(pOwner, false), lp(pCalendarHomeSet, false),
		lp(pCalendarAddresses, false), lp(pCalendarUserType, false), lp(pEmailAddressSet, false),
		lp(pAlternateURIs, false), lp(pGroupMembership, false),
		lp(pScheduleInboxURL, false), lp(pScheduleOutboxURL, false),
	}
	homeProps     = []liveProp{lp(pDisplayName, true), lp(pOwner, false)}
	calendarProps = []liveProp{
		{name: pDisplayName, allprop: true}, {name: pDescription}, {name: pColor, allprop: true},
		{name: pOrder, allprop: true}, {name: pTimezone}, lp(pComponentSet, false), lp(pSupportedData, false),
		lp(pOwner, false), lp(pCTag, false), lp(pSyncToken, false), lp(pMaxResourceSize, false),
		lp(pGetLastModified, true), lp(pCreationDate, true), {name: pScheduleTransp},
	}
	objectProps = []liveProp{
		lp(pGetETag, true), lp(pGetContentType, true), lp(pGetContentLength, true),
		lp(pGetLastModified, true), lp(pOwner, false), lp(pCalendarData, false), lp(pScheduleTag, false),
	}
	// The scheduling collections (RFC 6638 §2.1, §2.2) are not calendars:
	// neither has the calendar's properties, and only the inbox has members.
	inboxProps = []liveProp{
		lp(pDisplayName, true), lp(pOwner, false), lp(pCTag, false), lp(pSyncToken, false),
		lp(pComponentSet, false), lp(pScheduleDefault, false),
	}
	outboxProps = []liveProp{lp(pDisplayName, true), lp(pOwner, false)}
)

func liveProps(k kind) []liveProp {
	props := append([]liveProp(nil), commonProps...)
	switch k {
	case kindPrincipal:
		props = append(props, principalProps...)
	case kindHome:
		props = append(props, homeProps...)
	case kindCalendar:
		props = append(props, calendarProps...)
	case kindObject:
		props = append(props, objectProps...)
	case kindInbox:
		props = append(props, inboxProps...)
	case kindOutbox:
		props = append(props, outboxProps...)
	}
	return props
}

func findLive(k kind, n xml.Name) (liveProp, bool) {
	for _, p := range liveProps(k) {
		if p.name == n {
			return p, true
		}
	}
	return liveProp{}, false
}

// propCtx carries what property values need beyond the resource.
type propCtx struct {
	h    *Handler
	r    *request
	tz   map[int64]*time.Location // floating-time zone per calendar
	errs []error                  // non-fatal problems, logged once
}

func (h *Handler) newPropCtx(r *request) *propCtx {
	return &propCtx{h: h, r: r, tz: map[int64]*time.Location{}}
}

// value returns the inner XML of property p on res, or ok false when the
// resource does not have it (404 in the propstat).
func (pc *propCtx) value(res *resource, p propReq) (inner string, ok bool) {
	h, u := pc.h, pc.r.user
	if _, live := findLive(res.kind, p.name); !live {
		if res.cal != nil && res.kind == kindCalendar {
			v, ok := res.cal.DeadProps[propKey(p.name)]
			return v, ok
		}
		return "", false
	}
	switch p.name {
	case pResourceType:
		switch res.kind {
		case kindPrincipal:
			return "<D:collection/><D:principal/>", true
		case kindCalendar:
			return "<D:collection/><C:calendar/>", true
		case kindInbox:
			return "<D:collection/><C:schedule-inbox/>", true
		case kindOutbox:
			return "<D:collection/><C:schedule-outbox/>", true
		case kindObject:
			return "", true
		}
		return "<D:collection/>", true
	case pCurrentPrincipal:
		return hrefElem(h.hrefs.principal(u.Name)), true
	case pPrincipalColl:
		return hrefElem(h.hrefs.principals()), true
	case pPrivileges:
		return privileges(res), true
	case pSupportedPrivs:
		return supportedPrivileges(res), true
	case pSupportedReports:
		return supportedReports(res.kind), true
	case pOwner:
		return hrefElem(h.hrefs.principal(res.user.Name)), true
	}
	switch res.kind {
	case kindPrincipal:
		return pc.principalValue(res, p.name)
	case kindHome:
		if p.name == pDisplayName {
			return escapeText(displayName(res.user)), true
		}
	case kindCalendar:
		return pc.calendarValue(res.cal, p.name)
	case kindObject:
		return pc.objectValue(res, p)
	case kindInbox:
		return pc.inboxValue(res, p.name)
	case kindOutbox:
		if p.name == pDisplayName {
			return "Scheduling outbox", true
		}
	}
	return "", false
}

func displayName(u auth.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Name
}

func (pc *propCtx) principalValue(res *resource, n xml.Name) (string, bool) {
	u, hr := res.user, pc.h.hrefs
	switch n {
	case pDisplayName:
		return escapeText(displayName(u)), true
	case pPrincipalURL:
		return hrefElem(hr.principal(u.Name)), true
	case pCalendarHomeSet:
		return hrefElem(hr.home(u.Name)), true
	case pCalendarAddresses:
		v := hrefElem(hr.principal(u.Name))
		if u.Email != "" {
			v = hrefElem("mailto:"+u.Email) + v
		}
		return v, true
	case pCalendarUserType:
		return "INDIVIDUAL", true
	case pEmailAddressSet:
		if u.Email == "" {
			return "", true
		}
		return "<CS:email-address>" + escapeText(u.Email) + "</CS:email-address>", true
	case pAlternateURIs, pGroupMembership:
		return "", true
	case pScheduleInboxURL:
		return hrefElem(hr.calendar(u.Name, InboxName)), true
	case pScheduleOutboxURL:
		return hrefElem(hr.calendar(u.Name, OutboxName)), true
	}
	return "", false
}

func (pc *propCtx) calendarValue(c *Calendar, n xml.Name) (string, bool) {
	switch n {
	case pDisplayName:
		return escapeText(c.DisplayName), c.DisplayName != ""
	case pDescription:
		return escapeText(c.Description), c.Description != ""
	case pColor:
		return escapeText(c.Color), c.Color != ""
	case pOrder:
		return strconv.Itoa(c.Order), c.Order != 0
	case pTimezone:
		return escapeText(c.Timezone), c.Timezone != ""
	case pComponentSet:
		var b strings.Builder
		for _, comp := range componentsOf(c) {
			b.WriteString(`<C:comp name="` + escapeAttr(comp) + `"/>`)
		}
		return b.String(), true
	case pSupportedData:
		return `<C:calendar-data content-type="text/calendar" version="2.0"/>`, true
	case pCTag:
		return escapeText(syncToken(c)), true
	case pSyncToken:
		return escapeText(syncToken(c)), true
	case pMaxResourceSize:
		return strconv.FormatInt(pc.h.cfg.MaxResourceSize, 10), true
	case pGetLastModified:
		return httpTime(c.UpdatedAt), !c.UpdatedAt.IsZero()
	case pCreationDate:
		return c.CreatedAt.UTC().Format(time.RFC3339), !c.CreatedAt.IsZero()
	case pScheduleTransp:
		if isTransparent(c) {
			return transpTransparent, true
		}
		return transpOpaque, true
	}
	return "", false
}

func (pc *propCtx) objectValue(res *resource, p propReq) (string, bool) {
	switch p.name {
	case pGetETag:
		return escapeText(res.info.ETag), true
	case pGetContentType:
		ct := "text/calendar; charset=utf-8"
		if res.obj != nil && res.obj.Component != "" {
			ct += "; component=" + strings.ToLower(res.obj.Component)
		}
		return escapeText(ct), true
	case pGetContentLength:
		return strconv.Itoa(res.info.Size), true
	case pGetLastModified:
		return httpTime(res.info.Modified), !res.info.Modified.IsZero()
	case pCalendarData:
		if res.obj == nil {
			return "", false
		}
		return escapeText(string(pc.calendarData(res, p.data))), true
	case pScheduleTag:
		// RFC 6638 §9.3: only scheduling object resources have one.
		if res.obj == nil || res.obj.ScheduleTag == "" {
			return "", false
		}
		return escapeText(res.obj.ScheduleTag), true
	}
	return "", false
}

// calendarData returns the object's data as a REPORT asked for it. Stored
// data that cannot be rendered is returned as stored: a client is better
// served by the whole object than by an error.
func (pc *propCtx) calendarData(res *resource, dr *ical.DataRequest) []byte {
	if dr == nil || (dr.Comp == nil && dr.Expand == nil && dr.LimitRecurrenceSet == nil && dr.LimitFreeBusySet == nil) {
		return res.obj.Data
	}
	o := res.parsed
	if o == nil {
		var err error
		if o, err = pc.h.parseStored(res.cal, res.obj); err != nil {
			pc.r.log.WarnContext(pc.r.Context(), "stored object does not parse; returned as stored", "object", res.href, "err", err)
			return res.obj.Data
		}
	}
	out, err := ical.Render(o, res.obj.Data, *dr, pc.floating(res.cal))
	if err != nil {
		pc.r.log.WarnContext(pc.r.Context(), "cannot render partial calendar-data; returned as stored", "object", res.href, "err", err)
		return res.obj.Data
	}
	return out
}

// floating returns the zone floating times of c are read in: its
// calendar-timezone (RFC 4791 §5.2.2), or UTC.
func (pc *propCtx) floating(c *Calendar) *time.Location {
	if c == nil {
		return time.UTC
	}
	if loc, ok := pc.tz[c.ID]; ok {
		return loc
	}
	loc := floatingZone(c.Timezone)
	pc.tz[c.ID] = loc
	return loc
}

func componentsOf(c *Calendar) []string {
	if len(c.Components) == 0 {
		return defaultComponents
	}
	return c.Components
}

// defaultComponents are the component types of a calendar created without
// a supported-calendar-component-set.
var defaultComponents = []string{"VEVENT", "VTODO", "VJOURNAL"}

func httpTime(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

var (
	fullPrivileges = privilegeList("D:read", "D:write", "D:write-properties", "D:write-content",
		"D:bind", "D:unbind", "D:read-current-user-privilege-set", "C:read-free-busy", "D:all")
	readPrivileges = privilegeList("D:read", "D:read-current-user-privilege-set")
	// RFC 6638 §6.1: the owner reads the inbox, removes what they have
	// dealt with, and salon delivers to it on their behalf.
	inboxPrivileges = privilegeList("D:read", "D:read-current-user-privilege-set", "D:unbind",
		"C:schedule-deliver", "C:schedule-deliver-invite", "C:schedule-deliver-reply", "C:schedule-query-freebusy")
	// RFC 6638 §6.2: the owner sends from the outbox.
	outboxPrivileges = privilegeList("D:read", "D:read-current-user-privilege-set",
		"C:schedule-send", "C:schedule-send-invite", "C:schedule-send-reply", "C:schedule-send-freebusy")
)

func privilegeList(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString("<D:privilege><" + n + "/></D:privilege>")
	}
	return b.String()
}

// privileges is current-user-privilege-set (RFC 3744 §5.4): everything on
// one's own calendars, reading elsewhere; the scheduling collections have
// their own (RFC 6638 §6), and a message in the inbox is only read, then
// removed through the inbox's DAV:unbind.
func privileges(res *resource) string {
	switch res.kind {
	case kindObject:
		if res.cal != nil && res.cal.Kind == KindInbox {
			return readPrivileges
		}
		return fullPrivileges
	case kindHome, kindCalendar:
		return fullPrivileges
	case kindInbox:
		return inboxPrivileges
	case kindOutbox:
		return outboxPrivileges
	}
	return readPrivileges
}

// privilege is one node of a DAV:supported-privilege-set tree (RFC 3744
// §5.3): a privilege and those it aggregates.
type privilege struct {
	name string // prefixed, as in privilegeList
	desc string
	sub  []privilege
}

func (p privilege) write(b *strings.Builder) {
	b.WriteString("<D:supported-privilege><D:privilege><" + p.name + "/></D:privilege>" +
		`<D:description xml:lang="en">` + p.desc + "</D:description>")
	for _, s := range p.sub {
		s.write(b)
	}
	b.WriteString("</D:supported-privilege>")
}

var (
	readPrivilege = privilege{"D:read", "Read", []privilege{
		{"D:read-current-user-privilege-set", "Read your own privileges", nil},
	}}
	calendarPrivileges = privilege{"D:all", "Everything", []privilege{
		// RFC 4791 §6.1.1: read-free-busy is aggregated under read.
		{"D:read", "Read", []privilege{
			{"D:read-current-user-privilege-set", "Read your own privileges", nil},
			{"C:read-free-busy", "Read free-busy time", nil},
		}},
		{"D:write", "Write", []privilege{
			{"D:write-properties", "Write properties", nil},
			{"D:write-content", "Write content", nil},
			{"D:bind", "Add members", nil},
			{"D:unbind", "Remove members", nil},
		}},
	}}
	inboxPrivilegeTree = []privilege{readPrivilege, {"D:unbind", "Remove messages", nil},
		{"C:schedule-deliver", "Deliver scheduling messages", []privilege{
			{"C:schedule-deliver-invite", "Deliver invitations", nil},
			{"C:schedule-deliver-reply", "Deliver replies", nil},
			{"C:schedule-query-freebusy", "Ask for free-busy time", nil},
		}}}
	outboxPrivilegeTree = []privilege{readPrivilege,
		{"C:schedule-send", "Send scheduling messages", []privilege{
			{"C:schedule-send-invite", "Send invitations", nil},
			{"C:schedule-send-reply", "Send replies", nil},
			{"C:schedule-send-freebusy", "Ask others for free-busy time", nil},
		}}}
)

// supportedPrivileges is DAV:supported-privilege-set (RFC 3744 §5.3),
// with the scheduling privileges of RFC 6638 §6 on the inbox and outbox.
func supportedPrivileges(res *resource) string {
	var tree []privilege
	switch res.kind {
	case kindHome, kindCalendar, kindObject:
		tree = []privilege{calendarPrivileges}
	case kindInbox:
		tree = inboxPrivilegeTree
	case kindOutbox:
		tree = outboxPrivilegeTree
	default:
		tree = []privilege{readPrivilege}
	}
	var b strings.Builder
	for _, p := range tree {
		p.write(&b)
	}
	return b.String()
}

func supportedReports(k kind) string {
	reports := []string{"D:expand-property", "D:principal-property-search", "D:principal-search-property-set"}
	switch k {
	case kindCalendar:
		reports = append(reports, "C:calendar-multiget", "C:calendar-query", "C:free-busy-query", "D:sync-collection")
	case kindInbox:
		reports = append(reports, "C:calendar-multiget", "C:calendar-query", "D:sync-collection")
	case kindObject:
		reports = append(reports, "C:calendar-multiget", "C:calendar-query")
	}
	var b strings.Builder
	for _, r := range reports {
		b.WriteString("<D:supported-report><D:report><" + r + "/></D:report></D:supported-report>")
	}
	return b.String()
}

// allNames lists every property res has, for DAV:propname and DAV:allprop.
func allNames(res *resource, onlyAllprop bool) []xml.Name {
	var names []xml.Name
	for _, p := range liveProps(res.kind) {
		if !onlyAllprop || p.allprop {
			names = append(names, p.name)
		}
	}
	if res.kind == kindCalendar && res.cal != nil {
		var dead []xml.Name
		for k := range res.cal.DeadProps {
			// schedule-calendar-transp is kept with the dead properties but
			// listed as the live property it is.
			if n, ok := parsePropKey(k); ok && n != pScheduleTransp {
				dead = append(dead, n)
			}
		}
		sort.Slice(dead, func(i, j int) bool { return propKey(dead[i]) < propKey(dead[j]) })
		names = append(names, dead...)
	}
	return names
}
