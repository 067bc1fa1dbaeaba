// Package meeting owns salon's durable meeting records: a meeting's slug
// (the {slug} in /m/{slug}), its title and when it was made, and which one
// is the demo meeting created on first start. Later it will link meetings to
// calendar events and hold roles and room policy.
//
// It does not know who is in a room right now (that is internal/roomstate)
// nor how to reach a room (web and signaling).
package meeting

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/salonhq/salon/internal/db"
)

// Errors returned by Store. Match them with errors.Is.
var (
	ErrNotFound = errors.New("meeting not found")
	ErrExists   = errors.New("meeting already exists")
)

// maxUIDLen bounds an event UID kept with a meeting; longer UIDs are
// refused by the calendar long before they get here.
const maxUIDLen = 1024

// DemoTitle is the title of the meeting EnsureDemo creates.
const DemoTitle = "Demo meeting"

// maxTitleLen bounds a title in bytes; titles show in page headers and
// invitations, not as documents.
const maxTitleLen = 1024

// Meeting is one meeting room that outlives the people in it.
type Meeting struct {
	Slug      string
	Title     string
	CreatedAt time.Time
}

//go:embed migrations/*.sql
var migrations embed.FS

// Store keeps meetings in the SQL database.
type Store struct {
	db *db.DB
}

// NewStore returns a Store on d. Call Migrate before using it.
func NewStore(d *db.DB) *Store {
	return &Store{db: d}
}

// Migrate creates or updates the tables the Store needs.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	return s.db.Migrate(ctx, "meeting", sub)
}

// Create stores m. A zero CreatedAt means now. It returns ErrExists when the
// slug is taken.
func (s *Store) Create(ctx context.Context, m Meeting) error {
	return s.insert(ctx, m, false)
}

func (s *Store) insert(ctx context.Context, m Meeting, demo bool) error {
	if !ValidSlug(m.Slug) {
		return fmt.Errorf("create meeting: invalid slug %q", m.Slug)
	}
	if len(m.Title) > maxTitleLen {
		return fmt.Errorf("create meeting %s: title longer than %d bytes", m.Slug, maxTitleLen)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	// ON CONFLICT DO NOTHING reports a taken slug (or a second demo) as zero
	// rows, the same way on SQLite and PostgreSQL.
	res, err := s.db.ExecContext(ctx, s.db.Rebind(
		`INSERT INTO meetings (slug, title, created_at, demo) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		m.Slug, m.Title, dbTime(m.CreatedAt), demo)
	if err != nil {
		return fmt.Errorf("create meeting %s: %w", m.Slug, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("create meeting %s: %w", m.Slug, err)
	}
	if n == 0 {
		return fmt.Errorf("create meeting %s: %w", m.Slug, ErrExists)
	}
	return nil
}

// Get returns the meeting named slug, or ErrNotFound.
func (s *Store) Get(ctx context.Context, slug string) (Meeting, error) {
	if !ValidSlug(slug) {
		return Meeting{}, fmt.Errorf("meeting %q: %w", slug, ErrNotFound)
	}
	m, err := scanMeeting(s.db.QueryRowContext(ctx, s.db.Rebind(
		`SELECT slug, title, created_at FROM meetings WHERE slug = ?`), slug))
	if err != nil {
		return Meeting{}, fmt.Errorf("meeting %s: %w", slug, err)
	}
	return m, nil
}

// List returns every meeting, oldest first.
func (s *Store) List(ctx context.Context) ([]Meeting, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT slug, title, created_at FROM meetings ORDER BY created_at, slug`)
	if err != nil {
		return nil, fmt.Errorf("list meetings: %w", err)
	}
	defer rows.Close()
	var list []Meeting
	for rows.Next() {
		m, err := scanMeeting(rows)
		if err != nil {
			return nil, fmt.Errorf("list meetings: %w", err)
		}
		list = append(list, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list meetings: %w", err)
	}
	return list, nil
}

// ForEvent returns the meeting of the organizer's event uid, creating it
// (with a new unguessable slug and title) when the event has none yet.
// Every save of the event, and every occurrence of a series, finds the same
// room. The title of an existing meeting follows the event's.
func (s *Store) ForEvent(ctx context.Context, organizer, uid, title string) (Meeting, error) {
	if organizer == "" || uid == "" || len(uid) > maxUIDLen {
		return Meeting{}, fmt.Errorf("meeting for event: organizer and a UID of 1 to %d bytes are required", maxUIDLen)
	}
	title = CleanTitle(title)
	get := func() (Meeting, error) {
		return scanMeeting(s.db.QueryRowContext(ctx, s.db.Rebind(
			`SELECT slug, title, created_at FROM meetings WHERE organizer = ? AND event_uid = ?`), organizer, uid))
	}
	// Two saves of one new event racing: the unique index lets one insert
	// win and the other read the winner's.
	for range 3 {
		m, err := get()
		if err == nil {
			if m.Title != title {
				if _, err := s.db.ExecContext(ctx, s.db.Rebind(
					`UPDATE meetings SET title = ? WHERE slug = ?`), title, m.Slug); err != nil {
					return Meeting{}, fmt.Errorf("meeting for event %s: %w", uid, err)
				}
				m.Title = title
			}
			return m, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Meeting{}, fmt.Errorf("meeting for event %s: %w", uid, err)
		}
		m = Meeting{Slug: NewSlug(), Title: title, CreatedAt: dbTime(time.Now())}
		res, err := s.db.ExecContext(ctx, s.db.Rebind(
			`INSERT INTO meetings (slug, title, created_at, demo, organizer, event_uid) VALUES (?, ?, ?, FALSE, ?, ?) ON CONFLICT DO NOTHING`),
			m.Slug, m.Title, m.CreatedAt, organizer, uid)
		if err != nil {
			return Meeting{}, fmt.Errorf("meeting for event %s: %w", uid, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return m, nil
		}
	}
	return Meeting{}, fmt.Errorf("meeting for event %s: lost the race three times", uid)
}

// CleanTitle makes an event summary fit for a meeting title: one line,
// no control characters, at most maxTitleLen bytes.
func CleanTitle(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	for len(s) > maxTitleLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// EnsureDemo returns the demo meeting, creating it (titled DemoTitle, with a
// new slug) when there is none yet. created reports whether it was made by
// this call, so that the caller can announce the link once.
func (s *Store) EnsureDemo(ctx context.Context) (m Meeting, created bool, err error) {
	// Two processes starting together may both find no demo; the unique
	// index lets one insert win and the other read the winner's.
	for range 3 {
		m, err = scanMeeting(s.db.QueryRowContext(ctx,
			`SELECT slug, title, created_at FROM meetings WHERE demo`))
		if err == nil {
			return m, false, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Meeting{}, false, fmt.Errorf("find demo meeting: %w", err)
		}
		m = Meeting{Slug: NewSlug(), Title: DemoTitle, CreatedAt: time.Now()}
		err = s.insert(ctx, m, true)
		if err == nil {
			m.CreatedAt = dbTime(m.CreatedAt)
			return m, true, nil
		}
		if !errors.Is(err, ErrExists) {
			return Meeting{}, false, err
		}
	}
	return Meeting{}, false, errors.New("create demo meeting: lost the race three times")
}

type scanner interface{ Scan(dest ...any) error }

func scanMeeting(row scanner) (Meeting, error) {
	var m Meeting
	if err := row.Scan(&m.Slug, &m.Title, &m.CreatedAt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Meeting{}, ErrNotFound
		}
		return Meeting{}, err
	}
	m.CreatedAt = m.CreatedAt.UTC()
	return m, nil
}

// dbTime is t as the database keeps it: UTC, to the microsecond (the
// precision of a PostgreSQL timestamp).
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
