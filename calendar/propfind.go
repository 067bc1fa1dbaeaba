package calendar

import (
	"io"
	"net/http"
	"strings"
)

// propfindMode is what a PROPFIND body asks for (RFC 4918 §14.20).
type propfindMode int

const (
	modeAllprop propfindMode = iota
	modeProp
	modePropname
)

type propfindBody struct {
	mode  propfindMode
	props []propReq // modeProp: the properties; modeAllprop: DAV:include
}

// readBody reads a request body of at most MaxRequestBody bytes.
func (h *Handler) readBody(w http.ResponseWriter, r *request) ([]byte, error) {
	if r.ContentLength > h.cfg.MaxRequestBody {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "request body over the limit")
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBody))
}

// readXML reads and parses an XML request body; a body of only white space
// yields nil.
func (h *Handler) readXML(w http.ResponseWriter, r *request) (*node, error) {
	data, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil, nil
	}
	return parseXML(strings.NewReader(string(data)))
}

func parsePropfind(root *node) (propfindBody, error) {
	if root == nil {
		return propfindBody{mode: modeAllprop}, nil
	}
	if !root.is(nsDAV, "propfind") {
		return propfindBody{}, errStatus(http.StatusBadRequest, "PROPFIND body must be a DAV:propfind element")
	}
	var (
		body  propfindBody
		modes int
	)
	for _, c := range root.Children {
		switch {
		case c.is(nsDAV, "prop"):
			modes++
			body.mode = modeProp
			props, err := parsePropList(c)
			if err != nil {
				return body, err
			}
			body.props = props
		case c.is(nsDAV, "allprop"):
			modes++
			body.mode = modeAllprop
		case c.is(nsDAV, "propname"):
			modes++
			body.mode = modePropname
		}
	}
	if inc := root.Child(nsDAV, "include"); inc != nil && body.mode == modeAllprop {
		props, err := parsePropList(inc)
		if err != nil {
			return body, err
		}
		body.props = props
	}
	if modes != 1 {
		return body, errStatus(http.StatusBadRequest, "DAV:propfind needs exactly one of DAV:prop, DAV:allprop or DAV:propname")
	}
	return body, nil
}

// parsePropList reads the children of a DAV:prop; calendar-data may carry
// a data request (RFC 4791 §9.6).
func parsePropList(prop *node) ([]propReq, error) {
	props := make([]propReq, 0, len(prop.Children))
	for _, c := range prop.Children {
		p := propReq{name: c.Name}
		if c.Name == pCalendarData {
			dr, err := parseDataRequest(c)
			if err != nil {
				return nil, err
			}
			p.data = dr
		}
		props = append(props, p)
	}
	return props, nil
}

// depth reads the Depth header. A missing header is taken as 1 rather
// than infinity: salon's tree is shallow and clients that omit it want
// the collection and its members.
func depth(r *http.Request) (int, error) {
	switch strings.TrimSpace(strings.ToLower(r.Header.Get("Depth"))) {
	case "0":
		return 0, nil
	case "1", "":
		return 1, nil
	case "infinity":
		return -1, nil
	}
	return 0, errStatus(http.StatusBadRequest, "Depth must be 0, 1 or infinity")
}

func (h *Handler) propfind(w http.ResponseWriter, r *request) error {
	d, err := depth(r.Request)
	if err != nil {
		return err
	}
	if d < 0 {
		return errCond(http.StatusForbidden, nsDAV, "propfind-finite-depth", "Depth: infinity is not supported; use 0 or 1")
	}
	root, err := h.readXML(w, r)
	if err != nil {
		return err
	}
	body, err := parsePropfind(root)
	if err != nil {
		return err
	}
	self, err := h.resourceOf(r)
	if err != nil {
		return err
	}
	resources := []*resource{self}
	if d == 1 {
		children, err := h.children(r, self, wantsData(body.props))
		if err != nil {
			return err
		}
		resources = append(resources, children...)
	}
	pc := h.newPropCtx(r)
	ms := newMultistatus()
	for _, res := range resources {
		switch body.mode {
		case modeProp:
			ms.describe(pc, res, body.props, false)
		case modePropname:
			ms.describe(pc, res, namesOf(allNames(res, false)), true)
		default:
			props := namesOf(allNames(res, true))
			for _, p := range body.props {
				if !hasProp(props, p) {
					props = append(props, p)
				}
			}
			ms.describe(pc, res, props, false)
		}
	}
	ms.write(w)
	return nil
}

// wantsData reports whether answering props needs the objects themselves,
// not only their listing: calendar-data, and schedule-tag, which
// ObjectInfo does not carry.
func wantsData(props []propReq) bool {
	for _, p := range props {
		if p.name == pCalendarData || p.name == pScheduleTag {
			return true
		}
	}
	return false
}

func hasProp(props []propReq, p propReq) bool {
	for _, q := range props {
		if q.name == p.name {
			return true
		}
	}
	return false
}
