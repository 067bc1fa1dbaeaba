package calendar

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goical "github.com/emersion/go-ical"

	"github.com/salonhq/salon/calendar/ical"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/mail"
)

// This file is the attendee's side of scheduling: answers given in a
// CalDAV client, through an RSVP link or by an iMIP REPLY, applied to the
// organizer's copy.

// attendeePut stores an attendee's save of their copy and, when their
// answer changed, replies to the organizer.
func (s *Scheduler) attendeePut(ctx context.Context, u auth.User, c *Calendar, o *Object, p *ical.Object,
	pre Precondition, newCal *goical.Calendar, comps []*goical.Component, old *Object, oldComps []*goical.Component,
	orgAddr string, orgProp *goical.Prop) (bool, Write, error) {
	addr := strings.ToLower(u.Email)
	before := map[string]string{}
	for _, cm := range oldComps {
		eachAttendee([]*goical.Component{cm}, addr, func(a *goical.Prop) {
			before[recurrenceKey(cm)] = strings.ToUpper(a.Params.Get(goical.ParamParticipationStatus))
		})
	}
	answer := ""
	for _, cm := range comps {
		eachAttendee([]*goical.Component{cm}, addr, func(a *goical.Prop) {
			ps := strings.ToUpper(a.Params.Get(goical.ParamParticipationStatus))
			if ps == "" {
				ps = partNeedsAction
			}
			was, ok := before[recurrenceKey(cm)]
			if (!ok && ps != partNeedsAction || ok && ps != was) && answer == "" {
				answer = ps
			}
		})
	}
	o.ScheduleTag = ""
	if old != nil {
		o.ScheduleTag = old.ScheduleTag // RFC 6638 §3.2.10: an attendee's own change keeps it
	}
	agent := strings.ToUpper(orgProp.Params.Get(paramSchedAgent))
	if answer == "" || agent == "CLIENT" || agent == "NONE" {
		if old == nil || old.ScheduleTag == "" {
			return false, Write{}, nil
		}
		ch := s.newChange(Write{Object: o, Pre: pre})
		w, err := s.apply(ctx, ch)
		return true, w, err
	}
	ch := s.newChange(Write{Object: o, Pre: guardPre(pre, old)})
	if err := s.reply(ctx, ch, u, newCal, p.Component, orgAddr, answer, "caldav"); err != nil {
		return true, Write{}, err
	}
	w, err := s.apply(ctx, ch)
	return true, w, err
}

// reply adds to ch the answer partStat of attendee u to the organizer of
// cal: into the organizer's copy and inbox when they are a salon user, by
// e-mail otherwise.
func (s *Scheduler) reply(ctx context.Context, ch *change, u auth.User, cal *goical.Calendar, comp, orgAddr, partStat, source string) error {
	addr := strings.ToLower(u.Email)
	msg := replyMessage(cal, comp, addr, partStat, ch.stamp)
	uid := ""
	if cs := schedComponents(cal, comp); len(cs) > 0 {
		uid, _ = cs[0].Props.Text(goical.PropUID)
	}
	org, err := s.dir.UserByEmail(ctx, orgAddr)
	switch {
	case err == nil:
		if err := s.replyInternal(ctx, ch, org, uid, addr, partStat, msg, -1); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		s.metrics.messages.WithLabelValues(methodReply, "inbox").Inc()
	case errors.Is(err, auth.ErrUserNotFound):
		if ch.past {
			return nil
		}
		orgName := ""
		_, orgProp := organizerOf(schedComponents(cal, comp))
		if orgProp != nil {
			orgName = orgProp.Params.Get(goical.ParamCommonName)
		}
		inv := &mail.Invitation{
			Method:    methodReply,
			Organizer: mail.Address{Name: orgName, Email: orgAddr},
			Attendee:  mail.Address{Name: u.DisplayName, Email: u.Email},
			Lang:      langOf(u),
			PartStat:  partStat,
			UID:       uid,
			Calendar:  encodeCalendar(msg),
		}
		fillInvitation(inv, withoutMethod(cal), schedComponents(cal, comp), ch.now)
		m, err := s.composer.Compose(inv)
		if err != nil {
			return fmt.Errorf("compose the reply to %s: %w", orgAddr, err)
		}
		ch.batch.Mail = append(ch.batch.Mail, m)
		s.metrics.messages.WithLabelValues(methodReply, "mail").Inc()
	default:
		return err
	}
	s.metrics.replies.WithLabelValues(source, partStat).Inc()
	return nil
}

// replyInternal applies an answer to the organizer's copy of uid and puts
// the REPLY in their inbox. seq >= 0 is the SEQUENCE the answer was given
// to; an answer to an older version is ignored (RFC 5546 §2.1.5). It
// returns ErrNotFound when the organizer has no such event or the address
// does not attend it.
func (s *Scheduler) replyInternal(ctx context.Context, ch *change, org auth.User, uid, addr, partStat string, msg *goical.Calendar, seq int) error {
	cal, cur, err := s.store.ObjectByUID(ctx, org.Name, uid)
	if err != nil {
		return err
	}
	po, err := ical.Parse(cur.Data)
	if err != nil {
		return fmt.Errorf("the organizer's copy of %s does not parse: %w", uid, err)
	}
	comps := schedComponents(po.Cal, po.Component)
	if !hasAttendee(comps, addr) {
		return fmt.Errorf("%s does not attend %s: %w", addr, uid, ErrNotFound)
	}
	if seq >= 0 && len(comps) > 0 && seq < sequenceOf(comps[0]) {
		s.log.InfoContext(ctx, "ignored a reply to an earlier version of the event", "organizer", org.Name, "uid", uid, "attendee", addr, "reply_sequence", seq, "sequence", sequenceOf(comps[0]))
		return errStaleReply
	}
	eachAttendee(comps, addr, func(p *goical.Prop) {
		p.Params.Set(goical.ParamParticipationStatus, partStat)
		p.Params.Set(paramSchedStat, statusSuccess)
		p.Params.Del(goical.ParamRSVP)
	})
	o := &Object{CalendarID: cal.ID, Name: cur.Name, ScheduleTag: cur.ScheduleTag, Modified: ch.now}
	if err := finishObject(o, po.Cal); err != nil {
		return err
	}
	ch.batch.Writes = append(ch.batch.Writes, Write{Object: o, Pre: Precondition{IfMatch: cur.ETag}})
	if msg != nil {
		inbox, err := ensureInbox(ctx, s.store, org.Name)
		if err != nil {
			return err
		}
		item := &Object{CalendarID: inbox.ID, Name: inboxItemName(uid), Modified: ch.now}
		if err := finishInboxItem(item, msg); err != nil {
			// A REPLY without times does not make a storable object; the
			// organizer's copy carries the answer anyway.
			s.log.DebugContext(ctx, "reply not kept in the inbox", "uid", uid, "err", err)
			return nil
		}
		ch.batch.Writes = append(ch.batch.Writes, Write{Object: item})
	}
	return nil
}

var errStaleReply = errors.New("calendar: reply to an earlier version of the event")

// RSVP returns what an RSVP link shows: the organizer's event as it is now
// and the attendee's answer. ErrNotFound when the event is gone or the
// address no longer attends it.
func (s *Scheduler) RSVP(ctx context.Context, c auth.RSVPClaims) (RSVPView, error) {
	org, err := s.dir.UserByName(ctx, c.Organizer)
	if errors.Is(err, auth.ErrUserNotFound) {
		return RSVPView{}, ErrNotFound
	}
	if err != nil {
		return RSVPView{}, err
	}
	_, cur, err := s.store.ObjectByUID(ctx, org.Name, c.UID)
	if err != nil {
		return RSVPView{}, err
	}
	po, err := ical.Parse(cur.Data)
	if err != nil {
		return RSVPView{}, err
	}
	return s.view(org, po, strings.ToLower(c.Attendee))
}

func (s *Scheduler) view(org auth.User, po *ical.Object, addr string) (RSVPView, error) {
	comps := schedComponents(po.Cal, po.Component)
	if !hasAttendee(comps, addr) {
		return RSVPView{}, ErrNotFound
	}
	v := RSVPView{
		OrganizerName: organizerName(org, comps), OrganizerEmail: org.Email, AttendeeEmail: addr,
		Lang: langOf(org), Cancelled: isCancelled(comps), PartStat: partNeedsAction,
	}
	for _, a := range attendeesOf(comps) {
		if a.addr == addr {
			v.AttendeeName, v.PartStat = a.name, a.partStat
			break
		}
	}
	inv := &mail.Invitation{}
	if len(comps) > 0 {
		if slug := comps[0].Props.Get(propMeeting); slug != nil && !strings.EqualFold(slug.Value, meetingOptOut) {
			inv.JoinURL = s.prefix + slug.Value
		}
	}
	fillInvitation(inv, po.Cal, comps, s.now())
	v.Summary, v.Location, v.JoinURL = inv.Summary, inv.Location, inv.JoinURL
	v.Start, v.End, v.AllDay, v.TimeZone, v.Recurring = inv.Start, inv.End, inv.AllDay, inv.TimeZone, inv.Recurring
	return v, nil
}

// Respond applies an answer given through an RSVP link: ACCEPTED,
// TENTATIVE or DECLINED.
func (s *Scheduler) Respond(ctx context.Context, c auth.RSVPClaims, partStat string) (RSVPView, error) {
	partStat = strings.ToUpper(partStat)
	if partStat != partAccepted && partStat != partTentative && partStat != partDeclined {
		return RSVPView{}, fmt.Errorf("an answer is ACCEPTED, TENTATIVE or DECLINED, not %q", partStat)
	}
	org, err := s.dir.UserByName(ctx, c.Organizer)
	if errors.Is(err, auth.ErrUserNotFound) {
		return RSVPView{}, ErrNotFound
	}
	if err != nil {
		return RSVPView{}, err
	}
	addr := strings.ToLower(c.Attendee)
	for attempt := 0; ; attempt++ {
		v, err := s.RSVP(ctx, c)
		if err != nil {
			return RSVPView{}, err
		}
		if v.Cancelled {
			return v, ErrCancelled
		}
		ch := &change{now: s.now().UTC()}
		ch.stamp = ch.now.Format("20060102T150405Z")
		if err := s.replyInternal(ctx, ch, org, c.UID, addr, partStat, nil, -1); err != nil {
			return RSVPView{}, err
		}
		err = s.store.Apply(ctx, &ch.batch)
		if errors.Is(err, ErrPrecondition) && attempt < 10 {
			continue // the organizer's copy changed meanwhile
		}
		if err != nil {
			return RSVPView{}, err
		}
		s.metrics.replies.WithLabelValues("rsvp", partStat).Inc()
		s.log.InfoContext(ctx, "RSVP applied", "organizer", org.Name, "uid", c.UID, "attendee", addr, "partstat", partStat)
		return s.RSVP(ctx, c)
	}
}

// ErrCancelled is returned when answering an event its organizer cancelled.
var ErrCancelled = errors.New("calendar: the event was cancelled")

// HandleIMIP processes an iTIP message that arrived by e-mail for an
// organizer (mail.InboundHandler): a REPLY updates their copy, a REFRESH
// sends the attendee the current invitation again, a COUNTER is put in
// their inbox as a proposal. The sender must be the attendee answering.
func (s *Scheduler) HandleIMIP(ctx context.Context, m *mail.Inbound, envelopeFrom string, rcpts []string) error {
	cal, err := ical.Decode(m.Calendar)
	if err != nil {
		return &mail.RejectError{Msg: "the calendar part is not valid iCalendar: " + err.Error()}
	}
	method := strings.ToUpper(m.Method)
	if p := cal.Props.Get(goical.PropMethod); p != nil {
		method = strings.ToUpper(strings.TrimSpace(p.Value))
	}
	comp := ""
	for _, c := range cal.Children {
		if c.Name == goical.CompEvent || c.Name == goical.CompToDo {
			comp = c.Name
			break
		}
	}
	comps := schedComponents(cal, comp)
	if comp == "" || len(comps) == 0 {
		return &mail.RejectError{Msg: "the calendar part has no event"}
	}
	uid, _ := comps[0].Props.Text(goical.PropUID)
	if uid == "" {
		return &mail.RejectError{Msg: "the event has no UID"}
	}
	atts := attendeesOf(comps)
	if len(atts) != 1 || atts[0].addr == "" {
		return &mail.RejectError{Msg: "an iMIP " + method + " names exactly one attendee by mailto: address"}
	}
	att := atts[0]
	senders := []string{strings.ToLower(m.From.Email), strings.ToLower(m.Sender.Email), strings.ToLower(envelopeFrom)}
	if !containsAddr(senders, att.addr) {
		return &mail.RejectError{Msg: "the message comes from " + m.From.Email + " but answers for " + att.addr}
	}
	org, err := s.organizerFor(ctx, comps, rcpts)
	if err != nil {
		return err
	}
	ch := &change{now: s.now().UTC()}
	ch.stamp = ch.now.Format("20060102T150405Z")
	log := s.log.With("organizer", org.Name, "uid", uid, "attendee", att.addr, "method", method)
	switch method {
	case methodReply:
		ps := att.partStat
		if ps != partAccepted && ps != partTentative && ps != partDeclined && ps != "DELEGATED" {
			return &mail.RejectError{Msg: "the reply's PARTSTAT " + ps + " is not an answer"}
		}
		err = s.replyInternal(ctx, ch, org, uid, att.addr, ps, cal, sequenceOf(comps[0]))
		if errors.Is(err, errStaleReply) {
			return nil
		}
		if err == nil {
			s.metrics.replies.WithLabelValues("imip", ps).Inc()
		}
	case methodRefresh:
		err = s.refresh(ctx, ch, org, uid, att)
	case methodCounter:
		err = s.counter(ctx, ch, org, uid, att.addr, cal)
	default:
		return &mail.RejectError{Msg: "salon accepts REPLY, REFRESH and COUNTER by e-mail, not " + method}
	}
	if errors.Is(err, ErrNotFound) {
		return &mail.RejectError{Msg: "no event " + uid + " with attendee " + att.addr + " is organized here"}
	}
	if err != nil {
		return err
	}
	if err := s.store.Apply(ctx, &ch.batch); err != nil {
		return err // temporary: the mail server tries again
	}
	log.InfoContext(ctx, "iMIP message applied")
	return nil
}

func containsAddr(list []string, addr string) bool {
	for _, a := range list {
		if a != "" && a == addr {
			return true
		}
	}
	return false
}

// organizerFor finds the salon user a message is for: its ORGANIZER, or
// (Outlook leaves ORGANIZER out of replies) the envelope recipient.
func (s *Scheduler) organizerFor(ctx context.Context, comps []*goical.Component, rcpts []string) (auth.User, error) {
	cands := []string{}
	if a, _ := organizerOf(comps); a != "" {
		cands = append(cands, a)
	}
	for _, r := range rcpts {
		cands = append(cands, strings.ToLower(strings.Trim(r, "<> ")))
	}
	for _, a := range cands {
		u, err := s.dir.UserByEmail(ctx, a)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, auth.ErrUserNotFound) {
			return auth.User{}, err
		}
	}
	return auth.User{}, &mail.RejectError{Msg: "the message is for no organizer known here"}
}

// refresh sends an attendee who asks for it the current invitation.
func (s *Scheduler) refresh(ctx context.Context, ch *change, org auth.User, uid string, att attendee) error {
	_, cur, err := s.store.ObjectByUID(ctx, org.Name, uid)
	if err != nil {
		return err
	}
	po, err := ical.Parse(cur.Data)
	if err != nil {
		return err
	}
	comps := schedComponents(po.Cal, po.Component)
	if !hasAttendee(comps, att.addr) {
		return ErrNotFound
	}
	link := meetingLink{lang: langOf(org)}
	if p := comps[0].Props.Get(propMeeting); p != nil && !strings.EqualFold(p.Value, meetingOptOut) {
		link.slug, link.url = p.Value, s.prefix+p.Value
	}
	for _, a := range attendeesOf(comps) {
		if a.addr == att.addr {
			att = a
		}
	}
	msg := itipMessage(po.Cal, po.Component, methodRequest, ch.stamp)
	m, err := s.compose(ctx, org, delivery{a: att, method: methodRequest, update: true, from: po.Cal}, newMessage(msg, po.Component, ch.now), uid, link, langOf(org), ch.now)
	if err != nil {
		return err
	}
	ch.batch.Mail = append(ch.batch.Mail, m)
	s.metrics.messages.WithLabelValues(methodRequest, "mail").Inc()
	return nil
}

// counter keeps an attendee's proposal in the organizer's inbox, where
// their client shows it; nothing changes until the organizer decides.
func (s *Scheduler) counter(ctx context.Context, ch *change, org auth.User, uid, addr string, cal *goical.Calendar) error {
	_, cur, err := s.store.ObjectByUID(ctx, org.Name, uid)
	if err != nil {
		return err
	}
	po, err := ical.Parse(cur.Data)
	if err != nil {
		return err
	}
	if !hasAttendee(schedComponents(po.Cal, po.Component), addr) {
		return ErrNotFound
	}
	inbox, err := ensureInbox(ctx, s.store, org.Name)
	if err != nil {
		return err
	}
	item := &Object{CalendarID: inbox.ID, Name: inboxItemName(uid), Modified: ch.now}
	if err := finishInboxItem(item, cal); err != nil {
		return &mail.RejectError{Msg: "the proposal is not a valid event: " + err.Error()}
	}
	ch.batch.Writes = append(ch.batch.Writes, Write{Object: item})
	return nil
}
