package web

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// addressLimiter bounds how often one client address may ask for join
// tokens: a page asks once per join, so a steady stream from one address is
// a script trying to flood rooms.
type addressLimiter struct {
	mu     sync.Mutex
	every  rate.Limit
	burst  int
	byAddr map[string]*addrEntry
	now    func() time.Time
}

type addrEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxTrackedAddresses bounds the limiter's memory; idle entries go first.
const maxTrackedAddresses = 10000

func newAddressLimiter(perSecond float64, burst int, now func() time.Time) *addressLimiter {
	return &addressLimiter{every: rate.Limit(perSecond), burst: burst, byAddr: map[string]*addrEntry{}, now: now}
}

// allow reports whether the request's address may go on.
func (l *addressLimiter) allow(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = ip.Mask(net.CIDRMask(64, 128)).String() // one IPv6 client holds a /64
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.byAddr[host]
	if e == nil {
		if len(l.byAddr) >= maxTrackedAddresses {
			for k, v := range l.byAddr {
				if now.Sub(v.seen) > time.Minute {
					delete(l.byAddr, k)
				}
			}
		}
		if len(l.byAddr) >= maxTrackedAddresses {
			return false // under a flood from many addresses, refuse new ones
		}
		e = &addrEntry{lim: rate.NewLimiter(l.every, l.burst)}
		l.byAddr[host] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}
