package db

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		query, want string
	}{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"INSERT INTO t (a, b, c) VALUES (?,?,?)", "INSERT INTO t (a, b, c) VALUES ($1,$2,$3)"},
		{"SELECT '?' FROM t WHERE a = ?", "SELECT '?' FROM t WHERE a = $1"},
		{"SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , $1"},
		{`SELECT "odd?name" FROM t WHERE x = ?`, `SELECT "odd?name" FROM t WHERE x = $1`},
		{"SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"SELECT ? /* what? */ , ?", "SELECT $1 /* what? */ , $2"},
		{"SELECT ? -- trailing?", "SELECT $1 -- trailing?"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
		{"SELECT ? /* unterminated ?", "SELECT $1 /* unterminated ?"},
		{"SELECT a - ? / ?", "SELECT a - $1 / $2"},
		{"?", "$1"},
	}
	pg := &DB{Dialect: Postgres}
	lite := &DB{Dialect: SQLite}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := pg.Rebind(tt.query); got != tt.want {
				t.Errorf("postgres Rebind(%q) = %q, want %q", tt.query, got, tt.want)
			}
			if got := lite.Rebind(tt.query); got != tt.query {
				t.Errorf("sqlite Rebind(%q) = %q, want it unchanged", tt.query, got)
			}
		})
	}
}

var (
	dollarParam      = regexp.MustCompile(`\$[0-9]+`)
	placeholderDigit = regexp.MustCompile(`\?[0-9]`)
)

func FuzzRebind(f *testing.F) {
	f.Add("SELECT * FROM t WHERE a = ? AND b = '?'")
	f.Add("SELECT ? -- ?\n?")
	f.Add(`SELECT "?" /* ? */ ?`)
	f.Add("'''?")
	f.Add("?00")
	f.Fuzz(func(t *testing.T, query string) {
		// "$" in the input, or digits right after a "?" (not valid SQL),
		// would make the output ambiguous to read back.
		if strings.Contains(query, "$") || placeholderDigit.MatchString(query) {
			return
		}
		got := rebindDollar(query)
		// Only placeholders change: turning them back restores the query.
		if back := dollarParam.ReplaceAllString(got, "?"); back != query {
			t.Fatalf("rebindDollar(%q) = %q, which does not map back", query, got)
		}
		// Placeholders are numbered 1, 2, 3, … in order.
		for i, m := range dollarParam.FindAllString(got, -1) {
			if n, _ := strconv.Atoi(m[1:]); n != i+1 {
				t.Fatalf("rebindDollar(%q) = %q: placeholder %d is %s", query, got, i+1, m)
			}
		}
	})
}
