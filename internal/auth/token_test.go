package auth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestJoinTokenRoundTrip(t *testing.T) {
	tokens := NewTokens(testKey)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	in := JoinClaims{Room: "k3f-9qz-m2wd", Name: "Ada Lovelace ✓", Expires: now.Add(2 * time.Minute)}

	tok, err := tokens.SignJoin(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokens.VerifyJoin(tok, now)
	if err != nil {
		t.Fatalf("VerifyJoin: %v", err)
	}
	if got.Room != in.Room || got.Name != in.Name || !got.Expires.Equal(in.Expires) {
		t.Errorf("claims = %+v, want %+v", got, in)
	}
	if got.Nonce == "" {
		t.Error("SignJoin left the nonce empty")
	}

	tok2, err := tokens.SignJoin(in)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok {
		t.Error("two tokens for the same claims are identical; nonce not random")
	}

	in.Nonce = "fixed"
	tok3, _ := tokens.SignJoin(in)
	if got, _ := tokens.VerifyJoin(tok3, now); got.Nonce != "fixed" {
		t.Errorf("nonce = %q, want the given one", got.Nonce)
	}
}

func TestSignJoinRefusesIncompleteClaims(t *testing.T) {
	tokens := NewTokens(testKey)
	exp := time.Now().Add(time.Minute)
	for name, c := range map[string]JoinClaims{
		"no room":   {Name: "Ada", Expires: exp},
		"no expiry": {Room: "r", Name: "Ada"},
		"too large": {Room: "r", Name: strings.Repeat("x", MaxTokenLen), Expires: exp},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tokens.SignJoin(c); err == nil {
				t.Error("SignJoin succeeded")
			}
		})
	}
}

// sealed signs an arbitrary payload with key, to build tokens that
// SignJoin would never make.
func sealed(key []byte, payload any) string {
	raw, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	body := b64.EncodeToString(raw)
	return body + "." + b64.EncodeToString(NewTokens(key).mac(body))
}

func TestVerifyJoinRefuses(t *testing.T) {
	tokens := NewTokens(testKey)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	exp := now.Add(time.Minute).Unix()
	good, err := tokens.SignJoin(JoinClaims{Room: "room", Name: "Ada", Expires: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(good, ".")
	otherKey := []byte("ffffffffffffffffffffffffffffffff")
	forged, _ := NewTokens(otherKey).SignJoin(JoinClaims{Room: "room", Name: "Ada", Expires: now.Add(time.Minute)})

	tampered := func() string {
		raw, _ := b64.DecodeString(body)
		raw = []byte(strings.Replace(string(raw), `"room"`, `"moor"`, 1))
		return b64.EncodeToString(raw) + "." + sig
	}()

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrTokenInvalid},
		{"garbage", "not a token", ErrTokenInvalid},
		{"no signature", body, ErrTokenInvalid},
		{"empty signature", body + ".", ErrTokenInvalid},
		{"three parts", good + ".x", ErrTokenInvalid},
		{"newline in signature", body + "." + sig[:4] + "\n" + sig[4:], ErrTokenInvalid},
		{"forged signature", forged, ErrTokenInvalid},
		{"signature of another token", body + "." + strings.SplitN(forged, ".", 2)[1], ErrTokenInvalid},
		{"tampered payload", tampered, ErrTokenInvalid},
		{"truncated signature", body + "." + sig[:len(sig)-2], ErrTokenInvalid},
		{"oversized", body + strings.Repeat("A", MaxTokenLen) + "." + sig, ErrTokenInvalid},
		{"expired", sealed(testKey, joinPayload{Purpose: "join", Version: 1, Room: "r", Expires: now.Unix()}), ErrTokenExpired},
		{"wrong purpose", sealed(testKey, joinPayload{Purpose: "rsvp", Version: 1, Room: "r", Expires: exp}), ErrTokenInvalid},
		{"wrong version", sealed(testKey, joinPayload{Purpose: "join", Version: 2, Room: "r", Expires: exp}), ErrTokenInvalid},
		{"no room", sealed(testKey, joinPayload{Purpose: "join", Version: 1, Expires: exp}), ErrTokenInvalid},
		{"no expiry", sealed(testKey, joinPayload{Purpose: "join", Version: 1, Room: "r"}), ErrTokenInvalid},
		{"signed non-JSON", sealed(testKey, "just a string"), ErrTokenInvalid},
		{"signed wrong types", sealed(testKey, map[string]any{"p": 1, "v": "1"}), ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tokens.VerifyJoin(tt.token, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyJoin error = %v, want %v", err, tt.want)
			}
			if c != (JoinClaims{}) {
				t.Errorf("claims returned with an error: %+v", c)
			}
		})
	}
}

func TestVerifyJoinExpiryBoundary(t *testing.T) {
	tokens := NewTokens(testKey)
	exp := time.Date(2026, 3, 1, 10, 2, 0, 0, time.UTC)
	tok, _ := tokens.SignJoin(JoinClaims{Room: "r", Expires: exp})
	for _, tt := range []struct {
		now  time.Time
		want error
	}{
		{exp.Add(-time.Second), nil},
		{exp, ErrTokenExpired},
		{exp.Add(time.Hour), ErrTokenExpired},
	} {
		if _, err := tokens.VerifyJoin(tok, tt.now); !errors.Is(err, tt.want) {
			t.Errorf("at %s: error = %v, want %v", tt.now, err, tt.want)
		}
	}
}

func TestNewTokensCopiesKey(t *testing.T) {
	key := append([]byte(nil), testKey...)
	tokens := NewTokens(key)
	exp := time.Now().Add(time.Minute)
	tok, _ := tokens.SignJoin(JoinClaims{Room: "r", Expires: exp})
	key[0] ^= 0xff
	if _, err := tokens.VerifyJoin(tok, time.Now()); err != nil {
		t.Errorf("changing the caller's slice changed the key: %v", err)
	}
}

func FuzzVerifyJoin(f *testing.F) {
	tokens := NewTokens(testKey)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	good, _ := tokens.SignJoin(JoinClaims{Room: "room", Name: "Ada", Expires: now.Add(time.Minute)})
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Add(sealed(testKey, joinPayload{Purpose: "rsvp", Version: 1, Room: "r", Expires: now.Unix() + 60}))
	f.Fuzz(func(t *testing.T, token string) {
		c, err := tokens.VerifyJoin(token, now)
		if err != nil {
			if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("error %v is neither ErrTokenInvalid nor ErrTokenExpired", err)
			}
			return
		}
		if c.Room == "" || !now.Before(c.Expires) {
			t.Fatalf("accepted claims %+v", c)
		}
		// Anything accepted must survive a round trip.
		again, err := tokens.SignJoin(c)
		if err != nil {
			t.Fatalf("re-sign accepted claims: %v", err)
		}
		if c2, err := tokens.VerifyJoin(again, now); err != nil || c2 != c {
			t.Fatalf("round trip: %+v, %v; want %+v", c2, err, c)
		}
	})
}

func TestRSVPTokenRoundTrip(t *testing.T) {
	tokens := NewTokens(testKey)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   RSVPClaims
		want RSVPClaims // zero: same as in
	}{
		{"plain", RSVPClaims{Organizer: "ada", UID: "a1b2@example.org", Attendee: "bob@example.org", Expires: now.Add(time.Hour)}, RSVPClaims{}},
		{"attendee lower-cased", RSVPClaims{Organizer: "ada", UID: "x", Attendee: "Bob@Example.ORG", Expires: now.Add(time.Hour)},
			RSVPClaims{Organizer: "ada", UID: "x", Attendee: "bob@example.org", Expires: now.Add(time.Hour)}},
		{"awkward UID", RSVPClaims{Organizer: "ada", UID: `<x&y>"\/ é ✓ ` + "\t", Attendee: "zoë@example.org", Expires: now.Add(time.Second)}, RSVPClaims{}},
		{"longest UID", RSVPClaims{Organizer: strings.Repeat("o", 64), UID: strings.Repeat("u", MaxRSVPUIDLen), Attendee: strings.Repeat("a", 240) + "@example.org", Expires: now.Add(time.Hour)}, RSVPClaims{}},
		{"sub-second expiry kept to the second", RSVPClaims{Organizer: "ada", UID: "x", Attendee: "b@c", Expires: now.Add(time.Hour + 900*time.Millisecond)},
			RSVPClaims{Organizer: "ada", UID: "x", Attendee: "b@c", Expires: now.Add(time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == (RSVPClaims{}) {
				want = tt.in
			}
			tok, err := tokens.SignRSVP(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !validChars(tok) || strings.Count(tok, ".") != 1 || len(tok) > MaxTokenLen {
				t.Errorf("token %q is not one URL-safe, bounded path segment", tok)
			}
			got, err := tokens.VerifyRSVP(tok, now)
			if err != nil {
				t.Fatalf("VerifyRSVP: %v", err)
			}
			if got.Organizer != want.Organizer || got.UID != want.UID || got.Attendee != want.Attendee || !got.Expires.Equal(want.Expires) {
				t.Errorf("claims = %+v, want %+v", got, want)
			}
		})
	}
}

func TestSignRSVPRefuses(t *testing.T) {
	tokens := NewTokens(testKey)
	exp := time.Now().Add(time.Hour)
	ok := RSVPClaims{Organizer: "ada", UID: "uid-1", Attendee: "bob@example.org", Expires: exp}
	with := func(f func(*RSVPClaims)) RSVPClaims { c := ok; f(&c); return c }
	for name, c := range map[string]RSVPClaims{
		"no organizer":           with(func(c *RSVPClaims) { c.Organizer = "" }),
		"no UID":                 with(func(c *RSVPClaims) { c.UID = "" }),
		"no attendee":            with(func(c *RSVPClaims) { c.Attendee = "" }),
		"no expiry":              with(func(c *RSVPClaims) { c.Expires = time.Time{} }),
		"oversize UID":           with(func(c *RSVPClaims) { c.UID = strings.Repeat("u", MaxRSVPUIDLen+1) }),
		"UID not UTF-8":          with(func(c *RSVPClaims) { c.UID = "uid\xff" }),
		"attendee not UTF-8":     with(func(c *RSVPClaims) { c.Attendee = "b\xffb@example.org" }),
		"token over MaxTokenLen": with(func(c *RSVPClaims) { c.Attendee = strings.Repeat("\x01", 2000) }),
	} {
		t.Run(name, func(t *testing.T) {
			if tok, err := tokens.SignRSVP(c); err == nil {
				t.Errorf("SignRSVP succeeded: %q", tok)
			}
		})
	}
}

func TestVerifyRSVPRefuses(t *testing.T) {
	tokens := NewTokens(testKey)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	exp := now.Add(time.Minute).Unix()
	claims := RSVPClaims{Organizer: "ada", UID: "uid-1", Attendee: "bob@example.org", Expires: now.Add(time.Minute)}
	good, err := tokens.SignRSVP(claims)
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(good, ".")
	forged, _ := NewTokens([]byte("ffffffffffffffffffffffffffffffff")).SignRSVP(claims)
	join, _ := tokens.SignJoin(JoinClaims{Room: "room", Name: "Bob", Expires: now.Add(time.Minute)})
	tamper := func(from, to string) string {
		raw, _ := b64.DecodeString(body)
		raw = []byte(strings.Replace(string(raw), from, to, 1))
		return b64.EncodeToString(raw) + "." + sig
	}
	full := rsvpPayload{Purpose: "rsvp", Version: 1, Organizer: "ada", UID: "u", Attendee: "b@c", Expires: exp}
	with := func(f func(*rsvpPayload)) rsvpPayload { p := full; f(&p); return p }

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrTokenInvalid},
		{"garbage", "not a token", ErrTokenInvalid},
		{"no signature", body, ErrTokenInvalid},
		{"forged signature", forged, ErrTokenInvalid},
		{"tampered attendee", tamper(`"bob@`, `"eve@`), ErrTokenInvalid},
		{"tampered organizer", tamper(`"ada"`, `"eve"`), ErrTokenInvalid},
		{"tampered UID", tamper(`"uid-1"`, `"uid-2"`), ErrTokenInvalid},
		{"truncated signature", body + "." + sig[:len(sig)-2], ErrTokenInvalid},
		{"oversized", body + strings.Repeat("A", MaxTokenLen) + "." + sig, ErrTokenInvalid},
		{"join token", join, ErrTokenInvalid},
		{"join payload with RSVP fields", sealed(testKey, map[string]any{"p": "join", "v": 1, "r": "room", "o": "ada", "u": "u", "a": "b@c", "e": exp}), ErrTokenInvalid},
		{"expired", sealed(testKey, with(func(p *rsvpPayload) { p.Expires = now.Unix() })), ErrTokenExpired},
		{"wrong version", sealed(testKey, with(func(p *rsvpPayload) { p.Version = 2 })), ErrTokenInvalid},
		{"no organizer", sealed(testKey, with(func(p *rsvpPayload) { p.Organizer = "" })), ErrTokenInvalid},
		{"no UID", sealed(testKey, with(func(p *rsvpPayload) { p.UID = "" })), ErrTokenInvalid},
		{"no attendee", sealed(testKey, with(func(p *rsvpPayload) { p.Attendee = "" })), ErrTokenInvalid},
		{"no expiry", sealed(testKey, with(func(p *rsvpPayload) { p.Expires = 0 })), ErrTokenInvalid},
		{"signed wrong types", sealed(testKey, map[string]any{"p": "rsvp", "v": 1, "o": 7}), ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tokens.VerifyRSVP(tt.token, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyRSVP error = %v, want %v", err, tt.want)
			}
			if c != (RSVPClaims{}) {
				t.Errorf("claims returned with an error: %+v", c)
			}
		})
	}
}

func TestRSVPTokenIsNotAJoinToken(t *testing.T) {
	tokens := NewTokens(testKey)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	rsvp, err := tokens.SignRSVP(RSVPClaims{Organizer: "ada", UID: "room", Attendee: "b@c", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := tokens.VerifyJoin(rsvp, now); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("VerifyJoin(RSVP token) = %+v, %v; want ErrTokenInvalid", c, err)
	}
	// Even a payload carrying every join field is refused for its purpose.
	both := sealed(testKey, map[string]any{"p": "rsvp", "v": 1, "r": "room", "n": "Bob", "e": now.Add(time.Hour).Unix(), "o": "ada", "u": "u", "a": "b@c"})
	if c, err := tokens.VerifyJoin(both, now); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("VerifyJoin(RSVP payload with join fields) = %+v, %v; want ErrTokenInvalid", c, err)
	}
}

func TestVerifyRSVPExpiryBoundary(t *testing.T) {
	tokens := NewTokens(testKey)
	exp := time.Date(2026, 3, 1, 10, 2, 0, 0, time.UTC)
	tok, _ := tokens.SignRSVP(RSVPClaims{Organizer: "ada", UID: "u", Attendee: "b@c", Expires: exp})
	for _, tt := range []struct {
		now  time.Time
		want error
	}{
		{exp.Add(-time.Second), nil},
		{exp, ErrTokenExpired},
		{exp.Add(time.Hour), ErrTokenExpired},
	} {
		if _, err := tokens.VerifyRSVP(tok, tt.now); !errors.Is(err, tt.want) {
			t.Errorf("at %s: error = %v, want %v", tt.now, err, tt.want)
		}
	}
}

func FuzzVerifyRSVP(f *testing.F) {
	tokens := NewTokens(testKey)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	good, _ := tokens.SignRSVP(RSVPClaims{Organizer: "ada", UID: "u", Attendee: "b@c", Expires: now.Add(time.Minute)})
	join, _ := tokens.SignJoin(JoinClaims{Room: "room", Expires: now.Add(time.Minute)})
	f.Add(good)
	f.Add(join)
	f.Add("")
	f.Add("e30.AAAA")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := tokens.VerifyRSVP(token, now)
		if err != nil {
			if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("error %v is neither ErrTokenInvalid nor ErrTokenExpired", err)
			}
			return
		}
		if c.Organizer == "" || c.UID == "" || c.Attendee == "" || !now.Before(c.Expires) {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}
