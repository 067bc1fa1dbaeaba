package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// An app password is a random secret a user makes for one CalDAV client
// and can revoke alone. It has 80 random bits, so a fast hash (SHA-256)
// stores it safely: there is no dictionary to try, and clients that send it
// on every request cost no argon2 run.
const (
	appSecretGroups = 4
	appSecretLen    = appSecretGroups * 4 // characters without the dashes
)

// lastUsedGranularity is how stale last_used_at may be: a client syncing
// every minute should not write to the database on every request.
const lastUsedGranularity = 5 * time.Minute

// AppPassword describes one app password; the secret itself is shown only
// when it is made.
type AppPassword struct {
	Label      string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
}

// AddAppPassword makes a new app password for the user called name and
// returns its secret, e.g. "k3fa-9qzx-m2wd-7hjc". Only a hash is stored:
// the secret cannot be shown again.
func (s *Users) AddAppPassword(ctx context.Context, name, label string) (string, error) {
	label, err := cleanText(label, 1, maxLabelRunes, ErrInvalidLabel)
	if err != nil {
		return "", err
	}
	u, err := s.UserByName(ctx, name)
	if err != nil {
		return "", err
	}
	secret := newSecret(appSecretGroups)
	res, err := s.db.ExecContext(ctx, s.db.Rebind(
		`INSERT INTO app_passwords (user_id, label, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		u.ID, label, appSecretHash(secret), dbTime(s.now()))
	if err := s.oneRow(res, err, fmt.Sprintf("add app password %q for %s", label, name), ErrAppPasswordExists); err != nil {
		return "", err
	}
	return secret, nil
}

// ListAppPasswords returns the app passwords of the user called name, oldest
// first.
func (s *Users) ListAppPasswords(ctx context.Context, name string) ([]AppPassword, error) {
	u, err := s.UserByName(ctx, name)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(
		`SELECT label, created_at, last_used_at FROM app_passwords WHERE user_id = ? ORDER BY created_at, label`), u.ID)
	if err != nil {
		return nil, fmt.Errorf("list app passwords of %s: %w", name, err)
	}
	defer rows.Close()
	var list []AppPassword
	for rows.Next() {
		var (
			a    AppPassword
			used sql.NullTime
		)
		if err := rows.Scan(&a.Label, &a.CreatedAt, &used); err != nil {
			return nil, fmt.Errorf("list app passwords of %s: %w", name, err)
		}
		a.CreatedAt = a.CreatedAt.UTC()
		if used.Valid {
			a.LastUsedAt = used.Time.UTC()
		}
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list app passwords of %s: %w", name, err)
	}
	return list, nil
}

// DeleteAppPassword revokes the app password label of the user called name.
func (s *Users) DeleteAppPassword(ctx context.Context, name, label string) error {
	u, err := s.UserByName(ctx, name)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(
		`DELETE FROM app_passwords WHERE user_id = ? AND label = ?`), u.ID, strings.TrimSpace(label))
	return s.oneRow(res, err, fmt.Sprintf("delete app password %q of %s", label, name), ErrAppPasswordNotFound)
}

// storedAppPassword is what Authenticate needs of an app password.
type storedAppPassword struct {
	id       int64
	hash     []byte
	lastUsed time.Time
}

// appPasswordsOf loads the app password hashes of a user.
func (s *Users) appPasswordsOf(ctx context.Context, userID int64) ([]storedAppPassword, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(
		`SELECT id, hash, last_used_at FROM app_passwords WHERE user_id = ?`), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []storedAppPassword
	for rows.Next() {
		var (
			a        storedAppPassword
			hexHash  string
			lastUsed sql.NullTime
		)
		if err := rows.Scan(&a.id, &hexHash, &lastUsed); err != nil {
			return nil, err
		}
		if a.hash, err = hex.DecodeString(hexHash); err != nil {
			return nil, fmt.Errorf("app password %d: stored hash is not hex", a.id)
		}
		a.lastUsed = lastUsed.Time
		list = append(list, a)
	}
	return list, rows.Err()
}

// matchAppPassword returns the app password whose secret is password. It
// compares with every stored hash, in constant time each.
func matchAppPassword(list []storedAppPassword, password string) (storedAppPassword, bool) {
	sum := sha256.Sum256([]byte(canonicalAppSecret(password)))
	var (
		found storedAppPassword
		ok    bool
	)
	for _, a := range list {
		if subtle.ConstantTimeCompare(sum[:], a.hash) == 1 {
			found, ok = a, true
		}
	}
	return found, ok
}

// touchAppPassword records that a was used, at most once per
// lastUsedGranularity. A failure only loses the record, so it is logged.
func (s *Users) touchAppPassword(ctx context.Context, a storedAppPassword, now time.Time) {
	if now.Sub(a.lastUsed) < lastUsedGranularity {
		return
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(
		`UPDATE app_passwords SET last_used_at = ? WHERE id = ?`), dbTime(now), a.id); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("record app password use", "id", a.id, "err", err)
	}
}

// canonicalAppSecret is the form of an app password that is hashed: the
// secret people copy by hand may come back in upper case, or with spaces
// instead of dashes.
func canonicalAppSecret(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '-' || c == ' ':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// looksLikeAppSecret reports whether p could be an app password, so that
// sign-ins with an account password skip the app password query.
func looksLikeAppSecret(p string) bool {
	c := canonicalAppSecret(p)
	if len(c) != appSecretLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !strings.ContainsRune(secretAlphabet, rune(c[i])) {
			return false
		}
	}
	return true
}

func appSecretHash(secret string) string {
	sum := sha256.Sum256([]byte(canonicalAppSecret(secret)))
	return hex.EncodeToString(sum[:])
}
