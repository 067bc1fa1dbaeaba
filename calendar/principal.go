package calendar

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// Reports about principals that clients send during discovery. Some
// clients give up on an account when one of them errors, so they answer
// what they can: another user's principal is simply not there.

// expandReq is one DAV:property of an expand-property report.
type expandReq struct {
	name xml.Name
	sub  []expandReq
}

func parseExpandReqs(n *node) []expandReq {
	var reqs []expandReq
	for _, c := range n.Children {
		if !c.is(nsDAV, "property") {
			continue
		}
		local, _ := c.AttrValue("name")
		ns, ok := c.AttrValue("namespace")
		if !ok {
			ns = nsDAV
		}
		if local == "" {
			continue
		}
		reqs = append(reqs, expandReq{name: xml.Name{Space: ns, Local: local}, sub: parseExpandReqs(c)})
	}
	return reqs
}

// maxExpandLevel bounds how deep expand-property follows hrefs.
const maxExpandLevel = 3

// expandProperty answers DAV:expand-property (RFC 3253 §3.8): href-valued
// properties are replaced by responses describing their targets.
func (h *Handler) expandProperty(w http.ResponseWriter, r *request, root *node) error {
	ms := newMultistatus()
	self, err := h.resourceOf(r)
	if err != nil {
		return err
	}
	pc := h.newPropCtx(r)
	ms.response(self.href, h.expanded(pc, self, parseExpandReqs(root), 0)...)
	ms.write(w)
	return nil
}

func (h *Handler) expanded(pc *propCtx, res *resource, reqs []expandReq, level int) []propstat {
	ok := propstat{status: http.StatusOK}
	missing := propstat{status: http.StatusNotFound}
	for _, req := range reqs {
		v, found := pc.value(res, propReq{name: req.name})
		if !found {
			missing.props = append(missing.props, emptyTag(req.name))
			continue
		}
		targets := h.hrefTargets(pc, res, req.name)
		if len(req.sub) == 0 || targets == nil || level >= maxExpandLevel {
			ok.props = append(ok.props, propElement(req.name, v))
			continue
		}
		var inner strings.Builder
		for _, hr := range targets {
			t, err := parseHref(h.cfg.Prefix, hr)
			var child *resource
			if err == nil && (t.user == "" || t.user == pc.r.user.Name) {
				child, err = h.resourceAt(pc.r, t)
			}
			if err != nil || child == nil {
				inner.WriteString("<D:response>" + hrefElem(hr) + "<D:status>" + statusLine(http.StatusNotFound) + "</D:status></D:response>")
				continue
			}
			inner.WriteString(responseXML(child.href, h.expanded(pc, child, req.sub, level+1)...))
		}
		ok.props = append(ok.props, propElement(req.name, inner.String()))
	}
	return []propstat{ok, missing}
}

// hrefTargets lists the hrefs in an href-valued property of res, or nil
// when the property holds no hrefs salon can follow.
func (h *Handler) hrefTargets(pc *propCtx, res *resource, n xml.Name) []string {
	u := pc.r.user
	switch n {
	case pCurrentPrincipal:
		return []string{h.hrefs.principal(u.Name)}
	case pPrincipalURL, pOwner, pCalendarAddresses:
		return []string{h.hrefs.principal(res.user.Name)}
	case pCalendarHomeSet:
		return []string{h.hrefs.home(res.user.Name)}
	case pPrincipalColl:
		return []string{h.hrefs.principals()}
	case pScheduleInboxURL:
		return []string{h.hrefs.calendar(res.user.Name, InboxName)}
	case pScheduleOutboxURL:
		return []string{h.hrefs.calendar(res.user.Name, OutboxName)}
	}
	return nil
}

// principalPropertySearch answers DAV:principal-property-search (RFC 3744
// §9.4). The only principal a user can find is their own.
func (h *Handler) principalPropertySearch(w http.ResponseWriter, r *request, root *node) error {
	props, names, err := reportProps(root)
	if err != nil {
		return err
	}
	anyOf := false
	if test, _ := root.AttrValue("test"); test == "anyof" {
		anyOf = true
	}
	matched, searches := !anyOf, 0
	for _, ps := range root.Children {
		if !ps.is(nsDAV, "property-search") {
			continue
		}
		searches++
		m := h.principalMatches(r, ps)
		if anyOf {
			matched = matched || m
		} else {
			matched = matched && m
		}
	}
	ms := newMultistatus()
	if matched && searches > 0 {
		res := &resource{kind: kindPrincipal, href: h.hrefs.principal(r.user.Name), user: r.user}
		describeIn(ms, h.newPropCtx(r), res, props, names)
	}
	ms.write(w)
	return nil
}

// principalMatches reports whether one DAV:property-search matches the
// user's own principal: a case-insensitive substring of a searched value.
func (h *Handler) principalMatches(r *request, ps *node) bool {
	mn, pn := ps.Child(nsDAV, "match"), ps.Child(nsDAV, "prop")
	if mn == nil || pn == nil {
		return false
	}
	needle := strings.ToLower(strings.TrimSpace(mn.Text()))
	u := r.user
	for _, p := range pn.Children {
		var values []string
		switch p.Name {
		case pDisplayName:
			values = []string{displayName(u), u.Name}
		case pCalendarAddresses:
			values = []string{"mailto:" + u.Email, h.hrefs.principal(u.Name)}
		case pEmailAddressSet:
			values = []string{u.Email}
		}
		for _, v := range values {
			if v != "" && strings.Contains(strings.ToLower(v), needle) {
				return true
			}
		}
	}
	return false
}

// principalSearchPropertySet answers DAV:principal-search-property-set
// (RFC 3744 §9.5).
func (h *Handler) principalSearchPropertySet(w http.ResponseWriter) error {
	var b strings.Builder
	b.WriteString(xmlHeader + "<D:principal-search-property-set" + nsDecls + ">")
	for _, p := range []struct {
		name xml.Name
		desc string
	}{
		{pDisplayName, "Display name"},
		{pCalendarAddresses, "Calendar user address"},
		{pEmailAddressSet, "E-mail address"},
	} {
		b.WriteString("<D:principal-search-property><D:prop>" + emptyTag(p.name) + "</D:prop>" +
			`<D:description xml:lang="en">` + p.desc + "</D:description></D:principal-search-property>")
	}
	b.WriteString("</D:principal-search-property-set>\n")
	writeXML(w, http.StatusOK, b.String())
	return nil
}
