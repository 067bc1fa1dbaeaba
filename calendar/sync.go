package calendar

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// syncTokenPrefix starts every DAV:sync-token salon hands out; RFC 6578
// §3.2 wants a URI. The calendar ID in it keeps a token from being used on
// another calendar, or on a calendar re-created under the same name.
const syncTokenPrefix = "http://salon.invalid/sync/"

func syncToken(c *Calendar) string {
	return syncTokenPrefix + strconv.FormatInt(c.ID, 10) + "-" + strconv.FormatInt(c.SyncToken, 10)
}

var errBadSyncToken = errCond(http.StatusForbidden, nsDAV, "valid-sync-token",
	"the sync token was not issued for this calendar or is too old; sync again from an empty token")

// parseSyncToken returns the change-log position of token for c.
func parseSyncToken(c *Calendar, token string) (int64, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), syncTokenPrefix)
	if !ok {
		return 0, errBadSyncToken
	}
	id, seq, ok := strings.Cut(rest, "-")
	if !ok || id != strconv.FormatInt(c.ID, 10) {
		return 0, errBadSyncToken
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil || n < 0 || n > c.SyncToken {
		return 0, errBadSyncToken
	}
	return n, nil
}

// syncCollection answers DAV:sync-collection (RFC 6578 §3.2). An empty
// token lists every member; otherwise what changed since, with deletions
// as bare 404 responses. DAV:limit is ignored: the whole delta comes back.
func (h *Handler) syncCollection(w http.ResponseWriter, r *request, root *node) error {
	props, names, err := reportProps(root)
	if err != nil {
		return err
	}
	if lvl := root.Child(nsDAV, "sync-level"); lvl != nil {
		if v := strings.TrimSpace(lvl.Text()); v != "1" && v != "infinite" {
			return errStatus(http.StatusBadRequest, "DAV:sync-level must be 1 or infinite")
		}
	}
	c, err := h.calendarOf(r)
	if err != nil {
		return err
	}
	token := ""
	if tn := root.Child(nsDAV, "sync-token"); tn != nil {
		token = strings.TrimSpace(tn.Text())
	}
	pc := h.newPropCtx(r)
	ms := newMultistatus()
	newToken := c
	if token == "" {
		// The token is read before the listing: a write in between is
		// reported again next time, never lost.
		members, err := h.objectResources(r, &c, wantsData(props))
		if err != nil {
			return err
		}
		for _, res := range members {
			describeIn(ms, pc, res, props, names)
		}
	} else {
		since, err := parseSyncToken(&c, token)
		if err != nil {
			return err
		}
		changes, current, err := h.store.Changes(r.Context(), c.ID, since)
		if errors.Is(err, ErrTokenGone) {
			return errBadSyncToken
		}
		if err != nil {
			return err
		}
		newToken.SyncToken = current
		if err := h.describeChanges(ms, pc, r, &c, changes, props, names); err != nil {
			return err
		}
	}
	ms.raw("<D:sync-token>" + escapeText(syncToken(&newToken)) + "</D:sync-token>\n")
	ms.write(w)
	return nil
}

func (h *Handler) describeChanges(ms *multistatus, pc *propCtx, r *request, c *Calendar, changes []Change, props []propReq, names bool) error {
	sort.Slice(changes, func(i, j int) bool { return changes[i].Name < changes[j].Name })
	var changed []string
	for _, ch := range changes {
		if !ch.Deleted {
			changed = append(changed, ch.Name)
		}
	}
	found := make(map[string]*Object, len(changed))
	for start := 0; start < len(changed); start += objectBatch {
		objs, err := h.store.Objects(r.Context(), c.ID, changed[start:min(start+objectBatch, len(changed))])
		if err != nil {
			return err
		}
		for i := range objs {
			found[objs[i].Name] = &objs[i]
		}
	}
	for _, ch := range changes {
		href := h.hrefs.object(c.Owner, c.Name, ch.Name)
		o := found[ch.Name]
		if ch.Deleted || o == nil {
			ms.status(href, http.StatusNotFound)
			continue
		}
		res := &resource{kind: kindObject, href: href, user: r.user, cal: c, obj: o, info: infoOf(o)}
		describeIn(ms, pc, res, props, names)
	}
	return nil
}
