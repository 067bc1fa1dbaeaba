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
