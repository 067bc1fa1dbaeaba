package calendar

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salonhq/salon/calendar/ical"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/meeting"
	"github.com/salonhq/salon/mail"
)

// DefaultMaxAttendees bounds the attendees of one scheduling object when
// SchedulerConfig.MaxAttendees is zero.
const DefaultMaxAttendees = 200

// SchedulerConfig is the operator's configuration of implicit scheduling.
type SchedulerConfig struct {
	// PublicURL is how people reach salon (https://meet.example.org); join
	// and RSVP links start with it. Required.
	PublicURL string
	// MaxAttendees bounds the attendees of one event; more is refused with
	// CALDAV:max-attendees-per-instance. 0 means DefaultMaxAttendees.
	MaxAttendees int
	// RSVPLifetime is how long after an event's end its RSVP links keep
	// working; 0 means 30 days. Links of series without end last a year
	// from the invitation.
	RSVPLifetime time.Duration
}

// Meetings gives an organizer's event its durable meeting room.
type Meetings interface {
	ForEvent(ctx context.Context, organizer, uid, title string) (meeting.Meeting, error)
}

// Composer turns an invitation into an e-mail (mail.Composer).
type Composer interface {
	Compose(inv *mail.Invitation) (mail.Message, error)
}

// RSVPSigner signs the per-attendee tokens of RSVP links (auth.Tokens).
type RSVPSigner interface {
	SignRSVP(c auth.RSVPClaims) (string, error)
}

// SchedulerOptions are the scheduler's collaborators. Store, Directory,
// Meetings, Composer and Tokens are required.
type SchedulerOptions struct {
	Store     Store
	Directory Directory
	Meetings  Meetings
	Composer  Composer
	Tokens    RSVPSigner
	Logger    *slog.Logger
	Now       func() time.Time
	Metrics   prometheus.Registerer
}

// Scheduler does RFC 6638 implicit scheduling: when an organizer saves an
// event with attendees, it gives the event a meeting room, delivers the
// invitation to attendees who are salon users (their inbox and their
// calendar) and mails the others (RFC 6047 iMIP); when an attendee answers
// (in a CalDAV client, through an RSVP link or by an e-mailed REPLY), it
// updates the organizer's copy. Every change and the mail it causes are one
// Store.Apply, so a message is queued exactly when its change is stored.
type Scheduler struct {
	cfg      SchedulerConfig
	store    Store
	dir      Directory
	meetings Meetings
	composer Composer
	tokens   RSVPSigner
	log      *slog.Logger
	now      func() time.Time
	prefix   string // PublicURL + "/m/": what salon's own links start with
	metrics  *schedMetrics
}

// NewScheduler returns a Scheduler. It panics when a required option is
// missing, a wiring mistake.
func NewScheduler(cfg SchedulerConfig, opts SchedulerOptions) *Scheduler {
	if opts.Store == nil || opts.Directory == nil || opts.Meetings == nil || opts.Composer == nil || opts.Tokens == nil {
		panic("calendar.NewScheduler: Store, Directory, Meetings, Composer and Tokens are required")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.MaxAttendees <= 0 {
		cfg.MaxAttendees = DefaultMaxAttendees
	}
	if cfg.RSVPLifetime <= 0 {
		cfg.RSVPLifetime = 30 * 24 * time.Hour
	}
	s := &Scheduler{
		cfg: cfg, store: opts.Store, dir: opts.Directory, meetings: opts.Meetings,
		composer: opts.Composer, tokens: opts.Tokens, log: opts.Logger, now: opts.Now,
		prefix: cfg.PublicURL + "/m/",
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.metrics = newSchedMetrics(opts.Metrics)
	return s
}

type schedMetrics struct {
	messages *prometheus.CounterVec // by method and route (inbox, mail)
	replies  *prometheus.CounterVec // by source (caldav, rsvp, imip) and partstat
}

func newSchedMetrics(reg prometheus.Registerer) *schedMetrics {
	m := &schedMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salon_scheduling_messages_total",
			Help: "iTIP messages sent to attendees and organizers, by method and route (inbox: a salon user; mail: iMIP e-mail).",
		}, []string{"method", "route"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salon_scheduling_replies_total",
			Help: "Attendee answers applied to organizers' events, by source (caldav, rsvp, imip) and participation status.",
		}, []string{"source", "partstat"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.messages, m.replies} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(err)
				}
			}
		}
	}
	return m
}

// change is one scheduling operation being assembled into a Batch.
type change struct {
	batch Batch
	now   time.Time
	stamp string // DTSTAMP of the messages made, UTC
	past  bool   // every instance is over: no mail
}

func (s *Scheduler) newChange(first Write) *change {
	now := s.now().UTC()
	return &change{batch: Batch{Writes: []Write{first}}, now: now, stamp: now.Format("20060102T150405Z")}
}

func newScheduleTag() string { return `"` + randomHex(12) + `"` }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// addressesOf are the calendar user addresses of a salon user.
func isUser(u auth.User, addr string) bool {
	return addr != "" && strings.EqualFold(u.Email, addr)
}

// Put stores a client's PUT of o (parsed as p) in calendar c, doing the
// scheduling it calls for. It returns handled false when the object is no
// scheduling object, before and after, and the caller stores it as is.
// Otherwise o.Data and o.ScheduleTag hold what was stored and w the write's
// result.
func (s *Scheduler) Put(ctx context.Context, u auth.User, c *Calendar, o *Object, p *ical.Object, pre Precondition) (handled bool, w Write, err error) {
	if c.Kind != KindCalendar || (p.Component != goical.CompEvent && p.Component != goical.CompToDo) {
		return false, Write{}, nil
	}
	return s.putRetry(ctx, u, c, o, p, pre, false)
}

// putRetry is Put; a meeting (made in salon's web app) gets its room and
// is scheduled even when the organizer invited nobody yet.
func (s *Scheduler) putRetry(ctx context.Context, u auth.User, c *Calendar, o *Object, p *ical.Object, pre Precondition,
	meeting bool) (handled bool, w Write, err error) {
	for attempt := 0; ; attempt++ {
		handled, w, err = s.put(ctx, u, c, o, p, pre, meeting)
		// The object changed between reading it and writing: when the
		// client asked for no precondition, schedule against the new one.
		if attempt < 3 && pre == (Precondition{}) && errors.Is(err, ErrPrecondition) {
			continue
		}
		return handled, w, err
	}
}

func (s *Scheduler) put(ctx context.Context, u auth.User, c *Calendar, o *Object, p *ical.Object, pre Precondition,
	meeting bool) (bool, Write, error) {
	old, oldCal, err := s.current(ctx, c.ID, o.Name)
	if err != nil {
		return false, Write{}, err
	}
	// Parse gave a tree that caches may share: work on a copy.
	newCal := cloneCalendar(p.Cal)
	comps := schedComponents(newCal, p.Component)
	var oldComps []*goical.Component
	if oldCal != nil {
		oldComps = schedComponents(oldCal, p.Component)
	}
	orgAddr, orgProp := organizerOf(comps)
	others := 0
	for _, a := range attendeesOf(comps) {
		if a.addr != orgAddr || a.addr == "" {
			others++
		}
	}
	oldOrg, _ := organizerOf(oldComps)
	wasOrganizer := oldCal != nil && isUser(u, oldOrg) && len(attendeesOf(oldComps)) > 0

	switch {
	case orgProp == nil && others > 0:
		// A client that lists attendees but no organizer means the user.
		for _, cm := range comps {
			cm.Props.Set(&goical.Prop{Name: goical.PropOrganizer, Value: "mailto:" + u.Email, Params: commonName(u.DisplayName)})
		}
		orgAddr = strings.ToLower(u.Email)
		fallthrough
	case isUser(u, orgAddr) && (others > 0 || wasOrganizer || meeting):
		if others > s.cfg.MaxAttendees {
			return true, Write{}, errCond(http.StatusForbidden, nsCalDAV, "max-attendees-per-instance",
				fmt.Sprintf("the event has %d attendees; salon schedules at most %d per event", others, s.cfg.MaxAttendees))
		}
		return s.organizerPut(ctx, u, c, o, p, pre, newCal, comps, old, oldCal, oldComps)
	case orgAddr != "" && !isUser(u, orgAddr) && hasAttendee(comps, u.Email):
		return s.attendeePut(ctx, u, c, o, p, pre, newCal, comps, old, oldComps, orgAddr, orgProp)
	}
	return false, Write{}, nil
}

func commonName(name string) goical.Params {
	ps := goical.Params{}
	if name = cleanParam(name); name != "" {
		ps.Set(goical.ParamCommonName, name)
	}
	return ps
}

// cleanParam makes text safe as a parameter value: no control characters
// and no double quote, which iCalendar cannot escape in a parameter.
func cleanParam(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return ' '
		}
		return r
	}, s)), " ")
}

func hasAttendee(comps []*goical.Component, email string) bool {
	addr := strings.ToLower(email)
	for _, a := range attendeesOf(comps) {
		if a.addr != "" && a.addr == addr {
			return true
		}
	}
	return false
}

// current returns the stored object and its parsed calendar, or nils.
func (s *Scheduler) current(ctx context.Context, calID int64, name string) (*Object, *goical.Calendar, error) {
	cur, err := s.store.Object(ctx, calID, name)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	po, err := ical.Parse(cur.Data)
	if err != nil {
		// A stored object salon cannot read any more schedules as new.
		s.log.WarnContext(ctx, "stored object does not parse; scheduling it as new", "calendar", calID, "object", name, "err", err)
		return &cur, nil, nil
	}
	return &cur, po.Cal, nil
}

// guardPre makes a write fail if the object changed since it was read for
// computing what to send.
func guardPre(pre Precondition, old *Object) Precondition {
	if pre.IfMatch == "" && !pre.IfNoneMatchAny {
		if old != nil {
			pre.IfMatch = old.ETag
		} else {
			pre.IfNoneMatchAny = true
		}
	}
	return pre
}

// finishObject encodes cal into o and recomputes its bounds.
func finishObject(o *Object, cal *goical.Calendar) error {
	data := encodeCalendar(cal)
	po, err := ical.Parse(data)
	if err != nil {
		return fmt.Errorf("scheduling produced an object that does not parse: %w", err)
	}
	o.Data, o.Size, o.UID, o.Component, o.Start, o.End = data, len(data), po.UID, po.Component, po.Start, po.End
	return nil
}

// finishInboxItem encodes an iTIP message into o for a schedule inbox. It
// keeps METHOD (RFC 6638 §4.1: inbox items are scheduling messages); the
// bounds come from the message without it.
func finishInboxItem(o *Object, msg *goical.Calendar) error {
	if err := finishObject(o, withoutMethod(msg)); err != nil {
		return err
	}
	o.Data = encodeCalendar(msg)
	o.Size = len(o.Data)
	return nil
}

// inboxItemName names the inbox item of an event. An inbox holds one
// message per UID, as a calendar does: the latest replaces the earlier
// ones, which it supersedes anyway.
func inboxItemName(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return hex.EncodeToString(sum[:16]) + ".ics"
}

// apply runs the change and reports the first write's result.
func (s *Scheduler) apply(ctx context.Context, ch *change) (Write, error) {
	if err := s.store.Apply(ctx, &ch.batch); err != nil {
		var we *WriteError
		if errors.As(err, &we) && we.Index == 0 {
			return Write{}, we.Err
		}
		return Write{}, err
	}
	return ch.batch.Writes[0], nil
}

// delivery is one iTIP message for one attendee.
type delivery struct {
	a      attendee
	method string
	update bool // a REQUEST to someone invited before
	from   *goical.Calendar
}

func (s *Scheduler) organizerPut(ctx context.Context, u auth.User, c *Calendar, o *Object, p *ical.Object,
	pre Precondition, newCal *goical.Calendar, comps []*goical.Component, old *Object, oldCal *goical.Calendar, oldComps []*goical.Component) (bool, Write, error) {
	orgAddr := strings.ToLower(u.Email)
	lang := langOf(u)

	link, err := s.link(ctx, u, p, comps, lang)
	if err != nil {
		return true, Write{}, err
	}
	if link.slug != "" {
		for _, cm := range comps {
			stampMeeting(cm, link, s.prefix)
		}
	}

	oldByKey := map[string]*goical.Component{}
	for _, cm := range oldComps {
		oldByKey[recurrenceKey(cm)] = cm
	}
	changed := oldCal == nil
	for _, cm := range comps {
		prev := oldByKey[recurrenceKey(cm)]
		if prev == nil {
			changed = true
			continue
		}
		if significant(prev, link) != significant(cm, link) {
			changed = true
			if sequenceOf(cm) <= sequenceOf(prev) {
				setSequence(cm, sequenceOf(prev)+1)
			}
		} else {
			// Replies update the stored copy; an organizer's client that
			// saves a copy older than a reply must not undo it.
			keepPartStats(cm, prev)
		}
		if content(prev, link) != content(cm, link) {
			changed = true
		}
	}
	if len(oldComps) != len(comps) {
		changed = true
	}

	oldAtt := map[string]attendee{}
	for _, a := range attendeesOf(oldComps) {
		if a.addr != "" {
			oldAtt[a.addr] = a
		}
	}
	cancelled := isCancelled(comps) && (oldCal == nil || !isCancelled(oldComps))
	var ds []delivery
	current := map[string]bool{}
	for _, a := range attendeesOf(comps) {
		if a.addr == orgAddr && a.addr != "" {
			continue
		}
		current[a.addr] = true
		_, known := oldAtt[a.addr]
		switch {
		case a.agent == "CLIENT" || a.agent == "NONE":
			continue
		case a.addr == "":
			setStatus(comps, a.value, statusInvalid)
		case cancelled:
			ds = append(ds, delivery{a: a, method: methodCancel, from: newCal})
		case isCancelled(comps):
		case !known || changed || a.force:
			ds = append(ds, delivery{a: a, method: methodRequest, update: known, from: newCal})
		}
	}
	for addr, a := range oldAtt {
		if !current[addr] && addr != orgAddr && a.agent != "CLIENT" && a.agent != "NONE" {
			ds = append(ds, delivery{a: a, method: methodCancel, from: oldCal})
		}
	}
	for _, cm := range comps {
		for _, p := range []string{goical.PropAttendee} {
			ps := cm.Props[p]
			for i := range ps {
				ps[i].Params.Del(paramForceSend)
			}
		}
	}

	o.ScheduleTag = ""
	if old != nil {
		o.ScheduleTag = old.ScheduleTag
	}
	if changed || o.ScheduleTag == "" {
		o.ScheduleTag = newScheduleTag()
	}
	ch := s.newChange(Write{Object: o, Pre: guardPre(pre, old)})
	ch.past = isPast(p, ch.now)
	if err := s.deliver(ctx, ch, u, p.UID, p.Component, ds, comps, link, lang); err != nil {
		return true, Write{}, err
	}
	if err := finishObject(o, newCal); err != nil {
		return true, Write{}, err
	}
	w, err := s.apply(ctx, ch)
	if err == nil && len(ds) > 0 {
		s.log.InfoContext(ctx, "scheduled", "organizer", u.Name, "uid", p.UID, "messages", len(ds), "mail", len(ch.batch.Mail))
	}
	return true, w, err
}

// link returns the event's meeting room, creating it on the first save; a
// zero link when the organizer opted out or the object is no event.
func (s *Scheduler) link(ctx context.Context, u auth.User, p *ical.Object, comps []*goical.Component, lang string) (meetingLink, error) {
	if p.Component != goical.CompEvent {
		return meetingLink{}, nil
	}
	for _, cm := range comps {
		if v := cm.Props.Get(propMeeting); v != nil && strings.EqualFold(strings.TrimSpace(v.Value), meetingOptOut) {
			return meetingLink{}, nil
		}
	}
	title, _ := comps[0].Props.Text(goical.PropSummary)
	m, err := s.meetings.ForEvent(ctx, u.Name, p.UID, title)
	if err != nil {
		return meetingLink{}, fmt.Errorf("meeting room for event %s: %w", p.UID, err)
	}
	words := wordsFor(lang)
	return meetingLink{slug: m.Slug, url: s.prefix + m.Slug, label: words[1], lang: lang}, nil
}

func langOf(u auth.User) string {
	if u.Lang == "fr" {
		return "fr"
	}
	return "en"
}

func isCancelled(comps []*goical.Component) bool {
	if len(comps) == 0 {
		return false
	}
	st, _ := comps[0].Props.Text(goical.PropStatus)
	return strings.EqualFold(st, "CANCELLED")
}

// isPast reports whether every instance of the object is over.
func isPast(p *ical.Object, now time.Time) bool {
	return !p.End.IsZero() && p.End.Before(now)
}

func keepPartStats(cm, prev *goical.Component) {
	was := map[string]string{}
	for _, a := range prev.Props.Values(goical.PropAttendee) {
		if addr := address(a.Value); addr != "" {
			if ps := a.Params.Get(goical.ParamParticipationStatus); ps != "" {
				was[addr] = ps
			}
		}
	}
	ps := cm.Props[goical.PropAttendee]
	for i := range ps {
		if v, ok := was[address(ps[i].Value)]; ok {
			ps[i].Params.Set(goical.ParamParticipationStatus, v)
		}
	}
}

func setStatus(comps []*goical.Component, value, status string) {
	for _, cm := range comps {
		ps := cm.Props[goical.PropAttendee]
		for i := range ps {
			if strings.EqualFold(strings.TrimSpace(ps[i].Value), strings.TrimSpace(value)) {
				ps[i].Params.Set(paramSchedStat, status)
			}
		}
	}
}

// deliver adds to ch what each delivery needs: for salon users their copy
// and an inbox message, for the others an e-mail; and writes the
// SCHEDULE-STATUS of each on the organizer's components.
func (s *Scheduler) deliver(ctx context.Context, ch *change, org auth.User, uid, comp string, ds []delivery, orgComps []*goical.Component, link meetingLink, lang string) error {
	// Everyone told the same thing gets the same message: it is made,
	// encoded and read for the mail once, not once per attendee.
	type key struct {
		from   *goical.Calendar
		method string
	}
	msgs := map[key]*message{}
	for _, d := range ds {
		k := key{d.from, d.method}
		pm := msgs[k]
		if pm == nil {
			cal := itipMessage(d.from, comp, d.method, ch.stamp)
			if d.method == methodCancel {
				cal = cancelMessage(d.from, comp, ch.stamp)
			}
			pm = newMessage(cal, comp, ch.now)
			msgs[k] = pm
		}
		msg := pm.cal
		target, err := s.dir.UserByEmail(ctx, d.a.addr)
		switch {
		case err == nil && target.Name != org.Name:
			if err := s.deliverInternal(ctx, ch, target, uid, comp, msg, d.method); err != nil {
				return err
			}
			setStatus(orgComps, d.a.value, statusDelivered)
			s.metrics.messages.WithLabelValues(d.method, "inbox").Inc()
		case err == nil:
			// The organizer invited themselves under their own address.
		case errors.Is(err, auth.ErrUserNotFound):
			if ch.past {
				continue
			}
			m, err := s.compose(ctx, org, d, pm, uid, link, lang, ch.now)
			if err != nil {
				var ia *invalidAddressError
				if errors.As(err, &ia) {
					setStatus(orgComps, d.a.value, statusInvalid)
					continue
				}
				return err
			}
			ch.batch.Mail = append(ch.batch.Mail, m)
			setStatus(orgComps, d.a.value, statusPending)
			s.metrics.messages.WithLabelValues(d.method, "mail").Inc()
		default:
			return err
		}
	}
	return nil
}

// deliverInternal puts an organizer's message into a salon user's inbox
// and their calendar: a REQUEST creates or updates their copy (keeping
// their answer and alarms), a CANCEL marks their copy cancelled.
func (s *Scheduler) deliverInternal(ctx context.Context, ch *change, target auth.User, uid, comp string, msg *goical.Calendar, method string) error {
	inbox, err := ensureInbox(ctx, s.store, target.Name)
	if err != nil {
		return err
	}
	item := &Object{CalendarID: inbox.ID, Name: inboxItemName(uid), Modified: ch.now}
	if err := finishInboxItem(item, msg); err != nil {
		return err
	}
	ch.batch.Writes = append(ch.batch.Writes, Write{Object: item})

	cal, cur, err := s.store.ObjectByUID(ctx, target.Name, uid)
	var prev *goical.Calendar
	switch {
	case err == nil:
		if po, err := ical.Parse(cur.Data); err == nil {
			prev = po.Cal
		}
	case errors.Is(err, ErrNotFound):
		if method == methodCancel {
			return nil
		}
		cal, err = defaultCalendarOf(ctx, s.store, target.Name)
		if errors.Is(err, ErrNotFound) {
			s.log.WarnContext(ctx, "attendee has no calendar for events; the invitation is only in their inbox", "user", target.Name, "uid", uid)
			return nil
		}
		if err != nil {
			return err
		}
		cur = Object{CalendarID: cal.ID, Name: randomHex(16) + ".ics"}
	default:
		return err
	}
	copyCal := cloneCalendar(msg)
	copyCal.Props.Del(goical.PropMethod)
	addr := strings.ToLower(target.Email)
	if prev != nil {
		carryAttendeeState(schedComponents(copyCal, comp), schedComponents(prev, comp), addr, method == methodCancel)
	}
	pre := Precondition{IfNoneMatchAny: true}
	if cur.ETag != "" {
		pre = Precondition{IfMatch: cur.ETag}
	}
	o := &Object{CalendarID: cal.ID, Name: cur.Name, ScheduleTag: newScheduleTag(), Modified: ch.now}
	if err := finishObject(o, copyCal); err != nil {
		return err
	}
	ch.batch.Writes = append(ch.batch.Writes, Write{Object: o, Pre: pre})
	return nil
}

// carryAttendeeState keeps in an attendee's updated copy what is theirs:
// their alarms, and their answer unless the organizer reset it.
func carryAttendeeState(comps, prev []*goical.Component, addr string, cancel bool) {
	prevByKey := map[string]*goical.Component{}
	for _, c := range prev {
		prevByKey[recurrenceKey(c)] = c
	}
	for _, c := range comps {
		p := prevByKey[recurrenceKey(c)]
		if p == nil {
			continue
		}
		for _, ch := range p.Children {
			if ch.Name == goical.CompAlarm {
				c.Children = append(c.Children, cloneComponent(ch))
			}
		}
		if cancel {
			continue
		}
		var mine string
		for _, a := range p.Props.Values(goical.PropAttendee) {
			if address(a.Value) == addr {
				mine = a.Params.Get(goical.ParamParticipationStatus)
			}
		}
		if mine == "" {
			continue
		}
		eachAttendee([]*goical.Component{c}, addr, func(a *goical.Prop) {
			if ps := a.Params.Get(goical.ParamParticipationStatus); ps == "" || strings.EqualFold(ps, partNeedsAction) && sequenceOf(c) == sequenceOf(p) {
				a.Params.Set(goical.ParamParticipationStatus, mine)
			}
		})
	}
}

// organizerName is the organizer's display name, or the name their
// client wrote on ORGANIZER when their account has none.
func organizerName(org auth.User, comps []*goical.Component) string {
	if org.DisplayName != "" {
		return org.DisplayName
	}
	if _, p := organizerOf(comps); p != nil {
		return cleanParam(p.Params.Get(goical.ParamCommonName))
	}
	return ""
}

// invalidAddressError is an attendee address mail cannot go to.
type invalidAddressError struct{ err error }

func (e *invalidAddressError) Error() string { return e.err.Error() }

// message is one iTIP message made ready for all its recipients: encoded,
// and read once for what its mail shows.
type message struct {
	cal   *goical.Calendar
	comps []*goical.Component
	data  []byte
	shown eventTimes
}

func newMessage(cal *goical.Calendar, comp string, now time.Time) *message {
	return &message{cal: cal, comps: schedComponents(cal, comp), data: encodeCalendar(cal), shown: timesOf(cal, now)}
}

// compose makes the e-mail of one delivery.
func (s *Scheduler) compose(ctx context.Context, org auth.User, d delivery, pm *message, uid string, link meetingLink, lang string, now time.Time) (mail.Message, error) {
	inv := &mail.Invitation{
		Method:    d.method,
		Organizer: mail.Address{Name: organizerName(org, pm.comps), Email: org.Email},
		Attendee:  mail.Address{Name: d.a.name, Email: d.a.addr},
		Update:    d.update && d.method == methodRequest,
		Lang:      lang,
		UID:       uid,
		JoinURL:   link.url,
		Calendar:  pm.data,
	}
	fillShown(inv, pm.comps, pm.shown)
	if d.method == methodCancel {
		inv.JoinURL = ""
	}
	if d.method == methodRequest {
		links, err := s.rsvpLinks(org.Name, uid, d.a.addr, pm.shown.last, now)
		if err != nil {
			return mail.Message{}, err
		}
		inv.RSVP = links
	}
	m, err := s.composer.Compose(inv)
	if errors.Is(err, mail.ErrInvalidAddress) {
		s.log.WarnContext(ctx, "attendee address cannot receive mail", "uid", uid, "attendee", d.a.value, "err", err)
		return mail.Message{}, &invalidAddressError{err}
	}
	return m, err
}

// fillInvitation copies what the mail shows from the message's components.
func fillInvitation(inv *mail.Invitation, msg *goical.Calendar, comps []*goical.Component, now time.Time) {
	fillShown(inv, comps, timesOf(msg, now))
}

// fillShown copies what the mail shows from the components and their
// times.
func fillShown(inv *mail.Invitation, comps []*goical.Component, t eventTimes) {
	if len(comps) == 0 {
		return
	}
	m := comps[0]
	inv.Summary, _ = m.Props.Text(goical.PropSummary)
	inv.Location, _ = m.Props.Text(goical.PropLocation)
	if inv.Location == inv.JoinURL {
		inv.Location = ""
	}
	inv.Description = descriptionOf(m)
	inv.Recurring = m.Props.Get(goical.PropRecurrenceRule) != nil || m.Props.Get(goical.PropRecurrenceDates) != nil
	inv.Start, inv.End, inv.AllDay, inv.TimeZone = t.start, t.end, t.allDay, t.tz
}

// eventTimes are an event's times as people are shown them: the first
// instance not yet over (or the first one) in the event's own zone, and
// when the last instance ends (zero when it recurs forever).
type eventTimes struct {
	start, end time.Time
	allDay     bool
	tz         string
	last       time.Time
}

func timesOf(cal *goical.Calendar, now time.Time) (t eventTimes) {
	po, err := ical.Parse(encodeCalendar(withoutMethod(cal)))
	if err != nil {
		return
	}
	t.last = po.End
	var loc *time.Location
	for _, c := range schedComponents(po.Cal, po.Component) {
		if p := c.Props.Get(goical.PropDateTimeStart); p != nil {
			if id := p.Params.Get(goical.ParamTimezoneID); id != "" {
				loc = ical.ResolveTZID(id, po.Cal)
			} else if strings.HasSuffix(p.Value, "Z") {
				loc = time.UTC
			}
			break
		}
	}
	list := ical.Instances(po, ical.TimeRange{Start: now, End: now.AddDate(2, 0, 0)}, loc)
	if len(list) == 0 {
		list = ical.Instances(po, ical.TimeRange{}, loc)
	}
	if len(list) == 0 {
		return
	}
	in := list[0]
	t.start, t.end, t.allDay = in.Start, in.End, in.AllDay
	if loc != nil && !t.allDay {
		t.start, t.end = t.start.In(loc), t.end.In(loc)
		if loc != time.UTC {
			t.tz = loc.String()
		}
	}
	return
}

func withoutMethod(cal *goical.Calendar) *goical.Calendar {
	c := cloneCalendar(cal)
	c.Props.Del(goical.PropMethod)
	return c
}

// rsvpLinks signs the attendee's answer links, good until RSVPLifetime
// after the event's last instance (last), or a year for a series without
// end.
func (s *Scheduler) rsvpLinks(organizer, uid, addr string, last, now time.Time) (*mail.RSVPLinks, error) {
	expires := now.AddDate(1, 0, 0)
	if !last.IsZero() {
		if e := last.Add(s.cfg.RSVPLifetime); e.Before(expires) && e.After(now) {
			expires = e
		}
	}
	tok, err := s.tokens.SignRSVP(auth.RSVPClaims{Organizer: organizer, UID: uid, Attendee: addr, Expires: expires})
	if err != nil {
		return nil, fmt.Errorf("sign RSVP link: %w", err)
	}
	base := s.cfg.PublicURL + "/rsvp/" + url.PathEscape(tok)
	return &mail.RSVPLinks{
		Accept:    base + "?partstat=" + partAccepted,
		Tentative: base + "?partstat=" + partTentative,
		Decline:   base + "?partstat=" + partDeclined,
	}, nil
}

// Delete deletes the object name of calendar c for u, sending CANCEL to
// the attendees when u organizes it, or a DECLINED reply when u attends
// and reply is true (a client's Schedule-Reply: F says false, RFC 6638
// §8.1). handled false means the caller deletes it as usual.
func (s *Scheduler) Delete(ctx context.Context, u auth.User, c *Calendar, name string, pre Precondition, reply bool) (bool, error) {
	if c.Kind != KindCalendar {
		return false, nil
	}
	old, oldCal, err := s.current(ctx, c.ID, name)
	if err != nil || old == nil || oldCal == nil {
		return false, err
	}
	comps := schedComponents(oldCal, old.Component)
	orgAddr, orgProp := organizerOf(comps)
	if len(attendeesOf(comps)) == 0 || orgProp == nil {
		return false, nil
	}
	ch := s.newChange(Write{Object: &Object{CalendarID: c.ID, Name: name}, Delete: true, Pre: guardPre(pre, old)})
	if po, err := ical.Parse(old.Data); err == nil {
		ch.past = isPast(po, ch.now)
	}
	switch {
	case isUser(u, orgAddr):
		if isCancelled(comps) {
			return false, nil // they were told when it was cancelled
		}
		var ds []delivery
		for _, a := range attendeesOf(comps) {
			if a.addr == orgAddr || a.agent == "CLIENT" || a.agent == "NONE" || a.addr == "" {
				continue
			}
			ds = append(ds, delivery{a: a, method: methodCancel, from: oldCal})
		}
		if err := s.deliver(ctx, ch, u, old.UID, old.Component, ds, comps, meetingLink{}, langOf(u)); err != nil {
			return true, err
		}
	case hasAttendee(comps, u.Email):
		if agent := strings.ToUpper(orgProp.Params.Get(paramSchedAgent)); agent == "CLIENT" || agent == "NONE" {
			return false, nil
		}
		mine := ""
		eachAttendee(comps, strings.ToLower(u.Email), func(p *goical.Prop) { mine = p.Params.Get(goical.ParamParticipationStatus) })
		if !reply || strings.EqualFold(mine, partDeclined) || isCancelled(comps) {
			return false, nil
		}
		if err := s.reply(ctx, ch, u, oldCal, old.Component, orgAddr, partDeclined, "caldav"); err != nil {
			return true, err
		}
	default:
		return false, nil
	}
	_, err = s.apply(ctx, ch)
	return true, err
}
