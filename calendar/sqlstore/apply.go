package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/mail"
)

// Outbox queues the mail a calendar change causes. *mail.Outbox is one;
// the Store asks only for these two abilities so that it needs no more of
// package mail than its Message.
type Outbox interface {
	// EnqueueTx queues msgs in tx, the transaction of the change that
	// caused them, so that the mail goes out if and only if the change is
	// kept.
	EnqueueTx(ctx context.Context, tx *sql.Tx, msgs []mail.Message) error
	// Wake tells the outbox that queued mail has been committed. It is
	// called after the commit, so that a sender it wakes finds the mail,
	// and it must not block.
	Wake()
}

// errNoOutbox refuses a batch with mail when Options.Outbox is nil: its
// mail could be neither queued nor dropped silently.
var errNoOutbox = errors.New("no outbox is configured to queue its mail (set sqlstore.Options.Outbox)")

// Apply performs the writes of b in order and queues b.Mail, all in one
// transaction: everything happens or nothing does. Each write behaves and
// fails as PutObject or DeleteObject would, seeing the writes before it;
// the first that fails is returned as a *calendar.WriteError with its
// index, wrapping the error PutObject or DeleteObject would have returned.
// Apply fills in each put's ETag and Created and its Object's ETag, Size
// and Modified; a failed Apply fills in nothing. After a commit with mail
// it wakes the outbox once.
func (s *Store) Apply(ctx context.Context, b *calendar.Batch) error {
	err := s.apply(ctx, b.Writes, b.Mail)
	if _, ok := err.(*calendar.WriteError); ok {
		return err
	}
	if err != nil {
		return fmt.Errorf("apply %d writes and %d mail messages: %w", len(b.Writes), len(b.Mail), err)
	}
	return nil
}

// PutObject creates or replaces the object o.Name in calendar o.CalendarID
// and returns its new ETag and whether it was created; it fills in o.ETag,
// o.Size and o.Modified. o.ScheduleTag is stored as given, so a replace
// that keeps the schedule-tag passes it again. Errors: calendar.ErrNotFound
// when the calendar is missing, calendar.ErrPrecondition when pre fails (an
// If-Match or If-Schedule-Tag-Match on a missing object fails),
// *calendar.UIDConflictError when another object of the calendar has
// o.UID.
func (s *Store) PutObject(ctx context.Context, o *calendar.Object, pre calendar.Precondition) (string, bool, error) {
	w := []calendar.Write{{Object: o, Pre: pre}}
	if err := s.single(ctx, w); err != nil {
		return "", false, err
	}
	return w[0].ETag, w[0].Created, nil
}

// DeleteObject deletes the calendar's object name. Errors:
// calendar.ErrNotFound when it or the calendar is missing,
// calendar.ErrPrecondition when pre fails (an If-Match on a missing object
// fails, as RFC 7232 §3.1 has it).
func (s *Store) DeleteObject(ctx context.Context, calendarID int64, name string, pre calendar.Precondition) error {
	return s.single(ctx, []calendar.Write{{
		Object: &calendar.Object{CalendarID: calendarID, Name: name},
		Delete: true,
		Pre:    pre,
	}})
}

// single applies a batch of one write and returns its error the way
// PutObject and DeleteObject always have: not as a WriteError.
func (s *Store) single(ctx context.Context, w []calendar.Write) error {
	err := s.apply(ctx, w, nil)
	if we, ok := err.(*calendar.WriteError); ok {
		return we.Err
	}
	if err != nil {
		return describe(&w[0], err)
	}
	return nil
}

// apply does the work of Apply. A failing write's error is a
// *calendar.WriteError; other errors (the transaction's, the outbox's) are
// returned as they are.
func (s *Store) apply(ctx context.Context, writes []calendar.Write, msgs []mail.Message) error {
	for i := range writes {
		w := &writes[i]
		if w.Object == nil {
			return &calendar.WriteError{Index: i, Err: errors.New("calendar: a write without an object; set Write.Object")}
		}
		if !w.Delete && (w.Object.Name == "" || w.Object.UID == "" || w.Object.Component == "") {
			return &calendar.WriteError{Index: i, Err: describe(w, errors.New("name, UID and component must not be empty"))}
		}
	}
	if len(msgs) > 0 && s.outbox == nil {
		return errNoOutbox
	}
	if len(writes) == 0 && len(msgs) == 0 {
		return nil
	}
	now := s.now()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.lockAll(ctx, tx, writes); err != nil {
			return err
		}
		for i := range writes {
			w := &writes[i]
			var err error
			if w.Delete {
				err = s.deleteObject(ctx, tx, w.Object.CalendarID, w.Object.Name, w.Pre, now)
			} else {
				w.ETag, w.Created, err = s.putObject(ctx, tx, w.Object, w.Pre, now)
			}
			if err != nil {
				return &calendar.WriteError{Index: i, Err: describe(w, err)}
			}
		}
		if len(msgs) > 0 {
			if err := s.outbox.EnqueueTx(ctx, tx, msgs); err != nil {
				return fmt.Errorf("queue mail: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		// Rolled back: no ETag of a write that did not happen may reach
		// the caller.
		for i := range writes {
			writes[i].ETag, writes[i].Created = "", false
		}
		return err
	}
	modified := fromMicros(micros(now))
	for i := range writes {
		if w := &writes[i]; !w.Delete {
			w.Object.ETag, w.Object.Size, w.Object.Modified = w.ETag, len(w.Object.Data), modified
		}
	}
	if len(msgs) > 0 {
		s.outbox.Wake()
	}
	return nil
}

// describe puts the write's object in err, as PutObject and DeleteObject
// report it; a UID conflict stays as it is, being a message for the
// client already.
func describe(w *calendar.Write, err error) error {
	var conflict *calendar.UIDConflictError
	switch {
	case errors.As(err, &conflict):
		return conflict
	case w.Delete:
		return fmt.Errorf("delete calendar %d object %q: %w", w.Object.CalendarID, w.Object.Name, err)
	default:
		return fmt.Errorf("put calendar %d object %q: %w", w.Object.CalendarID, w.Object.Name, err)
	}
}

// lockAll locks the calendars the writes touch, each once, in ascending
// ID order: two transactions that touch the same calendars then queue
// behind one another, where taking them in the order of their writes
// could have each hold a calendar the other waits for. A missing calendar
// fails the first write to it.
func (s *Store) lockAll(ctx context.Context, tx *sql.Tx, writes []calendar.Write) error {
	var buf [8]int64 // room for most batches without allocating
	ids := buf[:0]
	for _, w := range writes {
		ids = append(ids, w.Object.CalendarID)
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if err := s.lock(ctx, tx, id); err != nil {
			i := slices.IndexFunc(writes, func(w calendar.Write) bool { return w.Object.CalendarID == id })
			return &calendar.WriteError{Index: i, Err: describe(&writes[i], err)}
		}
	}
	return nil
}

// putObject creates or replaces o in tx, which holds its calendar's lock,
// and returns the new ETag and whether it created the object.
func (s *Store) putObject(ctx context.Context, tx *sql.Tx, o *calendar.Object, pre calendar.Precondition, now time.Time) (string, bool, error) {
	// The object of that name and the one holding the UID, usually the
	// same row, in one query.
	rows, err := s.query(ctx, tx,
		`SELECT name, etag, schedule_tag FROM objects WHERE calendar_id = ? AND (name = ? OR uid = ?)`,
		o.CalendarID, o.Name, o.UID)
	if err != nil {
		return "", false, err
	}
	var current, currentTag, uidOwner string
	for rows.Next() {
		var name, etag, tag string
		if err := rows.Scan(&name, &etag, &tag); err != nil {
			rows.Close()
			return "", false, err
		}
		if name == o.Name {
			current, currentTag = etag, tag
		} else {
			uidOwner = name
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", false, err
	}
	if err := check(pre, current, currentTag); err != nil {
		return "", false, err
	}
	if uidOwner != "" {
		return "", false, &calendar.UIDConflictError{UID: o.UID, Name: uidOwner}
	}

	token, err := s.logChange(ctx, tx, o.CalendarID, o.Name, false, now)
	if err != nil {
		return "", false, err
	}
	data := o.Data
	if data == nil {
		data = []byte{} // an empty object, not a NULL
	}
	etag := makeETag(token, data)
	var end sql.NullInt64
	if !o.End.IsZero() {
		end = sql.NullInt64{Int64: micros(o.End), Valid: true}
	}
	created := current == ""
	if created {
		_, err = s.exec(ctx, tx,
			`INSERT INTO objects (calendar_id, name, uid, component, etag, token, data, size, start_utc, end_utc, short_span, modified, schedule_tag)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.CalendarID, o.Name, o.UID, o.Component, etag, token, data, len(data), micros(o.Start), end, isShort(o), micros(now), o.ScheduleTag)
	} else {
		_, err = s.exec(ctx, tx,
			`UPDATE objects SET uid = ?, component = ?, etag = ?, token = ?, data = ?, size = ?,
				start_utc = ?, end_utc = ?, short_span = ?, modified = ?, schedule_tag = ?
			WHERE calendar_id = ? AND name = ?`,
			o.UID, o.Component, etag, token, data, len(data), micros(o.Start), end, isShort(o), micros(now), o.ScheduleTag,
			o.CalendarID, o.Name)
	}
	if err != nil {
		return "", false, err
	}
	return etag, created, nil
}

// deleteObject deletes the calendar's object name in tx, which holds the
// calendar's lock.
func (s *Store) deleteObject(ctx context.Context, tx *sql.Tx, calendarID int64, name string, pre calendar.Precondition, now time.Time) error {
	var current, currentTag string
	err := s.queryRow(ctx, tx,
		`SELECT etag, schedule_tag FROM objects WHERE calendar_id = ? AND name = ?`, calendarID, name).Scan(&current, &currentTag)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err := check(pre, current, currentTag); err != nil {
		return err
	}
	if current == "" {
		return calendar.ErrNotFound
	}
	if _, err := s.logChange(ctx, tx, calendarID, name, true, now); err != nil {
		return err
	}
	_, err = s.exec(ctx, tx,
		`DELETE FROM objects WHERE calendar_id = ? AND name = ?`, calendarID, name)
	return err
}

// check evaluates pre against the current ETag and schedule-tag, "" when
// there is no object (RFC 7232 §3.1, §3.2): ETags compare strongly, and an
// If-Match of "*" asks only that the object exists. If-Schedule-Tag-Match
// asks that the object exists with exactly that schedule-tag (RFC 6638
// §8.3): an attendee's client may then write its copy even when only the
// ETag moved, but not once the organizer's changes have reached it.
func check(pre calendar.Precondition, current, scheduleTag string) error {
	switch pre.IfMatch {
	case "":
	case "*":
		if current == "" {
			return calendar.ErrPrecondition
		}
	default:
		if pre.IfMatch != current {
			return calendar.ErrPrecondition
		}
	}
	if pre.IfNoneMatchAny && current != "" {
		return calendar.ErrPrecondition
	}
	if pre.IfScheduleTag != "" && (current == "" || pre.IfScheduleTag != scheduleTag) {
		return calendar.ErrPrecondition
	}
	return nil
}

// makeETag names one write of data: the token makes it change on every
// write, even of the same bytes; the hash tells writes apart should tokens
// ever repeat, as after restoring an older backup.
func makeETag(token int64, data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + strconv.FormatInt(token, 10) + "-" + hex.EncodeToString(sum[:4]) + `"`
}
