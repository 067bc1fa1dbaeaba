package calendar

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

func TestParseXML(t *testing.T) {
	deep := strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1)
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"propfind", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>`, true},
		{"default namespace", `<propfind xmlns="DAV:"><allprop/></propfind>`, true},
		{"doctype", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><D:propfind xmlns:D="DAV:">&e;</D:propfind>`, false},
		{"undefined entity", `<D:propfind xmlns:D="DAV:">&e;</D:propfind>`, false},
		{"undeclared prefix", `<D:propfind><D:allprop/></D:propfind>`, false},
		{"mismatched end", `<D:propfind xmlns:D="DAV:"></D:prop>`, false},
		{"unclosed", `<D:propfind xmlns:D="DAV:">`, false},
		{"two roots", `<a/><b/>`, false},
		{"text outside", `<a/>junk`, false},
		{"empty", ``, false},
		{"too deep", deep, false},
		{"not xml", `BEGIN:VCALENDAR`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := parseXML(strings.NewReader(tt.body))
			if tt.ok && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			var xe *xmlError
			if !tt.ok && !errors.As(err, &xe) {
				t.Fatalf("got %v, %v; want an xmlError", n, err)
			}
		})
	}
}

func TestParseXMLNamespaces(t *testing.T) {
	n, err := parseXML(strings.NewReader(`<x:propertyupdate xmlns:x="DAV:" xmlns:A="http://apple.com/ns/ical/"><x:set><x:prop>` +
		`<A:calendar-color symbolic-color="red">#FF0000</A:calendar-color>` +
		`<Z:thing xmlns:Z="urn:z">a &amp; <Z:b c="1">x</Z:b> tail</Z:thing></x:prop></x:set></x:propertyupdate>`))
	if err != nil {
		t.Fatal(err)
	}
	ops := parsePropOps(n)
	if len(ops) != 2 || ops[0].prop.Name != pColor || ops[0].prop.Text() != "#FF0000" {
		t.Fatalf("ops = %+v", ops)
	}
	inner := ops[1].prop.innerXML()
	want := `a &amp; <X:b xmlns:X="urn:z" c="1">x</X:b> tail`
	if inner != want {
		t.Errorf("innerXML = %s, want %s", inner, want)
	}
	// What salon writes as a dead property parses back to the same thing.
	again, err := parseXML(strings.NewReader(`<X:thing xmlns:X="urn:z">` + inner + `</X:thing>`))
	if err != nil || again.innerXML() != inner {
		t.Errorf("round trip: %v %q", err, again.innerXML())
	}
}

func TestParseFilter(t *testing.T) {
	parse := func(s string) error {
		n, err := parseXML(strings.NewReader(`<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav">` + s + `</C:filter>`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseFilter(n)
		return err
	}
	ok := `<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20240101T000000Z" end="20240201T000000Z"/>` +
		`<C:prop-filter name="SUMMARY"><C:text-match collation="i;unicode-casemap" negate-condition="yes">x</C:text-match></C:prop-filter>` +
		`<C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:is-not-defined/></C:param-filter></C:prop-filter></C:comp-filter></C:comp-filter>`
	if err := parse(ok); err != nil {
		t.Fatalf("valid filter refused: %v", err)
	}
	bad := map[string]string{
		"valid-filter":        `<C:comp-filter name="VEVENT"/>`,
		"supported-collation": `<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="X"><C:text-match collation="i;klingon">a</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>`,
	}
	bad["valid-filter "] = `<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="yesterday"/></C:comp-filter></C:comp-filter>`
	bad["valid-filter  "] = `<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range/></C:comp-filter></C:comp-filter>`
	bad["valid-filter   "] = ``
	for cond, s := range bad {
		err := parse(s)
		var de *davError
		if !errors.As(err, &de) || de.Cond.Local != strings.TrimSpace(cond) {
			t.Errorf("%s: got %v, want %s", s, err, cond)
		}
	}
}

// The fuzz targets feed request bodies to the parsers each method uses;
// they must refuse or accept, never panic.

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{
		`<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><C:calendar-data xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp name="VCALENDAR"><C:allprop/><C:comp name="VEVENT"><C:prop name="SUMMARY"/></C:comp></C:comp><C:expand start="20240101T000000Z" end="20240102T000000Z"/></C:calendar-data></D:prop></D:propfind>`,
		`<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:sync-token/></D:include></D:propfind>`,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set><D:remove><D:prop><Y:z xmlns:Y="urn:y"/></D:prop></D:remove></D:propertyupdate>`,
		`<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`,
		`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:prop-filter name="STATUS"><C:text-match negate-condition="yes">CANCELLED</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
		`<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
		`<D:expand-property xmlns:D="DAV:"><D:property name="current-user-principal"><D:property name="displayname"/></D:property></D:expand-property>`,
		`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`,
	} {
		f.Add(s)
	}
}

func FuzzRequestBodies(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body string) {
		n, err := parseXML(strings.NewReader(body))
		if err != nil {
			return
		}
		pf, _ := parsePropfind(n)
		c := &Calendar{}
		_, _ = applyProps(c, parsePropOps(n), true)
		// Whatever was asked for or stored, the response is well-formed XML.
		ms := newMultistatus()
		var props []string
		for _, p := range pf.props {
			props = append(props, emptyTag(p.name))
		}
		for k, v := range c.DeadProps {
			name, _ := parsePropKey(k)
			props = append(props, propElement(name, v))
		}
		ms.response("/dav/x", propstat{status: 200, props: props})
		ms.b.WriteString("</D:multistatus>")
		if _, err := parseXML(strings.NewReader(ms.b.String())); err != nil {
			t.Fatalf("response does not parse: %v\n%s", err, ms.b.String())
		}
		_, _, _ = reportProps(n)
		if fn := n.Child(nsCalDAV, "filter"); fn != nil {
			_, _ = parseFilter(fn)
		}
		_ = parseExpandReqs(n)
		_ = isCalendarResourceType(parsePropOps(n))
		for _, op := range parsePropOps(n) {
			if _, err := parseXML(strings.NewReader(`<X:p xmlns:X="urn:x">` + op.prop.innerXML() + `</X:p>`)); err != nil {
				t.Fatalf("dead property %q does not parse back: %v", op.prop.innerXML(), err)
			}
		}
	})
}

func TestEscapeTextMatchesEncodingXML(t *testing.T) {
	for _, s := range []string{
		"", "plain", "BEGIN:VCALENDAR\r\nSUMMARY:a & b <c> \"d\" 'e'\r\n", "tab\there", "ctl\x01\x1f",
		"é ü 日本 🎉", "bad \xff utf8", "\uFFFE", "\U0010FFFF", "a\r\nb",
	} {
		got := escapeText(s)
		var want bytes.Buffer
		_ = xml.EscapeText(&want, []byte(s))
		// encoding/xml also escapes \n and \t; both read back the same.
		var a, b struct {
			V string `xml:",chardata"`
		}
		if err := xml.Unmarshal([]byte("<x>"+got+"</x>"), &a); err != nil {
			t.Fatalf("escapeText(%q) = %q is not XML: %v", s, got, err)
		}
		if err := xml.Unmarshal([]byte("<x>"+want.String()+"</x>"), &b); err != nil {
			t.Fatal(err)
		}
		if a.V != b.V {
			t.Errorf("escapeText(%q) reads back %q, encoding/xml's %q", s, a.V, b.V)
		}
	}
}

func FuzzEscapeText(f *testing.F) {
	f.Add("BEGIN:VCALENDAR\r\n&<>\"'\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		got := escapeText(s)
		var want bytes.Buffer
		_ = xml.EscapeText(&want, []byte(s))
		var a, b struct {
			V string `xml:",chardata"`
		}
		if err := xml.Unmarshal([]byte("<x>"+got+"</x>"), &a); err != nil {
			t.Fatalf("escapeText(%q) = %q is not XML: %v", s, got, err)
		}
		if err := xml.Unmarshal([]byte("<x>"+want.String()+"</x>"), &b); err != nil {
			return
		}
		if a.V != b.V {
			t.Fatalf("escapeText(%q) reads back %q, encoding/xml's %q", s, a.V, b.V)
		}
	})
}
