package meeting

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCleanDisplayName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Ada", "Ada", true},
		{"  Ada Lovelace ", "Ada Lovelace", true},
		{"Zoë 👩‍💻", "Zoë 👩‍💻", true},
		{"", "", false},
		{"   ", "", false},
		{"Ada\x00", "", false},
		{"Ada\nBob", "", false},
		{"\u202eadA", "", false},
		{"a\u2028b", "", false},
		{strings.Repeat("é", 64), strings.Repeat("é", 64), true},
		{strings.Repeat("é", 65), "", false},
		{"bad\xffutf8", "", false},
	} {
		got, err := CleanDisplayName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CleanDisplayName(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzCleanDisplayName(f *testing.F) {
	for _, s := range []string{"Ada", "  Ada  ", "", "\u202eAda", "Ada\x00", strings.Repeat("é", 65), "👩‍💻"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := CleanDisplayName(raw)
		if err != nil {
			return
		}
		if name != strings.TrimSpace(name) {
			t.Fatalf("name %q is not trimmed", name)
		}
		if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameRunes || !utf8.ValidString(name) {
			t.Fatalf("name %q has %d characters or is not UTF-8", name, n)
		}
		for _, c := range name {
			if unicode.IsControl(c) || forbiddenInName(c) {
				t.Fatalf("name %q holds %U", name, c)
			}
		}
		if again, err := CleanDisplayName(name); err != nil || again != name {
			t.Fatalf("not idempotent on %q: %q, %v", name, again, err)
		}
	})
}
