package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/db"
)

func TestClientKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"192.0.2.1:8080", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::ffff", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1", "192.0.2.1"},
		{"@", "@"},
		{"", ""},
		{strings.Repeat("x", 100), strings.Repeat("x", 64)},
	} {
		if got := clientKey(tt.in); got != tt.want {
			t.Errorf("clientKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestThrottleForgets(t *testing.T) {
	th := newThrottle(ThrottleOptions{}, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 50 {
		th.fail(fmt.Sprintf("user%d", i), "192.0.2.1", now)
	}
	th.succeed("ada", "192.0.2.2", now)
	if th.check("user3", "192.0.2.1", now) == 0 {
		t.Fatal("the address is not locked after 50 failures")
	}

	// Long after every lock and window: only the trust is left.
	later := now.Add(time.Hour)
	th.fail("bob", "192.0.2.3", later)
	th.mu.Lock()
	n := len(th.entries)
	th.mu.Unlock()
	if n != 4 { // bob's three keys and ada's trust
		t.Errorf("%d entries after a sweep, want 4", n)
	}
	if th.check("user3", "192.0.2.1", later) != 0 {
		t.Error("an old lock outlived its sweep")
	}
}

func TestThrottledError(t *testing.T) {
	var err error = &ThrottledError{RetryAfter: 90 * time.Second}
	if !errors.Is(err, ErrThrottled) {
		t.Error("ThrottledError does not match ErrThrottled")
	}
	if got := err.Error(); got != "auth: too many failed sign-ins; wait and try again (retry in 1m30s)" {
		t.Errorf("Error() = %q", got)
	}
}

// throttled asserts that Authenticate refuses with ErrThrottled and a
// retry delay of want.
func throttled(t *testing.T, s *Users, user, password, addr string, want time.Duration) {
	t.Helper()
	_, err := s.Authenticate(context.Background(), user, password, addr)
	var te *ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("Authenticate(%s from %s) = %v, want ErrThrottled", user, addr, err)
	}
	if te.RetryAfter != want {
		t.Errorf("RetryAfter = %s, want %s", te.RetryAfter, want)
	}
}

func signIn(t *testing.T, s *Users, user, password, addr string, want error) {
	t.Helper()
	if _, err := s.Authenticate(context.Background(), user, password, addr); !errors.Is(err, want) {
		t.Fatalf("Authenticate(%s, %q from %s) = %v, want %v", user, password, addr, err, want)
	}
}

func testThrottlePair(t *testing.T, d *db.DB) {
	c := newClock()
	s := newTestUsers(t, d, UsersOptions{Now: c.Now})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	const attacker, home = "198.51.100.7:4242", "203.0.113.5:5555"

	// Four failures, then the right password: the count starts over.
	for range 4 {
		signIn(t, s, "ada", "guess", attacker, ErrBadPassword)
	}
	signIn(t, s, "ada", "password1", attacker, nil)
	for range 4 {
		signIn(t, s, "ada", "guess", attacker, ErrBadPassword)
	}
	signIn(t, s, "ada", "guess", attacker, ErrBadPassword) // the fifth locks
	throttled(t, s, "ada", "password1", attacker, time.Minute)
	throttled(t, s, "ADA", "guess", "198.51.100.7:1", time.Minute) // any port, any case

	// The lock is on ada at that address, not on ada elsewhere, nor on
	// others at that address.
	signIn(t, s, "ada", "password1", home, nil)
	signIn(t, s, "bob", "guess", attacker, ErrBadPassword)

	c.Advance(30 * time.Second)
	throttled(t, s, "ada", "password1", attacker, 30*time.Second)
	c.Advance(30 * time.Second)
	signIn(t, s, "ada", "password1", attacker, nil)

	// Failures spread over more than the window do not add up.
	for range 4 {
		signIn(t, s, "ada", "guess", home, ErrBadPassword)
	}
	c.Advance(6 * time.Minute)
	for range 4 {
		signIn(t, s, "ada", "guess", home, ErrBadPassword)
	}
	signIn(t, s, "ada", "password1", home, nil)

	// An unknown user locks the same way, so locking tells nothing.
	for range 5 {
		signIn(t, s, "nobody", "guess", attacker, ErrBadPassword)
	}
	throttled(t, s, "nobody", "guess", attacker, time.Minute)
}

func testThrottleBackoff(t *testing.T, d *db.DB) {
	c := newClock()
	s := newTestUsers(t, d, UsersOptions{Now: c.Now})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	const addr = "2001:db8:1:2:3:4:5:6"
	for range 5 {
		signIn(t, s, "ada", "guess", addr, ErrBadPassword)
	}
	// Each failure right after a lock doubles it, up to 15 minutes.
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		throttled(t, s, "ada", "guess", addr, want)
		// Another host of the same /64 is the same client.
		throttled(t, s, "ada", "guess", "[2001:db8:1:2::99]:443", want)
		c.Advance(want)
		signIn(t, s, "ada", "guess", addr, ErrBadPassword)
	}
	// A quiet window after the lock ends forgives the past.
	c.Advance(15*time.Minute + 5*time.Minute)
	for range 4 {
		signIn(t, s, "ada", "guess", addr, ErrBadPassword)
	}
	signIn(t, s, "ada", "password1", addr, nil)
	// Another /64 was never involved.
	signIn(t, s, "ada", "password1", "2001:db8:1:3::1", nil)
}

func testThrottleAddress(t *testing.T, d *db.DB) {
	c := newClock()
	s := newTestUsers(t, d, UsersOptions{Now: c.Now, Throttle: ThrottleOptions{AddressLimit: 10}})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	mustCreate(t, s, User{Name: "bob", Email: "bob@example.org"}, "password1")
	const shared = "192.0.2.10" // a NAT, or a reverse proxy
	signIn(t, s, "ada", "password1", shared, nil)

	// Someone behind the same address tries many names, invalid ones too.
	for i := range 10 {
		name := fmt.Sprintf("user%d", i)
		if i%2 == 1 {
			name = "Not A Name!"
		}
		signIn(t, s, name, "guess", shared, ErrBadPassword)
	}
	throttled(t, s, "carol", "guess", shared, time.Minute)
	throttled(t, s, "bob", "password1", shared, time.Minute)
	// ada signed in from here before: the address lock does not apply.
	signIn(t, s, "ada", "password1", shared, nil)
	// Elsewhere nothing changed.
	signIn(t, s, "bob", "password1", "192.0.2.11", nil)
}

func testThrottleUser(t *testing.T, d *db.DB) {
	c := newClock()
	s := newTestUsers(t, d, UsersOptions{Now: c.Now, Throttle: ThrottleOptions{UserLimit: 12}})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	const home = "203.0.113.5"
	signIn(t, s, "ada", "password1", home, nil)

	// A botnet: one guess from each of many addresses, far under the
	// per-address limits.
	for i := range 12 {
		signIn(t, s, "ada", "guess", fmt.Sprintf("198.51.100.%d", i), ErrBadPassword)
	}
	throttled(t, s, "ada", "password1", "198.51.100.200", time.Minute)
	// ada still signs in from home, where she signed in before...
	signIn(t, s, "ada", "password1", home, nil)
	// ...even a week minus a minute later, with the botnet still going.
	c.Advance(7*24*time.Hour - 2*time.Minute)
	for i := range 12 {
		signIn(t, s, "ada", "guess", fmt.Sprintf("198.51.101.%d", i), ErrBadPassword)
	}
	throttled(t, s, "ada", "password1", "198.51.100.201", time.Minute)
	signIn(t, s, "ada", "password1", home, nil)
}

func testThrottleConcurrent(t *testing.T, d *db.DB) {
	c := newClock()
	s := newTestUsers(t, d, UsersOptions{Now: c.Now})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	kdf := s.hasher.kdf
	s.hasher.kdf = func(p, salt []byte, time_, memory uint32, threads uint8, keyLen uint32) []byte {
		time.Sleep(5 * time.Millisecond) // so that the guesses overlap
		return kdf(p, salt, time_, memory, threads, keyLen)
	}
	// Fifty guesses at once must not all be checked: the lock taken after
	// the fifth failure stops those still waiting for a hashing slot.
	var (
		wg      sync.WaitGroup
		checked atomic.Int32
	)
	for i := range 50 {
		wg.Go(func() {
			_, err := s.Authenticate(context.Background(), "ada", fmt.Sprint("guess", i), "198.51.100.7")
			if errors.Is(err, ErrBadPassword) {
				checked.Add(1)
			} else if !errors.Is(err, ErrThrottled) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, most := checked.Load(), int32(5+cap(s.hasher.slots)); n > most {
		t.Errorf("%d of 50 concurrent guesses were checked, want at most %d", n, most)
	}
}
