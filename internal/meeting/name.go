package meeting

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameRunes is the longest display name a participant may use.
const MaxNameRunes = 64

// CleanDisplayName trims a display name and checks it can be shown to others:
// 1 to MaxNameRunes characters, valid UTF-8, no control characters and no
// bidirectional overrides that would let one name disguise itself.
func CleanDisplayName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if !utf8.ValidString(name) {
		return "", errors.New("name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameRunes {
		return "", fmt.Errorf("name has %d characters", n)
	}
	for _, c := range name {
		if unicode.IsControl(c) || forbiddenInName(c) {
			return "", fmt.Errorf("name contains %U", c)
		}
	}
	return name, nil
}

// forbiddenInName reports characters that are not Unicode controls (Cc) but
// still change how surrounding text displays: line and paragraph separators,
// bidirectional embeddings, overrides and isolates, and U+FFFD, which JSON
// decoding substitutes for invalid bytes.
func forbiddenInName(c rune) bool {
	switch {
	case c == '\u2028', c == '\u2029',
		'\u202a' <= c && c <= '\u202e',
		'\u2066' <= c && c <= '\u2069',
		c == '\ufffd':
		return true
	}
	return false
}
