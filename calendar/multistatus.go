package calendar

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// multistatus builds a 207 body (RFC 4918 §13) with salon's prefixes.
type multistatus struct {
	b strings.Builder
}

func newMultistatus() *multistatus {
	m := &multistatus{}
	m.b.WriteString(xmlHeader)
	m.b.WriteString("<D:multistatus" + nsDecls + ">\n")
	return m
}

func statusLine(code int) string { return fmt.Sprintf("HTTP/1.1 %d %s", code, http.StatusText(code)) }

// propstat is one group of properties sharing a status; each entry is a
// complete property element.
type propstat struct {
	status int
	props  []string
	cond   *davError // optional DAV:error for this group
}

// propElement writes property n with inner XML v.
func propElement(n xml.Name, v string) string {
	if v == "" {
		return emptyTag(n)
	}
	return openTag(n) + v + closeTag(n)
}

// response adds a response with propstats for href.
func (m *multistatus) response(href string, groups ...propstat) {
	m.b.WriteString(responseXML(href, groups...))
	m.b.WriteString("\n")
}

// responseXML is one DAV:response; empty groups are left out.
func responseXML(href string, groups ...propstat) string {
	var b strings.Builder
	b.WriteString("<D:response>" + hrefElem(href))
	wrote := false
	for _, g := range groups {
		if len(g.props) == 0 {
			continue
		}
		wrote = true
		b.WriteString(propstatXML(g))
	}
	if !wrote {
		// RFC 4918 §14.24 wants a status or a propstat.
		b.WriteString("<D:propstat><D:prop/><D:status>" + statusLine(http.StatusOK) + "</D:status></D:propstat>")
	}
	b.WriteString("</D:response>")
	return b.String()
}

func propstatXML(g propstat) string {
	var b strings.Builder
	b.WriteString("<D:propstat><D:prop>")
	for _, p := range g.props {
		b.WriteString(p)
	}
	b.WriteString("</D:prop><D:status>" + statusLine(g.status) + "</D:status>")
	if g.cond != nil && g.cond.Cond.Local != "" {
		b.WriteString("<D:error>" + emptyTag(g.cond.Cond) + "</D:error>")
	}
	if g.cond != nil && g.cond.Msg != "" {
		b.WriteString("<D:responsedescription>" + escapeText(g.cond.Msg) + "</D:responsedescription>")
	}
	b.WriteString("</D:propstat>")
	return b.String()
}

// status adds a response that carries only a status, such as a 404 for a
// multiget href or a sync-collection deletion.
func (m *multistatus) status(href string, code int) {
	m.b.WriteString("<D:response>" + hrefElem(href) + "<D:status>" + statusLine(code) + "</D:status></D:response>\n")
}

// raw adds an element that is not a response (DAV:sync-token).
func (m *multistatus) raw(s string) { m.b.WriteString(s) }

func (m *multistatus) write(w http.ResponseWriter) {
	m.b.WriteString("</D:multistatus>\n")
	writeXML(w, http.StatusMultiStatus, m.b.String())
}

func writeXML(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func hrefElem(h string) string { return "<D:href>" + escapeText(h) + "</D:href>" }

// describe writes the response for res with the properties asked for.
func (m *multistatus) describe(pc *propCtx, res *resource, props []propReq, names bool) {
	var ok, missing propstat
	ok.status, missing.status = http.StatusOK, http.StatusNotFound
	for _, p := range props {
		if names {
			ok.props = append(ok.props, emptyTag(p.name))
			continue
		}
		if v, found := pc.value(res, p); found {
			ok.props = append(ok.props, propElement(p.name, v))
		} else {
			missing.props = append(missing.props, emptyTag(p.name))
		}
	}
	m.response(res.href, ok, missing)
}
