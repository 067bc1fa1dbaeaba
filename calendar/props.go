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
	pColor             = xml.Name{Space: nsApple, Local: "calendar-color"}
	pOrder             = xml.Name{Space: nsApple, Local: "calendar-order"}
	pCTag              = xml.Name{Space: nsCS, Local: "getctag"}
	pEmailAddressSet   = xml.Name{Space: nsCS, Local: "email-address-set"}
)

// liveProp is a property salon computes. allprop marks the RFC 4918 ones
// returned for DAV:allprop; the CalDAV and ACL ones are asked for by name
// (RFC 4791 §5.2, RFC 3744 §5) and calendar-data is never in allprop.
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
		lp(pPrivileges, false), lp(pSupportedReports, false),
	}
	principalProps = []liveProp{
		lp(pDisplayName, true), lp(pPrincipalURL, false), lp(pOwner, false), lp(pCalendarHomeSet, false),
		lp(pCalendarAddresses, false), lp(pCalendarUserType, false), lp(pEmailAddressSet, false),
		lp(pAlternateURIs, false), lp(pGroupMembership, false),
	}
	homeProps     = []liveProp{lp(pDisplayName, true), lp(pOwner, false)}
	calendarProps = []liveProp{
		{name: pDisplayName, allprop: true}, {name: pDescription}, {name: pColor, allprop: true},
		{name: pOrder, allprop: true}, {name: pTimezone}, lp(pComponentSet, false), lp(pSupportedData, false),
		lp(pOwner, false), lp(pCTag, false), lp(pSyncToken, false), lp(pMaxResourceSize, false),
		lp(pGetLastModified, true), lp(pCreationDate, true),
	}
	objectProps = []liveProp{
		lp(pGetETag, true), lp(pGetContentType, true), lp(pGetContentLength, true),
		lp(pGetLastModified, true), lp(pOwner, false), lp(pCalendarData, false),
	}
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
		case kindObject:
			return "", true
		}
		return "<D:collection/>", true
	case pCurrentPrincipal:
		return hrefElem(h.hrefs.principal(u.Name)), true
	case pPrincipalColl:
		return hrefElem(h.hrefs.principals()), true
	case pPrivileges:
		return privileges(res.kind), true
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
		if o, err = pc.h.parsed.parse(res.obj); err != nil {
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
)

func privilegeList(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString("<D:privilege><" + n + "/></D:privilege>")
	}
	return b.String()
}

// privileges is current-user-privilege-set (RFC 3744 §5.4): everything on
// one's own calendars, reading elsewhere.
func privileges(k kind) string {
	switch k {
	case kindHome, kindCalendar, kindObject:
		return fullPrivileges
	}
	return readPrivileges
}

func supportedReports(k kind) string {
	reports := []string{"D:expand-property", "D:principal-property-search", "D:principal-search-property-set"}
	switch k {
	case kindCalendar:
		reports = append(reports, "C:calendar-multiget", "C:calendar-query", "C:free-busy-query", "D:sync-collection")
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
			if n, ok := parsePropKey(k); ok {
				dead = append(dead, n)
			}
		}
		sort.Slice(dead, func(i, j int) bool { return propKey(dead[i]) < propKey(dead[j]) })
		names = append(names, dead...)
	}
	return names
}
