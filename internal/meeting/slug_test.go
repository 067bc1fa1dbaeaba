package meeting

import (
	"regexp"
	"strings"
	"testing"
)

var newSlugForm = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)

func TestNewSlug(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		s := NewSlug()
		if !newSlugForm.MatchString(s) {
			t.Fatalf("NewSlug() = %q, not three groups of four base32 characters", s)
		}
		if !ValidSlug(s) {
			t.Fatalf("NewSlug() = %q, which ValidSlug refuses", s)
		}
		if seen[s] {
			t.Fatalf("NewSlug() repeated %q", s)
		}
		seen[s] = true
	}
}

func TestValidSlug(t *testing.T) {
	tests := []struct {
		slug string
		want bool
	}{
		{"k3fa-9qzx-m2wd", true},
		{"abc", true},
		{"team-standup", true},
		{"a-b", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{"ab", false},
		{strings.Repeat("a", 65), false},
		{"-abc", false},
		{"abc-", false},
		{"ABC", false},
		{"ab c", false},
		{"ab_c", false},
		{"ab.c", false},
		{"../etc", false},
		{"abc/def", false},
		{"café", false},
		{"abc\x00", false},
	}
	for _, tt := range tests {
		if got := ValidSlug(tt.slug); got != tt.want {
			t.Errorf("ValidSlug(%q) = %v, want %v", tt.slug, got, tt.want)
		}
	}
}

var validSlugForm = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$`)

func FuzzValidSlug(f *testing.F) {
	for _, s := range []string{"k3fa-9qzx-m2wd", "abc", "-ab", "ABC", "a\u00e9b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidSlug(s), validSlugForm.MatchString(s); got != want {
			t.Fatalf("ValidSlug(%q) = %v, want %v", s, got, want)
		}
	})
}
