package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/salonhq/salon/internal/db"
)

// KeySize is the length in bytes of the server key that signs tokens.
const KeySize = 32

// signingKeyID is the row of signing_keys that holds the key in use. Every
// node inserts its candidate under this one id, so that concurrent inserts
// collide and exactly one of them wins.
const signingKeyID = 1

// LoadOrCreateSigningKey returns the server key that signs join tokens and
// RSVP links. The key is kept in d, so that every salon node sharing the
// database signs and verifies with the same key. d must hold the auth
// schema: call Users.Migrate first.
//
// When d holds no key yet, LoadOrCreateSigningKey stores one: the key in the
// file at legacyPath if that exists — where salon kept its key before, so
// that the tokens issued before the upgrade stay valid — or else KeySize new
// random bytes. An empty legacyPath means there is no such file. The file is
// read, never changed or removed. Nodes starting at the same moment on one
// database agree on one key: each inserts its candidate only if no key is
// stored, then all read back the one that won.
//
// A key of the wrong length, in d or in the file, is an error: salon never
// silently replaces a key, because that would invalidate every token in
// flight.
func LoadOrCreateSigningKey(ctx context.Context, d *db.DB, legacyPath string) ([]byte, error) {
	key, err := storedSigningKey(ctx, d)
	if err != nil || key != nil {
		return key, err
	}
	candidate, err := initialSigningKey(legacyPath)
	if err != nil {
		return nil, err
	}
	if _, err := d.ExecContext(ctx, d.Rebind(
		`INSERT INTO signing_keys (id, key, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		signingKeyID, hex.EncodeToString(candidate), dbTime(time.Now())); err != nil {
		return nil, fmt.Errorf("store the signing key in the database: %w", err)
	}
	// The insert did nothing if another node got there first; the stored
	// key is the one every node must use.
	key, err = storedSigningKey(ctx, d)
	if err == nil && key == nil {
		err = errors.New("read the signing key from the database: the key just stored is gone; was the signing_keys table emptied meanwhile? Start salon again")
	}
	return key, err
}

// storedSigningKey returns the key stored in d, or nil when there is none.
func storedSigningKey(ctx context.Context, d *db.DB) ([]byte, error) {
	var text string
	err := d.QueryRowContext(ctx, d.Rebind(`SELECT key FROM signing_keys WHERE id = ?`), signingKeyID).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the signing key from the database: %w", err)
	}
	key, err := hex.DecodeString(text)
	if err == nil && len(key) != KeySize {
		err = fmt.Errorf("%d bytes, want %d", len(key), KeySize)
	}
	if err != nil {
		return nil, fmt.Errorf("the signing key in the database (table signing_keys, id %d) is not %d bytes in hex (%v): restore it from a backup, or delete the row to make a new key (which invalidates every join token and RSVP link issued so far)",
			signingKeyID, KeySize, err)
	}
	return key, nil
}

// initialSigningKey is the key to store in a database that has none: the
// one in the legacy file at path if there is such a file, else a new one.
func initialSigningKey(path string) ([]byte, error) {
	if path != "" {
		key, err := os.ReadFile(path)
		switch {
		case err == nil:
			if len(key) != KeySize {
				return nil, fmt.Errorf("key file %s holds %d bytes, want %d: restore it from a backup, or delete it to make a new key (which invalidates every join token and RSVP link issued so far)",
					path, len(key), KeySize)
			}
			return key, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("read key file: %w", err)
		}
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make signing key: %w", err)
	}
	return key, nil
}
