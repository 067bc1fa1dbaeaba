package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/salonhq/salon/calendar"
)

const objectColumns = `calendar_id, name, uid, component, etag, data, size, start_utc, end_utc, modified`

// batchSize bounds the names in one IN list: SQLite allows 32,766 bound
// parameters and PostgreSQL 65,535, and shorter lists plan faster.
const batchSize = 500

// ObjectInfos lists the calendar's objects by name, without their data.
func (s *Store) ObjectInfos(ctx context.Context, calendarID int64) ([]calendar.ObjectInfo, error) {
	rows, err := s.query(ctx, nil,
		`SELECT name, uid, etag, size, modified FROM objects WHERE calendar_id = ? ORDER BY name`, calendarID)
	if err != nil {
		return nil, fmt.Errorf("list objects of calendar %d: %w", calendarID, err)
	}
	defer rows.Close()
	var list []calendar.ObjectInfo
	for rows.Next() {
		var (
			o        calendar.ObjectInfo
			modified int64
		)
		if err := rows.Scan(&o.Name, &o.UID, &o.ETag, &o.Size, &modified); err != nil {
			return nil, fmt.Errorf("list objects of calendar %d: %w", calendarID, err)
		}
		o.Modified = fromMicros(modified)
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list objects of calendar %d: %w", calendarID, err)
	}
	if len(list) == 0 {
		if err := s.exists(ctx, calendarID); err != nil {
			return nil, fmt.Errorf("list objects of calendar %d: %w", calendarID, err)
		}
	}
	return list, nil
}

// Object returns the calendar's object name, or calendar.ErrNotFound.
func (s *Store) Object(ctx context.Context, calendarID int64, name string) (calendar.Object, error) {
	o, err := scanObject(s.queryRow(ctx, nil,
		`SELECT `+objectColumns+` FROM objects WHERE calendar_id = ? AND name = ?`, calendarID, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = calendar.ErrNotFound
	}
	if err != nil {
		return calendar.Object{}, fmt.Errorf("calendar %d object %q: %w", calendarID, name, err)
	}
	return o, nil
}

// Objects returns those of the named objects that exist, in no particular
// order. It returns calendar.ErrNotFound only when the calendar itself is
// missing.
func (s *Store) Objects(ctx context.Context, calendarID int64, names []string) ([]calendar.Object, error) {
	names = unique(names)
	list := make([]calendar.Object, 0, len(names))
	for len(names) > 0 {
		batch := names[:min(len(names), batchSize)]
		names = names[len(batch):]
		args := make([]any, 0, 1+len(batch))
		args = append(args, calendarID)
		for _, n := range batch {
			args = append(args, n)
		}
		// Not a prepared statement: its text varies with the list's length.
		rows, err := s.db.QueryContext(ctx, s.db.Rebind(
			`SELECT `+objectColumns+` FROM objects WHERE calendar_id = ? AND name IN (?`+
				strings.Repeat(", ?", len(batch)-1)+`)`), args...)
		if err == nil {
			list, err = scanObjects(list, rows)
		}
		if err != nil {
			return nil, fmt.Errorf("get objects of calendar %d: %w", calendarID, err)
		}
	}
	if len(list) == 0 {
		if err := s.exists(ctx, calendarID); err != nil {
			return nil, fmt.Errorf("get objects of calendar %d: %w", calendarID, err)
		}
	}
	return list, nil
}

// ObjectsInRange returns the calendar's objects of type comp ("" for every
// type) whose [Start, End) overlaps [start, end), a zero start or end
// being unbounded. An object whose End equals its Start is an instant and
// overlaps a range that contains it, as RFC 4791 §9.9 has it. The result
// is a superset for the caller's filter to refine, in no particular order.
func (s *Store) ObjectsInRange(ctx context.Context, calendarID int64, comp string, start, end time.Time) ([]calendar.Object, error) {
	return s.objectsInRange(ctx, calendarID, comp, start, end, objectColumns)
}

// ObjectHeadsInRange is ObjectsInRange without the data: a caller that has
// the objects it needs cached by ETag saves reading them.
func (s *Store) ObjectHeadsInRange(ctx context.Context, calendarID int64, comp string, start, end time.Time) ([]calendar.Object, error) {
	return s.objectsInRange(ctx, calendarID, comp, start, end, headColumns)
}

// headColumns select objectColumns with NULL for the data.
const headColumns = `calendar_id, name, uid, component, etag, NULL, size, start_utc, end_utc, modified`

// shortSpan is how long an object's instances may spread for it to count
// as short (see migration 0002).
const shortSpan = 7 * 24 * time.Hour

// isShort says whether the object's instances all lie within shortSpan of
// its start.
func isShort(o *calendar.Object) int {
	if o.Start.IsZero() || o.End.IsZero() || o.End.Sub(o.Start) > shortSpan {
		return 0
	}
	return 1
}

func (s *Store) objectsInRange(ctx context.Context, calendarID int64, comp string, start, end time.Time, columns string) ([]calendar.Object, error) {
	var q strings.Builder
	var args []any
	// branch appends one SELECT; short restricts it to short objects,
	// which overlap the range only if they start at most shortSpan before
	// it.
	branch := func(short int) {
		q.WriteString(`SELECT ` + columns + ` FROM objects WHERE calendar_id = ?`)
		args = append(args, calendarID)
		if short >= 0 {
			q.WriteString(` AND short_span = ?`)
			args = append(args, short)
		}
		if comp != "" {
			q.WriteString(` AND component = ?`)
			args = append(args, comp)
		}
		if short == 1 {
			q.WriteString(` AND start_utc >= ?`)
			args = append(args, micros(start.Add(-shortSpan)))
		}
		if !end.IsZero() {
			q.WriteString(` AND start_utc < ?`)
			args = append(args, micros(end))
		}
		if !start.IsZero() {
			q.WriteString(` AND (end_utc IS NULL OR end_utc > ? OR start_utc = ?)`)
			args = append(args, micros(start), micros(start))
		}
	}
	if start.IsZero() {
		branch(-1)
	} else {
		branch(1)
		q.WriteString(` UNION ALL `)
		branch(0)
	}
	// One of a few dozen query texts, depending on the columns, the
	// component and which bounds are given.
	rows, err := s.query(ctx, nil, q.String(), args...)
	var list []calendar.Object
	if err == nil {
		list, err = scanObjects(nil, rows)
	}
	if err != nil {
		return nil, fmt.Errorf("query calendar %d: %w", calendarID, err)
	}
	if len(list) == 0 {
		if err := s.exists(ctx, calendarID); err != nil {
			return nil, fmt.Errorf("query calendar %d: %w", calendarID, err)
		}
	}
	return list, nil
}

// scanObjects appends the objects of rows, which select objectColumns,
// to list and closes rows.
func scanObjects(list []calendar.Object, rows *sql.Rows) ([]calendar.Object, error) {
	defer rows.Close()
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, o)
	}
	return list, rows.Err()
}

// PutObject creates or replaces the object o.Name in calendar o.CalendarID
// and returns its new ETag and whether it was created; it fills in o.ETag,
// o.Size and o.Modified. Errors: calendar.ErrNotFound when the calendar is
// missing, calendar.ErrPrecondition when pre fails (an If-Match on a
// missing object fails), *calendar.UIDConflictError when another object of
// the calendar has o.UID.
func (s *Store) PutObject(ctx context.Context, o *calendar.Object, pre calendar.Precondition) (string, bool, error) {
	if o.Name == "" || o.UID == "" || o.Component == "" {
		return "", false, fmt.Errorf("put calendar %d object %q: name, UID and component must not be empty", o.CalendarID, o.Name)
	}
	data := o.Data
	if data == nil {
		data = []byte{} // an empty object, not a NULL
	}
	now := s.now()
	var (
		etag    string
		created bool
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, o.CalendarID); err != nil {
			return err
		}
		// The object of that name and the one holding the UID, usually the
		// same row, in one query.
		rows, err := s.query(ctx, tx,
			`SELECT name, etag FROM objects WHERE calendar_id = ? AND (name = ? OR uid = ?)`,
			o.CalendarID, o.Name, o.UID)
		if err != nil {
			return err
		}
		var current, uidOwner string
		for rows.Next() {
			var name, tag string
			if err := rows.Scan(&name, &tag); err != nil {
				rows.Close()
				return err
			}
			if name == o.Name {
				current = tag
			} else {
				uidOwner = name
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		created = current == ""
		if err := check(pre, current); err != nil {
			return err
		}
		if uidOwner != "" {
			return &calendar.UIDConflictError{UID: o.UID, Name: uidOwner}
		}

		token, err := s.logChange(ctx, tx, o.CalendarID, o.Name, false, now)
		if err != nil {
			return err
		}
		etag = makeETag(token, data)
		var end sql.NullInt64
		if !o.End.IsZero() {
			end = sql.NullInt64{Int64: micros(o.End), Valid: true}
		}
		if created {
			_, err = s.exec(ctx, tx,
				`INSERT INTO objects (calendar_id, name, uid, component, etag, token, data, size, start_utc, end_utc, short_span, modified)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				o.CalendarID, o.Name, o.UID, o.Component, etag, token, data, len(data), micros(o.Start), end, isShort(o), micros(now))
		} else {
			_, err = s.exec(ctx, tx,
				`UPDATE objects SET uid = ?, component = ?, etag = ?, token = ?, data = ?, size = ?,
					start_utc = ?, end_utc = ?, short_span = ?, modified = ?
				WHERE calendar_id = ? AND name = ?`,
				o.UID, o.Component, etag, token, data, len(data), micros(o.Start), end, isShort(o), micros(now),
				o.CalendarID, o.Name)
		}
		return err
	})
	var conflict *calendar.UIDConflictError
	if errors.As(err, &conflict) {
		return "", false, conflict
	}
	if err != nil {
		return "", false, fmt.Errorf("put calendar %d object %q: %w", o.CalendarID, o.Name, err)
	}
	o.ETag, o.Size, o.Modified = etag, len(o.Data), fromMicros(micros(now))
	return etag, created, nil
}

// DeleteObject deletes the calendar's object name. Errors:
// calendar.ErrNotFound when it or the calendar is missing,
// calendar.ErrPrecondition when pre fails (an If-Match on a missing object
// fails, as RFC 7232 §3.1 has it).
func (s *Store) DeleteObject(ctx context.Context, calendarID int64, name string, pre calendar.Precondition) error {
	now := s.now()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, calendarID); err != nil {
			return err
		}
		var current string
		err := s.queryRow(ctx, tx,
			`SELECT etag FROM objects WHERE calendar_id = ? AND name = ?`, calendarID, name).Scan(&current)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := check(pre, current); err != nil {
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
	})
	if err != nil {
		return fmt.Errorf("delete calendar %d object %q: %w", calendarID, name, err)
	}
	return nil
}

// check evaluates pre against the current ETag, "" when there is no object
// (RFC 7232 §3.1, §3.2): ETags compare strongly, and an If-Match of "*"
// asks only that the object exists.
func check(pre calendar.Precondition, current string) error {
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
	return nil
}

// makeETag names one write of data: the token makes it change on every
// write, even of the same bytes; the hash tells writes apart should tokens
// ever repeat, as after restoring an older backup.
func makeETag(token int64, data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + strconv.FormatInt(token, 10) + "-" + hex.EncodeToString(sum[:4]) + `"`
}

func scanObject(row scanner) (calendar.Object, error) {
	var (
		o               calendar.Object
		start, modified int64
		end             sql.NullInt64
	)
	err := row.Scan(&o.CalendarID, &o.Name, &o.UID, &o.Component, &o.ETag, &o.Data, &o.Size,
		&start, &end, &modified)
	if err != nil {
		return calendar.Object{}, err
	}
	o.Start, o.Modified = fromMicros(start), fromMicros(modified)
	if end.Valid {
		o.End = fromMicros(end.Int64)
	}
	return o, nil
}

// unique returns names without repeats, keeping the first of each.
func unique(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
