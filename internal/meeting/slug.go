package meeting

import (
	"crypto/rand"
	"encoding/binary"
)

// slugAlphabet is Crockford's base32 in lower case: no i, l, o or u, so a
// slug read aloud or copied by hand comes out right. 32 symbols give exactly
// five random bits each.
const slugAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// NewSlug returns a fresh, unguessable meeting slug such as "k3fa-9qzx-m2wd":
// three groups of four characters, 60 random bits, enough that nobody finds
// a meeting by trying slugs.
func NewSlug() string {
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		// crypto/rand.Read does not fail on supported platforms (Go 1.24+).
		panic("meeting: crypto/rand failed: " + err.Error())
	}
	bits := binary.LittleEndian.Uint64(raw[:])
	var b [14]byte
	n := 0
	for i := range 12 {
		if i > 0 && i%4 == 0 {
			b[n] = '-'
			n++
		}
		b[n] = slugAlphabet[bits&31]
		bits >>= 5
		n++
	}
	return string(b[:n])
}

// ValidSlug reports whether s can name a meeting: 3 to 64 characters from
// a–z, 0–9 and '-', not starting or ending with '-'. Every slug NewSlug makes
// is valid; the wider set leaves room for chosen names like "team-standup".
func ValidSlug(s string) bool {
	if len(s) < 3 || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
