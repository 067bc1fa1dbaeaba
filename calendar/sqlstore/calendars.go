package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/salonhq/salon/calendar"
)

const calendarColumns = `id, owner, name, kind, display_name, description, color, sort_order, timezone,
	components, dead_props, sync_token, created_at, updated_at`

// Calendars returns owner's calendars by sort order, then name.
func (s *Store) Calendars(ctx context.Context, owner string) ([]calendar.Calendar, error) {
	rows, err := s.query(ctx, nil,
		`SELECT `+calendarColumns+` FROM calendars WHERE owner = ? ORDER BY sort_order, name`, owner)
	if err != nil {
		return nil, fmt.Errorf("list calendars of %s: %w", owner, err)
	}
	defer rows.Close()
	var list []calendar.Calendar
	for rows.Next() {
		c, err := scanCalendar(rows)
		if err != nil {
			return nil, fmt.Errorf("list calendars of %s: %w", owner, err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list calendars of %s: %w", owner, err)
	}
	return list, nil
}

// Calendar returns owner's calendar name, or calendar.ErrNotFound.
func (s *Store) Calendar(ctx context.Context, owner, name string) (calendar.Calendar, error) {
	c, err := scanCalendar(s.queryRow(ctx, nil,
		`SELECT `+calendarColumns+` FROM calendars WHERE owner = ? AND name = ?`, owner, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = calendar.ErrNotFound
	}
	if err != nil {
		return calendar.Calendar{}, fmt.Errorf("calendar %s/%s: %w", owner, name, err)
	}
	return c, nil
}

// CreateCalendar stores c and fills in its ID, SyncToken, CreatedAt and
// UpdatedAt. It returns calendar.ErrExists when the owner already has a
// calendar of that name. c.Kind is kept for good: UpdateCalendar does not
// change it.
func (s *Store) CreateCalendar(ctx context.Context, c *calendar.Calendar) error {
	if c.Owner == "" || c.Name == "" {
		return fmt.Errorf("create calendar %q/%q: owner and name must not be empty", c.Owner, c.Name)
	}
	if c.Kind != calendar.KindCalendar && c.Kind != calendar.KindInbox {
		return fmt.Errorf("create calendar %s/%s: unknown kind %q; want %q or %q", c.Owner, c.Name, c.Kind, calendar.KindCalendar, calendar.KindInbox)
	}
	deadProps, err := encodeDeadProps(c.DeadProps)
	if err != nil {
		return fmt.Errorf("create calendar %s/%s: %w", c.Owner, c.Name, err)
	}
	now := s.now()
	var id, token int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		// ON CONFLICT DO NOTHING reports a taken name as no row, the same
		// way on both engines and without aborting the transaction.
		err := s.queryRow(ctx, tx,
			`INSERT INTO calendars (owner, name, kind, display_name, description, color, sort_order,
				timezone, components, dead_props, sync_token, min_token, log_rows, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?)
			ON CONFLICT (owner, name) DO NOTHING RETURNING id`,
			c.Owner, c.Name, c.Kind, c.DisplayName, c.Description, c.Color, c.Order,
			c.Timezone, strings.Join(c.Components, ","), deadProps, micros(now), micros(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return calendar.ErrExists
		}
		if err != nil {
			return err
		}
		// The calendar's first token is where a sync from scratch starts.
		if token, err = s.logChange(ctx, tx, id, "", false, now); err != nil {
			return err
		}
		_, err = s.exec(ctx, tx,
			`UPDATE calendars SET min_token = ? WHERE id = ?`, token, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("create calendar %s/%s: %w", c.Owner, c.Name, err)
	}
	c.ID, c.SyncToken = id, token
	c.CreatedAt, c.UpdatedAt = fromMicros(micros(now)), fromMicros(micros(now))
	return nil
}

// UpdateCalendar replaces the properties of the calendar c.ID (not its
// owner, name or kind) and advances its sync token, which is also its
// ctag. It fills in c.SyncToken and c.UpdatedAt.
func (s *Store) UpdateCalendar(ctx context.Context, c *calendar.Calendar) error {
	deadProps, err := encodeDeadProps(c.DeadProps)
	if err != nil {
		return fmt.Errorf("update calendar %d: %w", c.ID, err)
	}
	now := s.now()
	var token int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, c.ID); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx,
			`UPDATE calendars SET display_name = ?, description = ?, color = ?, sort_order = ?,
				timezone = ?, components = ?, dead_props = ?
			WHERE id = ?`,
			c.DisplayName, c.Description, c.Color, c.Order,
			c.Timezone, strings.Join(c.Components, ","), deadProps, c.ID)
		if err != nil {
			return err
		}
		token, err = s.logChange(ctx, tx, c.ID, "", false, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("update calendar %d: %w", c.ID, err)
	}
	c.SyncToken, c.UpdatedAt = token, fromMicros(micros(now))
	return nil
}

// DeleteCalendar deletes owner's calendar name with its objects and change
// log, or returns calendar.ErrNotFound.
func (s *Store) DeleteCalendar(ctx context.Context, owner, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := s.queryRow(ctx, tx,
			`SELECT id FROM calendars WHERE owner = ? AND name = ?`+s.forUpdate, owner, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return calendar.ErrNotFound
		}
		if err != nil {
			return err
		}
		// The foreign keys cascade too, but only where SQLite was told to
		// enforce them; deleting explicitly does not depend on it.
		for _, q := range []string{
			`DELETE FROM objects WHERE calendar_id = ?`,
			`DELETE FROM changes WHERE calendar_id = ?`,
			`DELETE FROM calendars WHERE id = ?`,
		} {
			if _, err := s.exec(ctx, tx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete calendar %s/%s: %w", owner, name, err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanCalendar(row scanner) (calendar.Calendar, error) {
	var r calendarRow
	if err := row.Scan(r.dest()...); err != nil {
		return calendar.Calendar{}, err
	}
	return r.calendar()
}

// calendarRow receives the calendarColumns of a row; it lets a query that
// joins calendars to another table scan both in one call.
type calendarRow struct {
	c                    calendar.Calendar
	components, props    string
	createdAt, updatedAt int64
}

// dest lists where Scan puts calendarColumns.
func (r *calendarRow) dest() []any {
	return []any{&r.c.ID, &r.c.Owner, &r.c.Name, &r.c.Kind, &r.c.DisplayName, &r.c.Description, &r.c.Color, &r.c.Order,
		&r.c.Timezone, &r.components, &r.props, &r.c.SyncToken, &r.createdAt, &r.updatedAt}
}

// calendar decodes the scanned row.
func (r *calendarRow) calendar() (calendar.Calendar, error) {
	c := r.c
	if r.components != "" {
		c.Components = strings.Split(r.components, ",")
	}
	if r.props != "{}" {
		if err := json.Unmarshal([]byte(r.props), &c.DeadProps); err != nil {
			return calendar.Calendar{}, fmt.Errorf("calendar %d: dead properties: %w", c.ID, err)
		}
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(r.createdAt), fromMicros(r.updatedAt)
	return c, nil
}

// encodeDeadProps is props as the dead_props column keeps it: a JSON
// object, "{}" when there are none.
func encodeDeadProps(props map[string]string) (string, error) {
	if len(props) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(props)
	if err != nil {
		return "", fmt.Errorf("encode dead properties: %w", err)
	}
	return string(b), nil
}
