package web

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestJoinTokensAreRateLimitedPerAddress(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newAddressLimiter(2, 5, func() time.Time { return now })
	req := func(addr string) bool {
		r := httptest.NewRequest("POST", "/api/v1/meetings/x/join", nil)
		r.RemoteAddr = addr
		return l.allow(r)
	}
	for i := 0; i < 5; i++ {
		if !req("192.0.2.1:1000") {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	if req("192.0.2.1:1001") {
		t.Fatal("a sixth request at once was allowed")
	}
	if !req("192.0.2.2:1000") {
		t.Fatal("another address was refused")
	}
	// Two addresses in one IPv6 /64 share a budget.
	for i := 0; i < 5; i++ {
		req("[2001:db8::1]:1")
	}
	if req("[2001:db8::2]:1") {
		t.Fatal("a neighbour in the same /64 got a fresh budget")
	}
	now = now.Add(time.Second)
	if !req("192.0.2.1:1002") {
		t.Fatal("the budget did not refill")
	}
}
