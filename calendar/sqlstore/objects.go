package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/salonhq/salon/calendar"
)

const objectColumns = `calendar_id, name, uid, component, etag, data, size, start_utc, end_utc, modified, schedule_tag`

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

// ObjectByUID returns the object with uid in one of owner's ordinary
// calendars, and that calendar, or calendar.ErrNotFound. The scheduling
// inbox does not count: its messages are copies, not the owner's event.
// Should two of owner's calendars hold the UID, the first as Calendars
// lists them wins, so that the answer does not change from one call to
// the next. (Ordering by ID instead would let PostgreSQL walk the primary
// key of every calendar to find the first of owner's.)
func (s *Store) ObjectByUID(ctx context.Context, owner, uid string) (calendar.Calendar, calendar.Object, error) {
	var (
		calRow calendarRow
		objRow objectRow
	)
	err := s.queryRow(ctx, nil, objectByUIDQuery, owner, calendar.KindCalendar, uid).
		Scan(append(calRow.dest(), objRow.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		err = calendar.ErrNotFound
	}
	var c calendar.Calendar
	if err == nil {
		c, err = calRow.calendar()
	}
	if err != nil {
		return calendar.Calendar{}, calendar.Object{}, fmt.Errorf("object with UID %q of %s: %w", uid, owner, err)
	}
	return c, objRow.object(), nil
}

// objectByUIDQuery finds owner's calendars through UNIQUE (owner, name) and
// the object in each through UNIQUE (calendar_id, uid); only the matches,
// usually one, are sorted.
var objectByUIDQuery = `SELECT ` + qualify("c", calendarColumns) + `, ` + qualify("o", objectColumns) + `
	FROM calendars c JOIN objects o ON o.calendar_id = c.id
	WHERE c.owner = ? AND c.kind = ? AND o.uid = ?
	ORDER BY c.sort_order, c.name LIMIT 1`

// qualify prefixes each of the comma-separated columns with the table
// alias, for a query that joins tables with columns of the same name.
func qualify(alias, columns string) string {
	list := strings.Split(columns, ",")
	for i, c := range list {
		list[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(list, ", ")
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
const headColumns = `calendar_id, name, uid, component, etag, NULL, size, start_utc, end_utc, modified, schedule_tag`

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

func scanObject(row scanner) (calendar.Object, error) {
	var r objectRow
	if err := row.Scan(r.dest()...); err != nil {
		return calendar.Object{}, err
	}
	return r.object(), nil
}

// objectRow receives the objectColumns of a row; it lets a query that joins
// objects to another table scan both in one call.
type objectRow struct {
	o               calendar.Object
	start, modified int64
	end             sql.NullInt64
}

// dest lists where Scan puts objectColumns.
func (r *objectRow) dest() []any {
	return []any{&r.o.CalendarID, &r.o.Name, &r.o.UID, &r.o.Component, &r.o.ETag, &r.o.Data, &r.o.Size,
		&r.start, &r.end, &r.modified, &r.o.ScheduleTag}
}

// object decodes the scanned row.
func (r *objectRow) object() calendar.Object {
	o := r.o
	o.Start, o.Modified = fromMicros(r.start), fromMicros(r.modified)
	if r.end.Valid {
		o.End = fromMicros(r.end.Int64)
	}
	return o
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
