package auth

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ThrottleOptions tune how failed sign-ins slow an attacker down. Zero
// fields take the defaults shown.
//
// Failures are counted under three keys, each with its own limit per
// Window:
//
//   - one user name from one address (PairLimit, 5): the ordinary lock, hit
//     by someone guessing one account;
//   - one address, whatever the user names (AddressLimit, 30): hit by
//     someone trying many accounts;
//   - one user name, whatever the addresses (UserLimit, 100): hit by a
//     guessing campaign spread over many addresses.
//
// A key over its limit is locked for Backoff; each failure soon after a lock
// ends locks it again for twice as long, up to MaxBackoff. A success
// clears the failures of that user name at that address, and makes the
// address trusted for that user for TrustFor: the address and user-name
// locks do not apply to it, so an attacker elsewhere, or sharing a proxy
// address with others, cannot lock a user out of an address they have
// recently signed in from. Only the user's own mistakes from there, which
// count under the pair key, lock them out, and only for a while.
//
// The counters live in memory, per process: several salon processes
// behind one proxy each count on their own, and a restart forgets them.
type ThrottleOptions struct {
	PairLimit    int
	AddressLimit int
	UserLimit    int
	Window       time.Duration // 5 min
	Backoff      time.Duration // 1 min
	MaxBackoff   time.Duration // 15 min
	TrustFor     time.Duration // 7 days
}

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.PairLimit, 5)
	def(&o.AddressLimit, 30)
	def(&o.UserLimit, 100)
	defDur(&o.Window, 5*time.Minute)
	defDur(&o.Backoff, time.Minute)
	defDur(&o.MaxBackoff, 15*time.Minute)
	defDur(&o.TrustFor, 7*24*time.Hour)
	return o
}

// ThrottledError is returned by Authenticate while failed sign-ins lock the
// user name or the address. It matches ErrThrottled with errors.Is.
type ThrottledError struct {
	RetryAfter time.Duration // how long until the lock ends
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v (retry in %s)", ErrThrottled, e.RetryAfter.Round(time.Second))
}

func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// maxThrottleEntries bounds the throttle's memory. Reaching it takes tens
// of thousands of addresses failing within a few minutes.
const maxThrottleEntries = 100_000

type keyKind uint8

const (
	keyPair keyKind = iota
	keyAddress
	keyUser
)

func (k keyKind) String() string {
	return [...]string{"user at address", "address", "user"}[k]
}

type throttleKey struct {
	kind keyKind
	user string
	addr string
}

type throttleEntry struct {
	fails        int       // failures since first
	first        time.Time // start of the counting window
	level        int       // locks in a row; the last one lasted Backoff << (level-1)
	until        time.Time // locked until
	trustedUntil time.Time // pair keys: a success from here lifts the wider locks
}

// throttle counts failed sign-ins. It is safe for concurrent use.
type throttle struct {
	opts ThrottleOptions
	log  *slog.Logger

	mu        sync.Mutex
	entries   map[throttleKey]*throttleEntry
	nextSweep time.Time
}

func newThrottle(opts ThrottleOptions, log *slog.Logger) *throttle {
	return &throttle{opts: opts.withDefaults(), log: log, entries: map[throttleKey]*throttleEntry{}}
}

// keys lists the keys an attempt counts under. An empty user (a name that
// cannot exist) counts only against the address.
func keys(user, addr string) []throttleKey {
	if user == "" {
		return []throttleKey{{kind: keyAddress, addr: addr}}
	}
	return []throttleKey{
		{kind: keyPair, user: user, addr: addr},
		{kind: keyAddress, addr: addr},
		{kind: keyUser, user: user},
	}
}

// check returns how long the attempt must wait, or 0 when it may proceed.
func (t *throttle) check(user, addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	trusted := false
	for _, k := range keys(user, addr) {
		e := t.entries[k]
		if e == nil {
			continue
		}
		if k.kind == keyPair {
			trusted = now.Before(e.trustedUntil)
		} else if trusted {
			continue
		}
		wait = max(wait, e.until.Sub(now))
	}
	return wait
}

// fail records a failed attempt.
func (t *throttle) fail(user, addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	for _, k := range keys(user, addr) {
		e := t.entries[k]
		if e == nil {
			e = &throttleEntry{first: now}
			t.entries[k] = e
		}
		if d := t.failEntry(e, k.kind, now); d > 0 {
			t.log.Warn("sign-ins locked after repeated failures",
				"key", k.kind.String(), "user", k.user, "addr", k.addr, "for", d)
		}
	}
}

// failEntry counts one failure on e and returns the length of the lock it
// starts, if any.
func (t *throttle) failEntry(e *throttleEntry, kind keyKind, now time.Time) time.Duration {
	if e.level > 0 && now.Sub(e.until) < t.opts.Window {
		// Failing again right after a lock (or during one, when attempts
		// overlapped) locks again, for longer.
		e.level++
		return t.lock(e, now)
	}
	if e.level > 0 || now.Sub(e.first) >= t.opts.Window {
		*e = throttleEntry{first: now, trustedUntil: e.trustedUntil}
	}
	e.fails++
	if e.fails >= t.limit(kind) {
		e.fails = 0
		e.level = 1
		return t.lock(e, now)
	}
	return 0
}

func (t *throttle) lock(e *throttleEntry, now time.Time) time.Duration {
	d := t.opts.MaxBackoff
	if e.level <= 30 {
		d = min(t.opts.Backoff<<(e.level-1), t.opts.MaxBackoff)
	}
	e.until = now.Add(d)
	return d
}

func (t *throttle) limit(kind keyKind) int {
	switch kind {
	case keyPair:
		return t.opts.PairLimit
	case keyAddress:
		return t.opts.AddressLimit
	default:
		return t.opts.UserLimit
	}
}

// succeed records a successful sign-in of user from addr.
func (t *throttle) succeed(user, addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := throttleKey{kind: keyPair, user: user, addr: addr}
	t.entries[k] = &throttleEntry{first: now, trustedUntil: now.Add(t.opts.TrustFor)}
}

// sweep forgets entries that no longer lock, count or trust anything. It
// runs at most once a minute, or when the table is full.
func (t *throttle) sweep(now time.Time) {
	if now.Before(t.nextSweep) && len(t.entries) < maxThrottleEntries {
		return
	}
	t.nextSweep = now.Add(time.Minute)
	for k, e := range t.entries {
		if now.Sub(e.until) >= t.opts.Window && now.Sub(e.first) >= t.opts.Window && !now.Before(e.trustedUntil) {
			delete(t.entries, k)
		}
	}
	if len(t.entries) < maxThrottleEntries {
		return
	}
	// Still full: something is failing from a great many addresses. Drop
	// arbitrary entries rather than grow without bound.
	t.log.Warn("sign-in throttle table full; forgetting some entries", "entries", len(t.entries))
	for k := range t.entries {
		if len(t.entries) < maxThrottleEntries*9/10 {
			break
		}
		delete(t.entries, k)
	}
}

// clientKey is the address a sign-in counts against: the IP of remoteAddr
// (host or host:port). An IPv6 host usually holds a whole /64, so IPv6
// addresses count per /64.
func clientKey(remoteAddr string) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if len(host) > 64 {
			host = host[:64]
		}
		return host
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}
