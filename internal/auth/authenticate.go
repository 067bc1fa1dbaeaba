package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"time"
)

// Authenticate checks a sign-in: name with either the account password or
// one of the user's app passwords, from remoteAddr (an IP, with or without
// a port). It returns the user, ErrBadPassword for a wrong name or
// password, or a *ThrottledError (matching ErrThrottled) while failed
// attempts lock the name or the address (see ThrottleOptions). Other errors
// mean the check could not be made. The name is matched in lower case, as
// phones like to capitalise the first letter.
//
// An unknown name costs the same argon2 work as a wrong password, so the
// time taken does not tell whether an account exists; only a correct
// password can be faster (app passwords, and account passwords verified in
// the last few minutes, skip argon2).
func (s *Users) Authenticate(ctx context.Context, name, password, remoteAddr string) (User, error) {
	now := s.now()
	name = strings.ToLower(name)
	addr := clientKey(remoteAddr)
	if !validName(name) {
		// No such account can exist; count it against the address alone.
		name = ""
	}
	if d := s.throttle.check(name, addr, now); d > 0 {
		return User{}, &ThrottledError{RetryAfter: d}
	}
	if name == "" || len(password) > maxPasswordBytes {
		s.throttle.fail(name, addr, now)
		return User{}, ErrBadPassword
	}

	u, stored, err := s.userAndHash(ctx, name)
	found := err == nil
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		return User{}, err
	}
	if found && looksLikeAppSecret(password) {
		apps, err := s.appPasswordsOf(ctx, u.ID)
		if err != nil {
			return User{}, err
		}
		if a, ok := matchAppPassword(apps, password); ok {
			s.touchAppPassword(ctx, a, now)
			s.throttle.succeed(name, addr, now)
			return u, nil
		}
	}
	pw := normalizePassword(password)
	if found && s.verified.hit(u.ID, stored, pw, now) {
		s.throttle.succeed(name, addr, now)
		return u, nil
	}

	if err := s.hasher.acquire(ctx); err != nil {
		return User{}, err
	}
	// Attempts that passed the check together may have waited here while
	// others failed; look again, so that concurrency buys an attacker at
	// most as many extra guesses as there are hashing slots.
	if d := s.throttle.check(name, addr, s.now()); d > 0 {
		s.hasher.release()
		return User{}, &ThrottledError{RetryAfter: d}
	}
	ok, rehash := false, false
	if found {
		h, err := parsePHC(stored)
		if err != nil {
			s.log.Error("stored password hash is unreadable; set a new password with: salon user passwd "+name, "user", name, "err", err)
			s.hasher.burn(pw)
		} else {
			ok, rehash = s.hasher.verify(h, pw)
		}
	} else {
		s.hasher.burn(pw)
	}
	s.hasher.release()

	if !ok {
		s.throttle.fail(name, addr, now)
		return User{}, ErrBadPassword
	}
	s.throttle.succeed(name, addr, now)
	if rehash {
		stored = s.rehash(ctx, u, stored, pw)
	}
	s.verified.add(u.ID, stored, pw, now)
	return u, nil
}

// rehash replaces a hash made with other parameters than the current ones,
// now that the password is known, and returns the hash in force. Failing
// only postpones it to the next sign-in.
func (s *Users) rehash(ctx context.Context, u User, old, password string) string {
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return old
	}
	// Only if nobody changed the password meanwhile.
	res, err := s.db.ExecContext(ctx, s.db.Rebind(
		`UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`), hash, u.ID, old)
	if err != nil {
		s.log.Warn("update password hash to current parameters", "user", u.Name, "err", err)
		return old
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return old
	}
	return hash
}

// verifiedTTL is how long a verified account password is remembered.
// CalDAV clients send the password with every request; without this each
// request would cost an argon2 run.
const (
	verifiedTTL = 10 * time.Minute
	maxVerified = 10_000
)

// verifiedCache remembers account passwords that recently verified. An
// entry is a keyed hash of the user, the stored hash and the password: a
// new password (a new stored hash, even on another salon process) or a
// deleted user misses it, and the memory holds no password.
type verifiedCache struct {
	key []byte

	mu      sync.Mutex
	entries map[[sha256.Size]byte]time.Time // expiry
}

func newVerifiedCache() *verifiedCache {
	key := make([]byte, 32)
	rand.Read(key)
	return &verifiedCache{key: key, entries: map[[sha256.Size]byte]time.Time{}}
}

func (c *verifiedCache) sum(userID int64, stored, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key)
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(userID))
	m.Write(id[:])
	// Lengths first, so no two (stored, password) pairs run together.
	var lens [16]byte
	binary.BigEndian.PutUint64(lens[:8], uint64(len(stored)))
	binary.BigEndian.PutUint64(lens[8:], uint64(len(password)))
	m.Write(lens[:])
	m.Write([]byte(stored))
	m.Write([]byte(password))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

func (c *verifiedCache) hit(userID int64, stored, password string, now time.Time) bool {
	k := c.sum(userID, stored, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[k]
	return ok && now.Before(exp)
}

func (c *verifiedCache) add(userID int64, stored, password string, now time.Time) {
	k := c.sum(userID, stored, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxVerified {
		for k, exp := range c.entries {
			if !now.Before(exp) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxVerified {
			clear(c.entries)
		}
	}
	c.entries[k] = now.Add(verifiedTTL)
}
