package auth

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/salonhq/salon/internal/db"
)

// The schema differs between engines only in how ids are generated, so
// each engine has its own directory of migrations.
//
//go:embed migrations
var migrations embed.FS

// Field limits.
const (
	maxNameLen          = 64
	maxEmailLen         = 254 // RFC 5321 §4.5.3.1.3 path limit, less the brackets
	maxDisplayNameRunes = 128
	maxLabelRunes       = 64
)

// UsersOptions are the collaborators and knobs of a Users. Zero fields take
// defaults.
type UsersOptions struct {
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default: discard
	Throttle ThrottleOptions
}

// Users keeps salon's accounts and app passwords in the SQL database and
// checks sign-ins against them. It is safe for concurrent use.
type Users struct {
	db       *db.DB
	now      func() time.Time
	log      *slog.Logger
	hasher   *hasher
	throttle *throttle
	verified *verifiedCache
}

// NewUsers returns a Users on d. Call Migrate before using it.
func NewUsers(d *db.DB, opts UsersOptions) *Users {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Users{
		db:       d,
		now:      opts.Now,
		log:      opts.Logger,
		hasher:   newHasher(defaultParams),
		throttle: newThrottle(opts.Throttle, opts.Logger),
		verified: newVerifiedCache(),
	}
}

// Migrate creates or updates the tables Users needs.
func (s *Users) Migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	if s.db.Dialect == db.Postgres {
		dir = "migrations/postgres"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	return s.db.Migrate(ctx, "auth", sub)
}

// Create adds a user with password and returns it with its ID and creation
// time set. A zero CreatedAt means now. It returns ErrUserExists when the
// name is taken and ErrEmailTaken when another user has the address.
func (s *Users) Create(ctx context.Context, u User, password string) (User, error) {
	var err error
	if !validName(u.Name) {
		return User{}, fmt.Errorf("user name %q: %w", u.Name, ErrInvalidName)
	}
	if err := checkEmail(u.Email); err != nil {
		return User{}, err
	}
	if u.DisplayName, err = cleanText(u.DisplayName, 0, maxDisplayNameRunes, ErrInvalidDisplayName); err != nil {
		return User{}, err
	}
	if err := checkLang(u.Lang); err != nil {
		return User{}, err
	}
	if err := checkNewPassword(password); err != nil {
		return User{}, err
	}
	hash, err := s.hasher.hash(ctx, normalizePassword(password))
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Name, err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	u.CreatedAt = dbTime(u.CreatedAt)
	// ON CONFLICT DO NOTHING turns a taken name or address into no row,
	// the same way on both engines, even when two Creates race.
	err = s.db.QueryRowContext(ctx, s.db.Rebind(
		`INSERT INTO users (name, email, display_name, admin, lang, password_hash, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`),
		u.Name, u.Email, u.DisplayName, u.Admin, u.Lang, hash, u.CreatedAt).Scan(&u.ID)
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := s.db.QueryRowContext(ctx, s.db.Rebind(
			`SELECT COUNT(*) FROM users WHERE name = ?`), u.Name).Scan(&n); err != nil {
			return User{}, fmt.Errorf("create user %s: %w", u.Name, err)
		}
		if n > 0 {
			return User{}, fmt.Errorf("create user %s: %w", u.Name, ErrUserExists)
		}
		return User{}, fmt.Errorf("create user %s: %s: %w", u.Name, u.Email, ErrEmailTaken)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Name, err)
	}
	return u, nil
}

const userColumns = `id, name, email, display_name, admin, lang, created_at`

// userFields returns the scan destinations of userColumns in u.
func userFields(u *User) []any {
	return []any{&u.ID, &u.Name, &u.Email, &u.DisplayName, &u.Admin, &u.Lang, &u.CreatedAt}
}

// UserByName returns the user called name, or ErrUserNotFound.
func (s *Users) UserByName(ctx context.Context, name string) (User, error) {
	u, _, err := s.userAndHash(ctx, name)
	return u, err
}

// userAndHash returns the user called name and their password hash.
func (s *Users) userAndHash(ctx context.Context, name string) (User, string, error) {
	if !validName(name) {
		return User{}, "", fmt.Errorf("user %q: %w", name, ErrUserNotFound)
	}
	var (
		u    User
		hash string
	)
	err := s.db.QueryRowContext(ctx, s.db.Rebind(
		`SELECT `+userColumns+`, password_hash FROM users WHERE name = ?`), name).Scan(
		append(userFields(&u), &hash)...)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", fmt.Errorf("user %s: %w", name, ErrUserNotFound)
	}
	if err != nil {
		return User{}, "", fmt.Errorf("user %s: %w", name, err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, hash, nil
}

// UserByEmail returns the user whose address is email, compared without
// case, or ErrUserNotFound. Scheduling uses it to tell salon's own users
// from outside attendees.
func (s *Users) UserByEmail(ctx context.Context, email string) (User, error) {
	if email == "" || len(email) > maxEmailLen {
		return User{}, fmt.Errorf("user with e-mail %q: %w", email, ErrUserNotFound)
	}
	var u User
	// lower(email) is the expression of the users_email index, and the
	// same lower() decides uniqueness there, so this finds the one user
	// the index allows. SQLite's lower() folds ASCII letters only.
	err := s.db.QueryRowContext(ctx, s.db.Rebind(
		`SELECT `+userColumns+` FROM users WHERE lower(email) = lower(?)`), email).Scan(userFields(&u)...)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user with e-mail %s: %w", email, ErrUserNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("user with e-mail %s: %w", email, err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// UserUpdate lists the fields Update changes; nil fields are left as they
// are.
type UserUpdate struct {
	Email       *string
	DisplayName *string
	Lang        *string
}

// Update changes the fields f sets of the user called name and returns the
// user as stored. It returns ErrUserNotFound, ErrEmailTaken, or the error
// of the first invalid field. Unset fields keep their stored value even
// when another Update runs at the same time.
func (s *Users) Update(ctx context.Context, name string, f UserUpdate) (User, error) {
	if !validName(name) {
		return User{}, fmt.Errorf("user %q: %w", name, ErrUserNotFound)
	}
	if f.Email != nil {
		if err := checkEmail(*f.Email); err != nil {
			return User{}, err
		}
	}
	if f.DisplayName != nil {
		d, err := cleanText(*f.DisplayName, 0, maxDisplayNameRunes, ErrInvalidDisplayName)
		if err != nil {
			return User{}, err
		}
		f.DisplayName = &d
	}
	if f.Lang != nil {
		if err := checkLang(*f.Lang); err != nil {
			return User{}, err
		}
	}
	var u User
	// COALESCE keeps a column whose new value is NULL (nil in f), so the
	// statement changes only what was asked, atomically.
	err := s.db.QueryRowContext(ctx, s.db.Rebind(
		`UPDATE users SET email = COALESCE(?, email), display_name = COALESCE(?, display_name),
		 lang = COALESCE(?, lang) WHERE name = ? RETURNING `+userColumns),
		nullable(f.Email), nullable(f.DisplayName), nullable(f.Lang), name).Scan(userFields(&u)...)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("update user %s: %w", name, ErrUserNotFound)
	}
	if err != nil {
		// The engines word a unique violation differently; asking is
		// simpler than parsing either.
		if f.Email != nil {
			var n int
			if qerr := s.db.QueryRowContext(ctx, s.db.Rebind(
				`SELECT COUNT(*) FROM users WHERE lower(email) = lower(?) AND name <> ?`),
				*f.Email, name).Scan(&n); qerr == nil && n > 0 {
				return User{}, fmt.Errorf("update user %s: %s: %w", name, *f.Email, ErrEmailTaken)
			}
		}
		return User{}, fmt.Errorf("update user %s: %w", name, err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// nullable returns *p, or nil (SQL NULL) when p is nil.
func nullable(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// List returns every user, by name.
func (s *Users) List(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var list []User
	for rows.Next() {
		var u User
		if err := rows.Scan(userFields(&u)...); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		u.CreatedAt = u.CreatedAt.UTC()
		list = append(list, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return list, nil
}

// SetPassword replaces the account password of the user called name. App
// passwords stay valid; delete them separately.
func (s *Users) SetPassword(ctx context.Context, name, password string) error {
	if !validName(name) {
		return fmt.Errorf("user %q: %w", name, ErrUserNotFound)
	}
	if err := checkNewPassword(password); err != nil {
		return err
	}
	hash, err := s.hasher.hash(ctx, normalizePassword(password))
	if err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(
		`UPDATE users SET password_hash = ? WHERE name = ?`), hash, name)
	return s.oneRow(res, err, "set password of "+name, ErrUserNotFound)
}

// Delete removes the user called name and their app passwords.
func (s *Users) Delete(ctx context.Context, name string) error {
	if !validName(name) {
		return fmt.Errorf("user %q: %w", name, ErrUserNotFound)
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM users WHERE name = ?`), name)
	return s.oneRow(res, err, "delete user "+name, ErrUserNotFound)
}

// oneRow turns the result of a statement that should change one row into
// an error: the statement's, or notFound when it changed none.
func (s *Users) oneRow(res sql.Result, err error, what string, notFound error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, notFound)
	}
	return nil
}

// validName reports whether name follows the rules ErrInvalidName states.
// Names are ASCII so that they are safe in URLs and one spelling each.
func validName(name string) bool {
	if len(name) < 1 || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// checkEmail accepts a bare address (local@domain) and nothing around it:
// no display name, no angle brackets, no comments.
func checkEmail(email string) error {
	bad := fmt.Errorf("e-mail %q: %w", email, ErrInvalidEmail)
	if len(email) > maxEmailLen || strings.ContainsFunc(email, unicode.IsSpace) {
		return bad
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return bad
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.HasPrefix(domain, "[") {
		return bad
	}
	return nil
}

// checkLang accepts the languages salon has pages and mail in, and ""
// for the default.
func checkLang(lang string) error {
	switch lang {
	case "", "en", "fr":
		return nil
	}
	return fmt.Errorf("language %q: %w", lang, ErrInvalidLang)
}

// cleanText trims s and checks it is minRunes to maxRunes characters of
// UTF-8 that display as plain text, returning bad otherwise.
func cleanText(s string, minRunes, maxRunes int, bad error) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", bad
	}
	if n := utf8.RuneCountInString(s); n < minRunes || n > maxRunes {
		return "", bad
	}
	for _, c := range s {
		if unicode.IsControl(c) || reordersText(c) {
			return "", bad
		}
	}
	return s, nil
}

// reordersText reports characters that are not controls but change how the
// text around them displays: line and paragraph separators, bidirectional
// embeddings, overrides and isolates.
func reordersText(c rune) bool {
	return c == '\u2028' || c == '\u2029' ||
		('\u202a' <= c && c <= '\u202e') ||
		('\u2066' <= c && c <= '\u2069')
}

// dbTime is t as the database keeps it: UTC, to the microsecond (the
// precision of a PostgreSQL timestamp).
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
