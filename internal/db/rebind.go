package db

import (
	"strconv"
	"strings"
)

// Rebind rewrites the `?` placeholders of query into the dialect's form:
// unchanged for SQLite, `$1`, `$2`, … for PostgreSQL. Question marks inside
// string literals, quoted identifiers and comments are left alone.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	return rebindDollar(query)
}

// rebindDollar numbers the placeholders of query for PostgreSQL.
func rebindDollar(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		case c == '\'' || c == '"':
			// A literal or identifier runs to the matching quote; a doubled
			// quote inside it is an escaped one and simply reopens it.
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			end += i + 1
			b.WriteString(query[i : end+1])
			i = end
			continue
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+1])
			i += end
			continue
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			end += i + 2 + 2
			b.WriteString(query[i:end])
			i = end - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
