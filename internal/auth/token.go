package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Token errors. Match them with errors.Is; the wrapped detail is for logs.
var (
	// ErrTokenInvalid means the token is not one this server signed for the
	// asked purpose: malformed, forged, tampered with, or of another kind.
	ErrTokenInvalid = errors.New("invalid token")
	// ErrTokenExpired means the token was genuine but its time is over.
	ErrTokenExpired = errors.New("token expired")
)

// MaxTokenLen bounds a token before any decoding, so a hostile client
// cannot make the server decode or hash megabytes.
const MaxTokenLen = 4096

// Token purposes, one per kind. A signature over one purpose is never
// accepted for another, so a token minted for an RSVP link cannot open a
// meeting room.
const (
	purposeJoin = "join"
	joinVersion = 1
	purposeRSVP = "rsvp"
	rsvpVersion = 1
)

// MaxRSVPUIDLen bounds the event UID an RSVP token carries. RFC 5545 sets
// no limit, but the token travels in a URL path and mail clients mangle
// very long links; real UIDs are well under 256 bytes.
const MaxRSVPUIDLen = 512

// nonceSize is the number of random bytes in a generated nonce.
const nonceSize = 16

// JoinClaims is what a join token asserts: this display name may enter this
// meeting until Expires. Nonce makes each token unique so that the signalling
// server can refuse a second use.
type JoinClaims struct {
	Room    string
	Name    string
	Expires time.Time
	Nonce   string
}

// joinPayload is the JSON form of JoinClaims inside a token. Field names are
// short because the token travels in every join message.
type joinPayload struct {
	Purpose string `json:"p"`
	Version int    `json:"v"`
	Room    string `json:"r"`
	Name    string `json:"n"`
	Expires int64  `json:"e"` // Unix seconds
	Nonce   string `json:"j"`
}

// Tokens signs and verifies tokens with the server key.
type Tokens struct {
	key []byte
}

// NewTokens returns a Tokens that signs with key. The key should come from
// LoadOrCreateSigningKey; it is copied.
func NewTokens(key []byte) *Tokens {
	return &Tokens{key: bytes.Clone(key)}
}

// b64 is strict so that each token has exactly one spelling; validChars
// also refuses the CR and LF the decoder would otherwise skip.
var b64 = base64.RawURLEncoding.Strict()

// validChars reports whether s holds only base64url characters and dots.
func validChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// SignJoin returns a join token for c. An empty Nonce is filled with a random
// one. Expires is kept to the second.
func (t *Tokens) SignJoin(c JoinClaims) (string, error) {
	if c.Room == "" {
		return "", errors.New("sign join token: empty room")
	}
	if c.Expires.IsZero() {
		return "", errors.New("sign join token: no expiry")
	}
	if c.Nonce == "" {
		n := make([]byte, nonceSize)
		if _, err := rand.Read(n); err != nil {
			return "", fmt.Errorf("sign join token: %w", err)
		}
		c.Nonce = b64.EncodeToString(n)
	}
	tok, err := t.seal(joinPayload{
		Purpose: purposeJoin,
		Version: joinVersion,
		Room:    c.Room,
		Name:    c.Name,
		Expires: c.Expires.Unix(),
		Nonce:   c.Nonce,
	})
	if err != nil {
		return "", fmt.Errorf("sign join token: %w", err)
	}
	return tok, nil
}

// VerifyJoin checks token's signature, purpose and expiry at now and returns
// its claims. Errors match ErrTokenInvalid or ErrTokenExpired.
func (t *Tokens) VerifyJoin(token string, now time.Time) (JoinClaims, error) {
	var p joinPayload
	if err := t.open(token, &p); err != nil {
		return JoinClaims{}, err
	}
	if p.Purpose != purposeJoin || p.Version != joinVersion {
		return JoinClaims{}, fmt.Errorf("%w: purpose %q version %d, want %q version %d",
			ErrTokenInvalid, p.Purpose, p.Version, purposeJoin, joinVersion)
	}
	if p.Room == "" || p.Expires == 0 {
		return JoinClaims{}, fmt.Errorf("%w: missing room or expiry", ErrTokenInvalid)
	}
	c := JoinClaims{
		Room:    p.Room,
		Name:    p.Name,
		Expires: time.Unix(p.Expires, 0),
		Nonce:   p.Nonce,
	}
	if !now.Before(c.Expires) {
		return JoinClaims{}, fmt.Errorf("%w: at %s", ErrTokenExpired, c.Expires.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// seal encodes payload as JSON, signs it and returns the token.
func (t *Tokens) seal(payload any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Without HTML escaping '<', '>' and '&' (legal in an event UID) take
	// one byte instead of six. The JSON only ever travels base64-encoded,
	// so there is no HTML for the escaping to protect.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		return "", err
	}
	body := b64.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	tok := body + "." + b64.EncodeToString(t.mac(body))
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("%d bytes exceeds the %d-byte limit", len(tok), MaxTokenLen)
	}
	return tok, nil
}

// open checks token's form and signature and decodes its payload into p.
// The caller checks the purpose and the fields.
func (t *Tokens) open(token string, p any) error {
	if len(token) > MaxTokenLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrTokenInvalid, MaxTokenLen)
	}
	if !validChars(token) {
		return fmt.Errorf("%w: unexpected character", ErrTokenInvalid)
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return fmt.Errorf("%w: no signature", ErrTokenInvalid)
	}
	gotMAC, err := b64.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature encoding", ErrTokenInvalid)
	}
	// The MAC is checked before the payload is parsed: nothing an outsider
	// wrote reaches the JSON decoder.
	if !hmac.Equal(gotMAC, t.mac(body)) {
		return fmt.Errorf("%w: bad signature", ErrTokenInvalid)
	}
	raw, err := b64.DecodeString(body)
	if err != nil {
		return fmt.Errorf("%w: payload encoding", ErrTokenInvalid)
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrTokenInvalid, err)
	}
	return nil
}

// mac returns HMAC-SHA256 of the encoded payload. Signing the encoded form
// rather than the JSON means verification needs no canonical encoding.
func (t *Tokens) mac(body string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// RSVPClaims is what an RSVP token asserts: this attendee may answer this
// organizer's event until Expires. The token is the attendee's only
// credential, so it names exactly one attendee of one event.
type RSVPClaims struct {
	Organizer string // the organizer's salon user name
	UID       string // the event's UID
	Attendee  string // the attendee's e-mail address, lower case
	Expires   time.Time
}

// rsvpPayload is the JSON form of RSVPClaims inside a token. Field names
// are short because the token travels in a URL.
type rsvpPayload struct {
	Purpose   string `json:"p"`
	Version   int    `json:"v"`
	Organizer string `json:"o"`
	UID       string `json:"u"`
	Attendee  string `json:"a"`
	Expires   int64  `json:"e"` // Unix seconds
}

// SignRSVP returns an RSVP token for c, made only of URL-safe characters
// (base64url and one dot) and at most MaxTokenLen bytes. Attendee is
// lower-cased, because addresses are matched without case and one attendee
// should have one spelling. Expires is kept to the second. It refuses
// claims with an empty field, a UID over MaxRSVPUIDLen bytes and fields
// that are not UTF-8 (JSON would silently replace the bad bytes).
func (t *Tokens) SignRSVP(c RSVPClaims) (string, error) {
	switch {
	case c.Organizer == "" || c.UID == "" || c.Attendee == "":
		return "", errors.New("sign RSVP token: empty organizer, UID or attendee")
	case c.Expires.IsZero():
		return "", errors.New("sign RSVP token: no expiry")
	case len(c.UID) > MaxRSVPUIDLen:
		return "", fmt.Errorf("sign RSVP token: UID of %d bytes exceeds the %d-byte limit", len(c.UID), MaxRSVPUIDLen)
	case !utf8.ValidString(c.Organizer) || !utf8.ValidString(c.UID) || !utf8.ValidString(c.Attendee):
		return "", errors.New("sign RSVP token: organizer, UID or attendee is not UTF-8")
	}
	tok, err := t.seal(rsvpPayload{
		Purpose:   purposeRSVP,
		Version:   rsvpVersion,
		Organizer: c.Organizer,
		UID:       c.UID,
		Attendee:  strings.ToLower(c.Attendee),
		Expires:   c.Expires.Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("sign RSVP token: %w", err)
	}
	return tok, nil
}

// VerifyRSVP checks token's signature, purpose and expiry at now and returns
// its claims. Errors match ErrTokenInvalid or ErrTokenExpired.
func (t *Tokens) VerifyRSVP(token string, now time.Time) (RSVPClaims, error) {
	var p rsvpPayload
	if err := t.open(token, &p); err != nil {
		return RSVPClaims{}, err
	}
	if p.Purpose != purposeRSVP || p.Version != rsvpVersion {
		return RSVPClaims{}, fmt.Errorf("%w: purpose %q version %d, want %q version %d",
			ErrTokenInvalid, p.Purpose, p.Version, purposeRSVP, rsvpVersion)
	}
	if p.Organizer == "" || p.UID == "" || p.Attendee == "" || p.Expires == 0 {
		return RSVPClaims{}, fmt.Errorf("%w: missing organizer, UID, attendee or expiry", ErrTokenInvalid)
	}
	c := RSVPClaims{
		Organizer: p.Organizer,
		UID:       p.UID,
		Attendee:  p.Attendee,
		Expires:   time.Unix(p.Expires, 0),
	}
	if !now.Before(c.Expires) {
		return RSVPClaims{}, fmt.Errorf("%w: at %s", ErrTokenExpired, c.Expires.UTC().Format(time.RFC3339))
	}
	return c, nil
}
