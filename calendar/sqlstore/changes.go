package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/salonhq/salon/calendar"
)

// Changes returns what changed in the calendar after token, one entry per
// object name (its latest change, in token order), and the current token.
// Token 0 asks for everything: each object comes back as a change, by
// name. A token
// the calendar never issued (another calendar's, one from the future) or
// one older than the log keeps is calendar.ErrTokenGone (RFC 6578 §3.7
// valid-sync-token); a missing calendar is calendar.ErrNotFound.
//
// Each answer comes from one SQL statement, so it describes one committed
// state of the calendar.
func (s *Store) Changes(ctx context.Context, calendarID int64, token int64) ([]calendar.Change, int64, error) {
	var (
		list    []calendar.Change
		current int64
		err     error
	)
	if token == 0 {
		list, current, err = s.everything(ctx, calendarID)
	} else {
		list, current, err = s.changesSince(ctx, calendarID, token)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("changes of calendar %d since %d: %w", calendarID, token, err)
	}
	return list, current, nil
}

// everything lists every object of the calendar as a change.
func (s *Store) everything(ctx context.Context, calendarID int64) ([]calendar.Change, int64, error) {
	rows, err := s.query(ctx, nil,
		`SELECT c.sync_token, o.name, o.token
		FROM calendars c LEFT JOIN objects o ON o.calendar_id = c.id
		WHERE c.id = ? ORDER BY o.name`, calendarID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var (
		list    []calendar.Change
		current int64
		found   bool
	)
	for rows.Next() {
		var (
			name  sql.NullString
			token sql.NullInt64
		)
		if err := rows.Scan(&current, &name, &token); err != nil {
			return nil, 0, err
		}
		found = true
		if name.Valid {
			list = append(list, calendar.Change{Name: name.String, Token: token.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if !found {
		return nil, 0, calendar.ErrNotFound
	}
	return list, current, nil
}

// changesSince reads the log after token, keeping each name's latest entry.
func (s *Store) changesSince(ctx context.Context, calendarID, since int64) ([]calendar.Change, int64, error) {
	// known counts the log entries with exactly the client's token: a token
	// of this calendar is its current one, its oldest answerable one, or
	// one still in the log. The subquery is uncorrelated so that it runs
	// once, not once per row.
	rows, err := s.query(ctx, nil,
		`SELECT c.sync_token, c.min_token,
			(SELECT COUNT(*) FROM changes k WHERE k.calendar_id = ? AND k.token = ?) AS known,
			ch.name, ch.deleted, ch.token
		FROM calendars c
		LEFT JOIN changes ch ON ch.calendar_id = c.id AND ch.token > ? AND ch.name <> ''
		WHERE c.id = ? ORDER BY ch.token`, calendarID, since, since, calendarID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var (
		log            []calendar.Change
		current, floor int64
		known          int
		found          bool
	)
	for rows.Next() {
		var (
			name    sql.NullString
			deleted sql.NullBool
			token   sql.NullInt64
		)
		if err := rows.Scan(&current, &floor, &known, &name, &deleted, &token); err != nil {
			return nil, 0, err
		}
		found = true
		if name.Valid {
			log = append(log, calendar.Change{Name: name.String, Deleted: deleted.Bool, Token: token.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if !found {
		return nil, 0, calendar.ErrNotFound
	}
	if since > current || since < floor || (since != current && since != floor && known == 0) {
		return nil, 0, calendar.ErrTokenGone
	}
	return latest(log), current, nil
}

// latest keeps the last entry of each name in log, which is in token
// order, and keeps that order.
func latest(log []calendar.Change) []calendar.Change {
	seen := make(map[string]bool, len(log))
	keep := len(log)
	for i := len(log) - 1; i >= 0; i-- {
		if seen[log[i].Name] {
			continue
		}
		seen[log[i].Name] = true
		keep--
		log[keep] = log[i]
	}
	return log[keep:]
}
