package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Account passwords are hashed with argon2id (RFC 9106) rather than bcrypt:
// it is memory-hard, so guessing on GPUs costs far more, it has no 72-byte
// limit, and its parameters travel inside each hash, so raising them later
// needs no migration (Authenticate rehashes on the next sign-in).
//
// 64 MiB (RFC 9106 §4's second recommended memory size) and two passes,
// above OWASP's minimum of 46 MiB and one pass: 80–90 ms on the two-core
// test machine (bcrypt at cost 12 took 270 ms there, with no memory cost).
// One lane keeps a hash on one core, so concurrent sign-ins run side by
// side. BenchmarkHashPassword measures it.
var defaultParams = argon2Params{Memory: 64 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Password length bounds, in characters. The upper bound caps the work an
// anonymous request can cause.
const (
	minPasswordRunes = 8
	maxPasswordRunes = 1024
	maxPasswordBytes = 4 * maxPasswordRunes
)

// maxConcurrentHashes bounds the hashes computed at once, so a burst of
// sign-ins costs at most this many times the hash memory.
const maxConcurrentHashes = 4

// argon2Params are the cost parameters of one argon2id hash.
type argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// Bounds on parameters read from a stored hash: wide enough for any sane
// configuration, narrow enough that a corrupt row cannot make salon
// allocate gigabytes or loop for minutes.
const (
	phcMaxMemory  = 1 << 20 // KiB: 1 GiB
	phcMaxTime    = 64
	phcMinSaltLen = 8
	phcMaxSaltLen = 64
	phcMinKeyLen  = 16
	phcMaxKeyLen  = 64
)

// phcHash is one argon2id hash in PHC string format:
// $argon2id$v=19$m=65536,t=1,p=1$<salt>$<key>, salt and key in unpadded
// standard base64 (https://github.com/P-H-C/phc-string-format).
type phcHash struct {
	Params argon2Params
	Salt   []byte
	Key    []byte
}

var phcB64 = base64.RawStdEncoding.Strict()

// String encodes h in PHC string format.
func (h phcHash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.Params.Memory, h.Params.Time, h.Params.Threads,
		phcB64.EncodeToString(h.Salt), phcB64.EncodeToString(h.Key))
}

// parsePHC decodes an argon2id PHC string. It accepts exactly the form
// String writes, so each hash has one spelling.
func parsePHC(s string) (phcHash, error) {
	fail := func(why string) (phcHash, error) {
		return phcHash{}, fmt.Errorf("password hash: %s", why)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return fail(fmt.Sprintf("algorithm %.20q, want argon2id", parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported argon2 version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return fail("want parameters m, t and p")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return fail("want parameters m, t and p in that order")
		}
		n, err := parseDecimal(v)
		if err != nil {
			return fail(fmt.Sprintf("parameter %s: %v", name, err))
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	if p < 1 || p > 255 {
		return fail("p out of range")
	}
	if t < 1 || t > phcMaxTime {
		return fail("t out of range")
	}
	// argon2 needs at least 8 KiB per lane.
	if m < 8*p || m > phcMaxMemory {
		return fail("m out of range")
	}
	salt, err := phcB64.DecodeString(parts[4])
	if err != nil || len(salt) < phcMinSaltLen || len(salt) > phcMaxSaltLen {
		return fail("bad salt")
	}
	key, err := phcB64.DecodeString(parts[5])
	if err != nil || len(key) < phcMinKeyLen || len(key) > phcMaxKeyLen {
		return fail("bad hash")
	}
	return phcHash{
		Params: argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))},
		Salt:   salt,
		Key:    key,
	}, nil
}

// parseDecimal reads a small unsigned decimal number with no sign and no
// leading zero.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a canonical number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a canonical number")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// hasher computes argon2id hashes, a few at a time.
type hasher struct {
	params argon2Params
	slots  chan struct{}
	kdf    func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

	dummyOnce sync.Once
	dummy     phcHash
}

func newHasher(p argon2Params) *hasher {
	return &hasher{
		params: p,
		slots:  make(chan struct{}, min(runtime.GOMAXPROCS(0), maxConcurrentHashes)),
		kdf:    argon2.IDKey,
	}
}

// acquire waits for a free hashing slot; release gives it back.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// hash returns the PHC string of a new hash of password, made with the
// current parameters and a fresh salt.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.compute(h.params, salt, password).String(), nil
}

func (h *hasher) compute(p argon2Params, salt []byte, password string) phcHash {
	key := h.kdf([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return phcHash{Params: p, Salt: salt, Key: key}
}

// verify reports whether password matches stored, in constant time. The
// caller holds a slot. needsRehash is true when stored was made with other
// parameters than the current ones.
func (h *hasher) verify(stored phcHash, password string) (ok, needsRehash bool) {
	got := h.compute(stored.Params, stored.Salt, password)
	ok = subtle.ConstantTimeCompare(got.Key, stored.Key) == 1
	return ok, stored.Params != h.params
}

// burn does the work of one verification against a hash that nothing
// matches, so that a sign-in for an unknown user takes as long as one for
// a known user. The caller holds a slot.
func (h *hasher) burn(password string) {
	h.dummyOnce.Do(func() {
		salt := make([]byte, h.params.SaltLen)
		rand.Read(salt)
		h.dummy = phcHash{Params: h.params, Salt: salt, Key: make([]byte, h.params.KeyLen)}
	})
	h.verify(h.dummy, password)
}

// normalizePassword maps a password to the form that is hashed. NFC makes
// "é" typed as one code point or as e + combining accent the same password,
// as RFC 8265's OpaqueString profile does; bytes that are not UTF-8 are
// left alone (they can only match a password set the same way).
func normalizePassword(p string) string {
	if !utf8.ValidString(p) {
		return p
	}
	return norm.NFC.String(p)
}

// checkNewPassword enforces the rules for a password being set.
func checkNewPassword(p string) error {
	if !utf8.ValidString(p) {
		return ErrWeakPassword
	}
	n := utf8.RuneCountInString(p)
	if n < minPasswordRunes || n > maxPasswordRunes {
		return ErrWeakPassword
	}
	for _, c := range p {
		if unicode.IsControl(c) {
			return ErrWeakPassword
		}
	}
	return nil
}

// secretAlphabet has 32 characters, so each is 5 random bits, and leaves
// out l, o, 0 and 1, which people misread when copying a secret by hand.
const secretAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// newSecret returns groups groups of four random characters joined by
// dashes, e.g. "k3fa-9qzx-m2wd-7hjc": 20 bits per group.
func newSecret(groups int) string {
	raw := make([]byte, groups*4)
	rand.Read(raw)
	var b strings.Builder
	for i, c := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(secretAlphabet[c&31])
	}
	return b.String()
}

// NewPassword returns a random account password of 100 bits, e.g.
// "k3fa-9qzx-m2wd-7hjc-pe4t", for an administrator to hand to a new user.
func NewPassword() string {
	return newSecret(5)
}
