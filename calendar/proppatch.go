package calendar

import (
	"encoding/xml"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// propOp is one property of a PROPPATCH (or MKCALENDAR / extended MKCOL)
// body, in document order (RFC 4918 §14.19).
type propOp struct {
	remove bool
	prop   *node
}

// Bounds on what a client may store as dead properties.
const (
	maxDeadProps     = 64
	maxDeadPropBytes = 64 << 10
	maxColorBytes    = 64
)

// parsePropOps reads the DAV:set and DAV:remove children of root.
func parsePropOps(root *node) []propOp {
	var ops []propOp
	for _, c := range root.Children {
		if !c.is(nsDAV, "set") && !c.is(nsDAV, "remove") {
			continue
		}
		for _, p := range c.Children {
			if !p.is(nsDAV, "prop") {
				continue
			}
			for _, prop := range p.Children {
				ops = append(ops, propOp{remove: c.is(nsDAV, "remove"), prop: prop})
			}
		}
	}
	return ops
}

// propResult is the outcome of one propOp; err nil means it applied.
type propResult struct {
	name xml.Name
	err  *davError
}

var errProtected = errCond(http.StatusForbidden, nsDAV, "cannot-modify-protected-property", "this property is computed by the server")

// applyProps applies ops to c. creating allows the properties that can
// only be chosen when a calendar is made. When any op fails, the others
// are reported as 424 Failed Dependency and the caller stores nothing.
func applyProps(c *Calendar, ops []propOp, creating bool) ([]propResult, bool) {
	results := make([]propResult, len(ops))
	failed := false
	for i, op := range ops {
		results[i] = propResult{name: op.prop.Name, err: applyProp(c, op, creating)}
		failed = failed || results[i].err != nil
	}
	if failed {
		for i := range results {
			if results[i].err == nil {
				results[i].err = errStatus(http.StatusFailedDependency, "")
			}
		}
	}
	return results, failed
}

func applyProp(c *Calendar, op propOp, creating bool) *davError {
	n := op.prop
	text := n.Text()
	switch n.Name {
	case pDisplayName:
		c.DisplayName = strings.TrimSpace(text)
		if op.remove {
			c.DisplayName = ""
		}
	case pDescription:
		c.Description = text
		if op.remove {
			c.Description = ""
		}
	case pColor:
		c.Color = strings.TrimSpace(text)
		if op.remove {
			c.Color = ""
		}
		if len(c.Color) > maxColorBytes {
			return errStatus(http.StatusConflict, "calendar-color is too long; use a CSS colour such as #3a87adff")
		}
	case pOrder:
		if op.remove {
			c.Order = 0
			return nil
		}
		o, err := parseOrder(text)
		if err != nil {
			return errStatus(http.StatusConflict, "calendar-order must be a number")
		}
		c.Order = o
	case pTimezone:
		if op.remove || strings.TrimSpace(text) == "" {
			c.Timezone = ""
			return nil
		}
		if _, _, err := decodeTimezone(text); err != nil {
			return toDAVError(err)
		}
		c.Timezone = text
	case pComponentSet:
		if !creating {
			return errProtected
		}
		comps, err := parseComponentSet(n)
		if err != nil {
			return err
		}
		c.Components = comps
	case pResourceType:
		if !creating {
			return errProtected
		}
		// Checked by extended MKCOL before the properties apply.
	case pScheduleTransp:
		return setScheduleTransp(c, op)
	default:
		if computed(n.Name) {
			return errProtected
		}
		return setDeadProp(c, op)
	}
	return nil
}

// computed reports whether salon computes property n on some resource,
// or n is in the DAV: namespace, whose properties RFC 4918 defines.
func computed(n xml.Name) bool {
	if n.Space == nsDAV {
		return true
	}
	for _, k := range []kind{kindPrincipal, kindHome, kindCalendar, kindObject, kindInbox, kindOutbox} {
		if p, ok := findLive(k, n); ok && p.protected {
			return true
		}
	}
	return false
}

func parseOrder(text string) (int, error) {
	text = strings.TrimSpace(text)
	if o, err := strconv.Atoi(text); err == nil {
		return o, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > math.MaxInt32 {
		return 0, strconv.ErrSyntax
	}
	return int(math.Round(f)), nil
}

func setDeadProp(c *Calendar, op propOp) *davError {
	key := propKey(op.prop.Name)
	if op.remove {
		delete(c.DeadProps, key)
		return nil
	}
	v := op.prop.innerXML()
	if len(v) > maxDeadPropBytes {
		return errStatus(http.StatusInsufficientStorage, "property value over 64 KiB")
	}
	if c.DeadProps == nil {
		c.DeadProps = map[string]string{}
	}
	if _, ok := c.DeadProps[key]; !ok && len(c.DeadProps) >= maxDeadProps {
		return errStatus(http.StatusInsufficientStorage, "too many properties on this calendar")
	}
	c.DeadProps[key] = v
	return nil
}

// supportedComponents are the component types a calendar may hold.
var supportedComponents = map[string]bool{"VEVENT": true, "VTODO": true, "VJOURNAL": true}

func parseComponentSet(n *node) ([]string, *davError) {
	var comps []string
	seen := map[string]bool{}
	for _, c := range n.Children {
		if !c.is(nsCalDAV, "comp") {
			continue
		}
		name, _ := c.AttrValue("name")
		name = strings.ToUpper(strings.TrimSpace(name))
		if !supportedComponents[name] {
			return nil, errCond(http.StatusForbidden, nsCalDAV, "supported-calendar-component",
				"calendars hold VEVENT, VTODO and VJOURNAL components, not "+strconv.Quote(name))
		}
		if !seen[name] {
			seen[name] = true
			comps = append(comps, name)
		}
	}
	if len(comps) == 0 {
		return nil, errCond(http.StatusForbidden, nsCalDAV, "supported-calendar-component", "supported-calendar-component-set names no component")
	}
	return comps, nil
}

// propstats groups results by status and condition for a multistatus.
func propstats(results []propResult) []propstat {
	var groups []propstat
	index := map[davError]int{}
	for _, res := range results {
		key := davError{Status: http.StatusOK}
		if res.err != nil {
			key = davError{Status: res.err.Status, Cond: res.err.Cond, Msg: res.err.Msg}
		}
		i, ok := index[key]
		if !ok {
			g := propstat{status: key.Status}
			if res.err != nil {
				g.cond = res.err
			}
			groups = append(groups, g)
			i = len(groups) - 1
			index[key] = i
		}
		groups[i].props = append(groups[i].props, emptyTag(res.name))
	}
	return groups
}

// proppatch answers PROPPATCH (RFC 4918 §9.2): all or nothing.
func (h *Handler) proppatch(w http.ResponseWriter, r *request) error {
	k := r.target.kind
	if k != kindCalendar && k != kindPrincipal && k != kindHome && k != kindInbox && k != kindOutbox {
		w.Header().Set("Allow", allow(k))
		return errStatus(http.StatusMethodNotAllowed, "PROPPATCH is supported on calendars")
	}
	root, err := h.readXML(w, r)
	if err != nil {
		return err
	}
	if root == nil || !root.is(nsDAV, "propertyupdate") {
		return errStatus(http.StatusBadRequest, "PROPPATCH body must be a DAV:propertyupdate element")
	}
	ops := parsePropOps(root)
	res, err := h.resourceOf(r)
	if err != nil {
		return err
	}
	var results []propResult
	if k != kindCalendar {
		results = make([]propResult, len(ops))
		for i, op := range ops {
			results[i] = propResult{name: op.prop.Name, err: errProtected}
		}
	} else {
		c := *res.cal
		c.DeadProps = make(map[string]string, len(res.cal.DeadProps))
		for key, v := range res.cal.DeadProps {
			c.DeadProps[key] = v
		}
		var failed bool
		results, failed = applyProps(&c, ops, false)
		if !failed && len(ops) > 0 {
			if err := h.store.UpdateCalendar(r.Context(), &c); err != nil {
				return err
			}
		}
	}
	ms := newMultistatus()
	ms.response(res.href, propstats(results)...)
	ms.write(w)
	return nil
}
