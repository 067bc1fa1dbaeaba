package auth

import (
	"context"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

func TestPHCRoundTrip(t *testing.T) {
	h := newHasher(testParams)
	s, err := h.hash(context.Background(), "password1")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(s) {
		t.Fatalf("hash %q is not in PHC format", s)
	}
	parsed, err := parsePHC(s)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.String() != s {
		t.Errorf("round trip: %q became %q", s, parsed.String())
	}
	if ok, rehash := h.verify(parsed, "password1"); !ok || rehash {
		t.Errorf("verify(right password) = %v, %v; want true, false", ok, rehash)
	}
	if ok, _ := h.verify(parsed, "password2"); ok {
		t.Error("verify accepted a wrong password")
	}
	other, _ := h.hash(context.Background(), "password1")
	if other == s {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

// A hash made by another argon2id implementation (the reference C
// library's argon2 CLI, Debian package argon2: echo -n password | argon2 somesalt -id -t 2 -m 16
// -p 4 -l 32 -e) verifies, so hashes imported from elsewhere work.
func TestPHCReferenceVector(t *testing.T) {
	const ref = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"
	h, err := parsePHC(ref)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := newHasher(defaultParams).verify(h, "password"); !ok {
		t.Error("the reference hash does not verify")
	}
}

func TestParsePHCRefuses(t *testing.T) {
	const salt, key = "c29tZXNhbHRzYWx0", "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, err := parsePHC(good); err != nil {
		t.Fatalf("parsePHC(%q): %v", good, err)
	}
	for _, s := range []string{
		"",
		"password1",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=16,t=1,p=4$" + salt + "$" + key,
		"$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=2097152,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "=",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 100),
		"x$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,
	} {
		if h, err := parsePHC(s); err == nil {
			t.Errorf("parsePHC(%q) accepted it: %+v", s, h)
		}
	}
}

// FuzzParsePHC checks that parsePHC never panics, that what it accepts is
// within the bounds that keep a verification cheap enough, and that it has
// one spelling.
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHRzYWx0$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZW")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			return
		}
		p := h.Params
		if p.Memory > phcMaxMemory || p.Memory < 8*uint32(p.Threads) || p.Time < 1 || p.Time > phcMaxTime || p.Threads < 1 {
			t.Errorf("parsePHC(%q) accepted parameters %+v", s, p)
		}
		if int(p.SaltLen) != len(h.Salt) || int(p.KeyLen) != len(h.Key) || len(h.Salt) < phcMinSaltLen || len(h.Key) < phcMinKeyLen {
			t.Errorf("parsePHC(%q) = %+v: lengths inconsistent", s, h)
		}
		if h.String() != s {
			t.Errorf("parsePHC(%q) accepted a second spelling of %q", s, h.String())
		}
	})
}

func TestNewSecrets(t *testing.T) {
	pw := regexp.MustCompile(`^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){4}$`)
	seen := map[string]bool{}
	for range 200 {
		p := NewPassword()
		if !pw.MatchString(p) {
			t.Fatalf("NewPassword() = %q", p)
		}
		if err := checkNewPassword(p); err != nil {
			t.Fatalf("NewPassword() = %q is refused: %v", p, err)
		}
		if seen[p] {
			t.Fatalf("NewPassword repeated %q", p)
		}
		seen[p] = true
		if s := newSecret(appSecretGroups); !looksLikeAppSecret(s) {
			t.Fatalf("app secret %q does not look like one", s)
		}
	}
	// Every character of the alphabet shows up: no bias from a bad mask.
	all := strings.Join(func() []string {
		var out []string
		for p := range seen {
			out = append(out, p)
		}
		return out
	}(), "")
	for _, c := range secretAlphabet {
		if !strings.ContainsRune(all, c) {
			t.Errorf("%q never appears in 200 passwords", c)
		}
	}
	for _, s := range []string{"password", "aaaa-bbbb-cccc-ddd", "aaaa-bbbb-cccc-dddl", "aaaa-bbbb-cccc-dddd-eeee"} {
		if looksLikeAppSecret(s) {
			t.Errorf("looksLikeAppSecret(%q) = true", s)
		}
	}
}

// The two engines' schemas must differ only in how ids are made.
func TestMigrationsInStep(t *testing.T) {
	read := func(dir string) map[string]string {
		files := map[string]string{}
		fs.WalkDir(migrations, dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := fs.ReadFile(migrations, path)
				files[strings.TrimPrefix(path, dir+"/")] = string(b)
			}
			return nil
		})
		return files
	}
	lite, pg := read("migrations/sqlite"), read("migrations/postgres")
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("migrations: %d SQLite files, %d PostgreSQL files", len(lite), len(pg))
	}
	toCommon := strings.NewReplacer(
		"INTEGER PRIMARY KEY AUTOINCREMENT", "ID",
		"BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "ID",
		"INTEGER NOT NULL REFERENCES", "REF",
		"BIGINT NOT NULL REFERENCES", "REF",
		"-- AUTOINCREMENT: an id", "-- ID",
		"-- An identity id", "-- ID",
	)
	for name, l := range lite {
		if toCommon.Replace(l) != toCommon.Replace(pg[name]) {
			t.Errorf("%s differs between migrations/sqlite and migrations/postgres beyond id generation", name)
		}
	}
}

// BenchmarkHashPassword measures one account password hash with the
// parameters salon uses; the target is 50–100 ms.
func BenchmarkHashPassword(b *testing.B) {
	h := newHasher(defaultParams)
	for b.Loop() {
		if _, err := h.hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
