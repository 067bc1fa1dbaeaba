package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// testParams make hashing nearly free so the suite can sign in hundreds of
// times; BenchmarkHashPassword measures the real parameters.
var testParams = argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// clock is a settable time source for the throttle.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// engine opens a fresh, migrated database of one kind.
type engine struct {
	name string
	open func(t *testing.T) *db.DB
}

var engines = []engine{
	{"sqlite", func(t *testing.T) *db.DB { return openDB(t, "", t.TempDir()) }},
	{"postgres", func(t *testing.T) *db.DB { return openDB(t, testpg.Start(t), "") }},
}

func openDB(t *testing.T, dsn, dir string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// newTestUsers returns a migrated Users on d with cheap hashing.
func newTestUsers(t *testing.T, d *db.DB, opts UsersOptions) *Users {
	t.Helper()
	s := NewUsers(d, opts)
	s.hasher = newHasher(testParams)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestUsers runs the whole store suite on every engine.
func TestUsers(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range usersSuite {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, e.open(t))
				})
			}
		})
	}
}

var usersSuite = []struct {
	name string
	run  func(t *testing.T, d *db.DB)
}{
	{"CreateGetList", testCreateGetList},
	{"CreateRefuses", testCreateRefuses},
	{"CreateConcurrently", testCreateConcurrently},
	{"MigrateTwice", testMigrateTwice},
	{"Authenticate", testAuthenticate},
	{"SetPassword", testSetPassword},
	{"Delete", testDelete},
	{"AppPasswords", testAppPasswords},
	{"AppPasswordLastUsed", testAppPasswordLastUsed},
	{"ThrottlePerUserAndAddress", testThrottlePair},
	{"ThrottleBackoffGrows", testThrottleBackoff},
	{"ThrottleAddress", testThrottleAddress},
	{"ThrottleUserAcrossAddresses", testThrottleUser},
	{"ThrottleConcurrentGuesses", testThrottleConcurrent},
	{"UnknownUserCostsAHash", testUnknownUserCostsAHash},
	{"Rehash", testRehash},
	{"UserByEmail", testUserByEmail},
	{"UserByEmailUsesIndex", testUserByEmailUsesIndex},
	{"Lang", testLang},
	{"Update", testUpdate},
}

func mustCreate(t *testing.T, s *Users, u User, password string) User {
	t.Helper()
	got, err := s.Create(context.Background(), u, password)
	if err != nil {
		t.Fatalf("Create(%s): %v", u.Name, err)
	}
	return got
}

func testCreateGetList(t *testing.T, d *db.DB) {
	ctx := context.Background()
	c := newClock()
	s := newTestUsers(t, d, UsersOptions{Now: c.Now})

	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List on an empty store = %v, %v", list, err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	bob := mustCreate(t, s, User{Name: "bob", Email: "bob@example.org", CreatedAt: time.Date(2026, 1, 2, 10, 0, 0, 123456789, paris)}, "correct horse")
	ada := mustCreate(t, s, User{Name: "ada.l", Email: "Ada@Example.org", DisplayName: "  Ada Lovelace ✓ ", Admin: true}, "battery staple")
	if ada.ID == 0 || bob.ID == 0 || ada.ID == bob.ID {
		t.Errorf("IDs = %d, %d; want distinct non-zero", ada.ID, bob.ID)
	}
	wantAda := User{ID: ada.ID, Name: "ada.l", Email: "Ada@Example.org", DisplayName: "Ada Lovelace ✓", Admin: true, CreatedAt: c.Now()}
	if ada != wantAda {
		t.Errorf("Create returned %+v, want %+v", ada, wantAda)
	}
	got, err := s.UserByName(ctx, "ada.l")
	if err != nil || got != wantAda {
		t.Errorf("UserByName = %+v, %v; want %+v", got, err, wantAda)
	}
	got, err = s.UserByName(ctx, "bob")
	wantBob := time.Date(2026, 1, 2, 9, 0, 0, 123456000, time.UTC)
	if err != nil || !got.CreatedAt.Equal(wantBob) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("bob created at %v (%v), want %v in UTC", got.CreatedAt, err, wantBob)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "ada.l" || list[1].Name != "bob" {
		t.Errorf("List = %+v, %v; want ada.l, bob", list, err)
	}
	for _, name := range []string{"carol", "", "Ada.L", "../bob"} {
		if _, err := s.UserByName(ctx, name); !errors.Is(err, ErrUserNotFound) {
			t.Errorf("UserByName(%q) = %v, want ErrUserNotFound", name, err)
		}
	}
}

func testCreateRefuses(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	mustCreate(t, s, User{Name: "taken", Email: "taken@example.org"}, "password1")

	ok := User{Name: "fresh", Email: "fresh@example.org"}
	with := func(f func(*User)) User { u := ok; f(&u); return u }
	tests := []struct {
		name     string
		u        User
		password string
		want     error
	}{
		{"taken name", with(func(u *User) { u.Name = "taken" }), "password1", ErrUserExists},
		{"taken e-mail", with(func(u *User) { u.Email = "taken@example.org" }), "password1", ErrEmailTaken},
		{"taken e-mail other case", with(func(u *User) { u.Email = "TAKEN@example.ORG" }), "password1", ErrEmailTaken},
		{"empty name", with(func(u *User) { u.Name = "" }), "password1", ErrInvalidName},
		{"upper case", with(func(u *User) { u.Name = "Fresh" }), "password1", ErrInvalidName},
		{"leading dot", with(func(u *User) { u.Name = ".fresh" }), "password1", ErrInvalidName},
		{"leading dash", with(func(u *User) { u.Name = "-fresh" }), "password1", ErrInvalidName},
		{"slash", with(func(u *User) { u.Name = "a/b" }), "password1", ErrInvalidName},
		{"space", with(func(u *User) { u.Name = "a b" }), "password1", ErrInvalidName},
		{"at sign", with(func(u *User) { u.Name = "a@b" }), "password1", ErrInvalidName},
		{"non-ASCII", with(func(u *User) { u.Name = "zoë" }), "password1", ErrInvalidName},
		{"too long", with(func(u *User) { u.Name = strings.Repeat("a", 65) }), "password1", ErrInvalidName},
		{"no e-mail", with(func(u *User) { u.Email = "" }), "password1", ErrInvalidEmail},
		{"e-mail without @", with(func(u *User) { u.Email = "fresh.example.org" }), "password1", ErrInvalidEmail},
		{"e-mail with name", with(func(u *User) { u.Email = "Fresh <fresh@example.org>" }), "password1", ErrInvalidEmail},
		{"e-mail in brackets", with(func(u *User) { u.Email = "<fresh@example.org>" }), "password1", ErrInvalidEmail},
		{"e-mail with space", with(func(u *User) { u.Email = " fresh@example.org" }), "password1", ErrInvalidEmail},
		{"e-mail two @", with(func(u *User) { u.Email = "a@b@example.org" }), "password1", ErrInvalidEmail},
		{"e-mail newline", with(func(u *User) { u.Email = "fresh@example.org\nBcc: x@y" }), "password1", ErrInvalidEmail},
		{"e-mail too long", with(func(u *User) { u.Email = strings.Repeat("a", 250) + "@example.org" }), "password1", ErrInvalidEmail},
		{"display name control", with(func(u *User) { u.DisplayName = "Fresh\x07" }), "password1", ErrInvalidDisplayName},
		{"display name override", with(func(u *User) { u.DisplayName = "Fresh\u202egnp.exe" }), "password1", ErrInvalidDisplayName},
		{"display name too long", with(func(u *User) { u.DisplayName = strings.Repeat("é", 129) }), "password1", ErrInvalidDisplayName},
		{"short password", ok, "1234567", ErrWeakPassword},
		{"short password in bytes only", ok, "ééééééé", ErrWeakPassword},
		{"password with newline", ok, "password1\n", ErrWeakPassword},
		{"password not UTF-8", ok, "password\xff", ErrWeakPassword},
		{"huge password", ok, strings.Repeat("x", 1025), ErrWeakPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(ctx, tt.u, tt.password)
			if !errors.Is(err, tt.want) {
				t.Errorf("Create = %v, want %v", err, tt.want)
			}
		})
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Errorf("refused Creates left users behind: %+v, %v", list, err)
	}
	// The limits themselves are fine.
	mustCreate(t, s, User{Name: strings.Repeat("a", 64), Email: "long@example.org", DisplayName: strings.Repeat("é", 128)}, "éééééééé")
	mustCreate(t, s, User{Name: "0-x_y.z", Email: "x@localhost"}, strings.Repeat("x", 1024))
}

func testCreateConcurrently(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	const n = 8
	var (
		wg      sync.WaitGroup
		created atomic.Int32
		errs    = make(chan error, 2*n)
	)
	for i := range n {
		wg.Go(func() {
			// All race for one name; each of the others takes its own.
			_, err := s.Create(ctx, User{Name: "same", Email: fmt.Sprintf("same%d@example.org", i)}, "password1")
			switch {
			case err == nil:
				created.Add(1)
			case !errors.Is(err, ErrUserExists):
				errs <- fmt.Errorf("racing Create: %w", err)
			}
			if _, err := s.Create(ctx, User{Name: fmt.Sprintf("own%d", i), Email: fmt.Sprintf("own%d@example.org", i)}, "password1"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if created.Load() != 1 {
		t.Errorf("%d racing Creates of one name succeeded, want 1", created.Load())
	}
	if list, err := s.List(ctx); err != nil || len(list) != n+1 {
		t.Errorf("List has %d users (%v), want %d", len(list), err, n+1)
	}
}

func testMigrateTwice(t *testing.T, d *db.DB) {
	s := newTestUsers(t, d, UsersOptions{})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	if err := NewUsers(d, UsersOptions{}).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByName(context.Background(), "ada"); err != nil {
		t.Error(err)
	}
}

func testAuthenticate(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	ada := mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "pässwörd ✓")
	// The same password typed with a combining accent (NFD).
	mustCreate(t, s, User{Name: "zoe", Email: "zoe@example.org"}, "Zoe\u0308-secret")
	app, err := s.AddAppPassword(ctx, "ada", "Thunderbird")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, user, password string
		want                 error
	}{
		{"account password", "ada", "pässwörd ✓", nil},
		{"name in capitals", "Ada", "pässwörd ✓", nil},
		{"app password", "ada", app, nil},
		{"app password upper case", "ada", strings.ToUpper(app), nil},
		{"app password spaced", "ada", strings.ReplaceAll(app, "-", " "), nil},
		{"app password without dashes", "ada", strings.ReplaceAll(app, "-", ""), nil},
		{"NFC of an NFD password", "zoe", "Zo\u00eb-secret", nil},
		{"wrong password", "ada", "pässwörd ✗", ErrBadPassword},
		{"empty password", "ada", "", ErrBadPassword},
		{"password prefix", "ada", "pässwörd", ErrBadPassword},
		{"other user's password", "zoe", "pässwörd ✓", ErrBadPassword},
		{"other user's app password", "zoe", app, ErrBadPassword},
		{"unknown user", "nobody", "pässwörd ✓", ErrBadPassword},
		{"invalid name", "../ada", "pässwörd ✓", ErrBadPassword},
		{"empty name", "", "pässwörd ✓", ErrBadPassword},
		{"huge password", "ada", strings.Repeat("x", 1<<20), ErrBadPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A new address per case keeps the throttle out of the way.
			u, err := s.Authenticate(ctx, tt.user, tt.password, "192.0.2.1:"+fmt.Sprint(len(tt.name)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate = %v, want %v", err, tt.want)
			}
			if tt.want == nil && u.Name != strings.ToLower(tt.user) {
				t.Errorf("signed in as %+v", u)
			}
			if tt.want != nil && u != (User{}) {
				t.Errorf("a refused sign-in returned user %+v", u)
			}
		})
	}
	// Second sign-in with the account password: served from the cache,
	// still the same user.
	for range 2 {
		u, err := s.Authenticate(ctx, "ada", "pässwörd ✓", "192.0.2.99")
		if err != nil || u != ada {
			t.Errorf("Authenticate = %+v, %v; want %+v", u, err, ada)
		}
	}
}

func testSetPassword(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "old password")
	app, _ := s.AddAppPassword(ctx, "ada", "phone")
	// Warm the verified-password cache with the old password.
	if _, err := s.Authenticate(ctx, "ada", "old password", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "ada", "new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "ada", "old password", "192.0.2.1"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("old password after SetPassword: %v, want ErrBadPassword", err)
	}
	if _, err := s.Authenticate(ctx, "ada", "new password", "192.0.2.1"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "ada", app, "192.0.2.1"); err != nil {
		t.Errorf("app password after SetPassword: %v", err)
	}
	if err := s.SetPassword(ctx, "nobody", "new password"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("SetPassword(nobody) = %v, want ErrUserNotFound", err)
	}
	if err := s.SetPassword(ctx, "ada", "short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("SetPassword(short) = %v, want ErrWeakPassword", err)
	}
}

func testDelete(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	ada := mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	mustCreate(t, s, User{Name: "bob", Email: "bob@example.org"}, "password1")
	app, _ := s.AddAppPassword(ctx, "ada", "phone")
	if _, err := s.Authenticate(ctx, "ada", "password1", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "ada"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByName(ctx, "ada"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("UserByName after Delete: %v", err)
	}
	for _, pw := range []string{"password1", app} {
		if _, err := s.Authenticate(ctx, "ada", pw, "192.0.2.1"); !errors.Is(err, ErrBadPassword) {
			t.Errorf("deleted user signed in with %q: %v", pw, err)
		}
	}
	var n int
	if err := d.QueryRow(d.Rebind(`SELECT COUNT(*) FROM app_passwords WHERE user_id = ?`), ada.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d app passwords left after Delete (%v)", n, err)
	}
	if err := s.Delete(ctx, "ada"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("second Delete = %v, want ErrUserNotFound", err)
	}
	// The name and address are free again, and the new account is not the
	// old one.
	again := mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password2")
	if again.ID == ada.ID {
		t.Errorf("a new user reused the deleted user's id %d", ada.ID)
	}
	if _, err := s.Authenticate(ctx, "ada", "password1", "192.0.2.1"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("the old password opens the new account: %v", err)
	}
	if list, _ := s.List(ctx); len(list) != 2 {
		t.Errorf("List = %+v", list)
	}
}

func testAppPasswords(t *testing.T, d *db.DB) {
	ctx := context.Background()
	c := newClock()
	s := newTestUsers(t, d, UsersOptions{Now: c.Now})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	mustCreate(t, s, User{Name: "bob", Email: "bob@example.org"}, "password1")

	phone, err := s.AddAppPassword(ctx, "ada", " Phone (DAVx5) ")
	if err != nil {
		t.Fatal(err)
	}
	if !looksLikeAppSecret(phone) || len(phone) != 19 || strings.Count(phone, "-") != 3 {
		t.Errorf("secret %q is not four dashed groups of four", phone)
	}
	c.Advance(time.Minute)
	laptop, err := s.AddAppPassword(ctx, "ada", "Laptop")
	if err != nil {
		t.Fatal(err)
	}
	if phone == laptop {
		t.Fatal("two app passwords have the same secret")
	}
	if _, err := s.AddAppPassword(ctx, "bob", "Laptop"); err != nil {
		t.Errorf("another user's label: %v", err)
	}

	addTests := []struct {
		user, label string
		want        error
	}{
		{"ada", "Laptop", ErrAppPasswordExists},
		{"ada", "  Laptop", ErrAppPasswordExists},
		{"ada", "", ErrInvalidLabel},
		{"ada", "   ", ErrInvalidLabel},
		{"ada", "tab\there", ErrInvalidLabel},
		{"ada", strings.Repeat("x", 65), ErrInvalidLabel},
		{"nobody", "Laptop", ErrUserNotFound},
	}
	for _, tt := range addTests {
		if _, err := s.AddAppPassword(ctx, tt.user, tt.label); !errors.Is(err, tt.want) {
			t.Errorf("AddAppPassword(%q, %q) = %v, want %v", tt.user, tt.label, err, tt.want)
		}
	}

	list, err := s.ListAppPasswords(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	start := newClock().Now()
	want := []AppPassword{
		{Label: "Phone (DAVx5)", CreatedAt: start},
		{Label: "Laptop", CreatedAt: start.Add(time.Minute)},
	}
	if len(list) != len(want) || list[0] != want[0] || list[1] != want[1] {
		t.Errorf("ListAppPasswords = %+v, want %+v", list, want)
	}
	if _, err := s.ListAppPasswords(ctx, "nobody"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("ListAppPasswords(nobody) = %v", err)
	}

	if err := s.DeleteAppPassword(ctx, "ada", "Phone (DAVx5)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "ada", phone, "192.0.2.1"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("revoked app password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "ada", laptop, "192.0.2.1"); err != nil {
		t.Errorf("the other app password stopped working: %v", err)
	}
	for _, tt := range []struct {
		user, label string
		want        error
	}{
		{"ada", "Phone (DAVx5)", ErrAppPasswordNotFound},
		{"ada", "laptop", ErrAppPasswordNotFound},
		{"nobody", "Laptop", ErrUserNotFound},
	} {
		if err := s.DeleteAppPassword(ctx, tt.user, tt.label); !errors.Is(err, tt.want) {
			t.Errorf("DeleteAppPassword(%q, %q) = %v, want %v", tt.user, tt.label, err, tt.want)
		}
	}
	if list, _ := s.ListAppPasswords(ctx, "bob"); len(list) != 1 {
		t.Errorf("bob's app passwords changed: %+v", list)
	}
	// Only a hash is stored.
	var stored string
	if err := d.QueryRow(`SELECT hash FROM app_passwords WHERE label = 'Laptop' ORDER BY id LIMIT 1`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, canonicalAppSecret(laptop)) || len(stored) != 64 {
		t.Errorf("stored app password %q is not a SHA-256 hash", stored)
	}
}

func testAppPasswordLastUsed(t *testing.T, d *db.DB) {
	ctx := context.Background()
	c := newClock()
	s := newTestUsers(t, d, UsersOptions{Now: c.Now})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	secret, _ := s.AddAppPassword(ctx, "ada", "phone")
	lastUsed := func() time.Time {
		t.Helper()
		list, err := s.ListAppPasswords(ctx, "ada")
		if err != nil || len(list) != 1 {
			t.Fatalf("ListAppPasswords = %+v, %v", list, err)
		}
		return list[0].LastUsedAt
	}
	if !lastUsed().IsZero() {
		t.Error("a new app password has been used")
	}
	c.Advance(time.Hour)
	first := c.Now()
	if _, err := s.Authenticate(ctx, "ada", secret, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("LastUsedAt = %v, want %v", got, first)
	}
	// Within a few minutes, uses are not written again.
	c.Advance(time.Minute)
	s.Authenticate(ctx, "ada", secret, "192.0.2.1")
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("LastUsedAt = %v, want it unchanged at %v", got, first)
	}
	c.Advance(lastUsedGranularity)
	s.Authenticate(ctx, "ada", secret, "192.0.2.1")
	if got := lastUsed(); !got.Equal(c.Now()) {
		t.Errorf("LastUsedAt = %v, want %v", got, c.Now())
	}
}

func testUnknownUserCostsAHash(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	var hashes atomic.Int32
	kdf := s.hasher.kdf
	s.hasher.kdf = func(p, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		hashes.Add(1)
		return kdf(p, salt, time, memory, threads, keyLen)
	}
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	app, _ := s.AddAppPassword(ctx, "ada", "phone")

	tests := []struct {
		name, user, password string
		wantHashes           int32
	}{
		{"wrong password", "ada", "guess", 1},
		{"unknown user", "nobody", "guess", 1},
		{"unknown user, app password shape", "nobody", app, 1},
		{"wrong app password", "ada", "aaaa-bbbb-cccc-dddd", 1},
		{"right password", "ada", "password1", 1},
		{"right password again", "ada", "password1", 0}, // verified recently
		{"app password", "ada", app, 0},
	}
	for i, tt := range tests {
		hashes.Store(0)
		s.Authenticate(ctx, tt.user, tt.password, fmt.Sprintf("192.0.2.%d", i))
		if got := hashes.Load(); got != tt.wantHashes {
			t.Errorf("%s: %d argon2 runs, want %d", tt.name, got, tt.wantHashes)
		}
	}
}

func testRehash(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	mustCreate(t, s, User{Name: "ada", Email: "ada@example.org"}, "password1")
	_, old, _ := s.userAndHash(ctx, "ada")

	// A later release raises the parameters.
	stronger := testParams
	stronger.Time = 2
	s2 := newTestUsers(t, d, UsersOptions{})
	s2.hasher = newHasher(stronger)
	signIn(t, s2, "ada", "guess", "192.0.2.1", ErrBadPassword)
	if _, h, _ := s.userAndHash(ctx, "ada"); h != old {
		t.Error("a failed sign-in changed the hash")
	}
	signIn(t, s2, "ada", "password1", "192.0.2.1", nil)
	_, updated, _ := s.userAndHash(ctx, "ada")
	h, err := parsePHC(updated)
	if err != nil || h.Params != stronger {
		t.Fatalf("after sign-in the hash is %q (%v), want one with %+v", updated, err, stronger)
	}
	signIn(t, s2, "ada", "password1", "192.0.2.2", nil)
	signIn(t, s, "ada", "password1", "192.0.2.3", nil)
}

// BenchmarkAuthenticate measures a sign-in on SQLite with the real hash
// parameters: the paths CalDAV clients take on every request (app password,
// recently verified account password) and the slow one (wrong password).
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	d, err := db.Open(ctx, "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	s := NewUsers(d, UsersOptions{Throttle: ThrottleOptions{PairLimit: 1 << 30, AddressLimit: 1 << 30, UserLimit: 1 << 30}})
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Create(ctx, User{Name: "ada", Email: "ada@example.org"}, "password1"); err != nil {
		b.Fatal(err)
	}
	app, err := s.AddAppPassword(ctx, "ada", "phone")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, password string }{
		{"app-password", app},
		{"verified-account-password", "password1"},
		{"wrong-password", "guess"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				s.Authenticate(ctx, "ada", bc.password, "192.0.2.1")
			}
		})
	}
}

func testUserByEmail(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	ada := mustCreate(t, s, User{Name: "ada", Email: "Ada@Example.org", Lang: "fr"}, "password1")
	mustCreate(t, s, User{Name: "bob", Email: "bob@example.org"}, "password1")
	for _, email := range []string{"Ada@Example.org", "ada@example.org", "ADA@EXAMPLE.ORG"} {
		got, err := s.UserByEmail(ctx, email)
		if err != nil || got != ada {
			t.Errorf("UserByEmail(%q) = %+v, %v; want %+v", email, got, err, ada)
		}
	}
	for _, email := range []string{"", "carol@example.org", "ada@example.org ", "%@example.org", "ada@example.%", strings.Repeat("a", 300)} {
		if got, err := s.UserByEmail(ctx, email); !errors.Is(err, ErrUserNotFound) {
			t.Errorf("UserByEmail(%q) = %+v, %v; want ErrUserNotFound", email, got, err)
		}
	}
}

// testUserByEmailUsesIndex checks that scheduling's look-up by address
// does not scan the table, on either engine.
func testUserByEmailUsesIndex(t *testing.T, d *db.DB) {
	ctx := context.Background()
	newTestUsers(t, d, UsersOptions{})
	conn, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const query = `SELECT ` + userColumns + ` FROM users WHERE lower(email) = lower('ada@example.org')`
	var plan strings.Builder
	switch d.Dialect {
	case db.SQLite:
		rows, err := conn.QueryContext(ctx, `EXPLAIN QUERY PLAN `+query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "\n")
		}
	case db.Postgres:
		// An empty table makes a sequential scan the cheapest plan; forbid
		// it to see whether the index can serve the query at all.
		if _, err := conn.ExecContext(ctx, `SET enable_seqscan = off`); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.QueryContext(ctx, `EXPLAIN `+query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
	}
	if !strings.Contains(plan.String(), "users_email") {
		t.Errorf("plan does not use the users_email index:\n%s", plan.String())
	}
}

func testLang(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	for _, lang := range []string{"", "en", "fr"} {
		name := "u" + lang
		u := mustCreate(t, s, User{Name: name, Email: name + "@example.org", Lang: lang}, "password1")
		got, err := s.UserByName(ctx, name)
		if err != nil || got.Lang != lang || u.Lang != lang {
			t.Errorf("Lang %q stored as %q (%v), returned %q", lang, got.Lang, err, u.Lang)
		}
		if want := map[string]string{"": "en", "en": "en", "fr": "fr"}[lang]; got.Language() != want {
			t.Errorf("Language() of Lang %q = %q, want %q", lang, got.Language(), want)
		}
	}
	for _, lang := range []string{"de", "FR", "fr-FR", " fr", "english"} {
		if _, err := s.Create(ctx, User{Name: "bad", Email: "bad@example.org", Lang: lang}, "password1"); !errors.Is(err, ErrInvalidLang) {
			t.Errorf("Create with Lang %q = %v, want ErrInvalidLang", lang, err)
		}
	}
	if list, err := s.List(ctx); err != nil || len(list) != 3 || list[2].Lang != "fr" {
		t.Errorf("List = %+v, %v; want three users, the last in French", list, err)
	}
}

func testUpdate(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := newTestUsers(t, d, UsersOptions{})
	ada := mustCreate(t, s, User{Name: "ada", Email: "ada@example.org", DisplayName: "Ada", Admin: true}, "password1")
	mustCreate(t, s, User{Name: "bob", Email: "bob@example.org"}, "password1")
	str := func(s string) *string { return &s }

	steps := []struct {
		name   string
		update UserUpdate
		want   func(*User)
	}{
		{"nothing", UserUpdate{}, func(*User) {}},
		{"lang", UserUpdate{Lang: str("fr")}, func(u *User) { u.Lang = "fr" }},
		{"display name, trimmed", UserUpdate{DisplayName: str(" Ada L. ")}, func(u *User) { u.DisplayName = "Ada L." }},
		{"e-mail", UserUpdate{Email: str("Ada@Lovelace.org")}, func(u *User) { u.Email = "Ada@Lovelace.org" }},
		{"own e-mail in other case", UserUpdate{Email: str("ada@lovelace.org")}, func(u *User) { u.Email = "ada@lovelace.org" }},
		{"all, lang back to default", UserUpdate{Email: str("a@b.org"), DisplayName: str(""), Lang: str("")}, func(u *User) {
			u.Email, u.DisplayName, u.Lang = "a@b.org", "", ""
		}},
	}
	want := ada
	for _, st := range steps {
		st.want(&want)
		got, err := s.Update(ctx, "ada", st.update)
		if err != nil || got != want {
			t.Fatalf("%s: Update = %+v, %v; want %+v", st.name, got, err, want)
		}
		if stored, err := s.UserByName(ctx, "ada"); err != nil || stored != want {
			t.Fatalf("%s: stored %+v, %v; want %+v", st.name, stored, err, want)
		}
	}

	refusals := []struct {
		name   string
		user   string
		update UserUpdate
		want   error
	}{
		{"unknown user", "carol", UserUpdate{Lang: str("fr")}, ErrUserNotFound},
		{"invalid name", "../ada", UserUpdate{Lang: str("fr")}, ErrUserNotFound},
		{"bad lang", "ada", UserUpdate{Lang: str("de")}, ErrInvalidLang},
		{"bad e-mail", "ada", UserUpdate{Email: str("Ada <a@b.org>")}, ErrInvalidEmail},
		{"taken e-mail", "ada", UserUpdate{Email: str("BOB@example.org"), Lang: str("fr")}, ErrEmailTaken},
		{"bad display name", "ada", UserUpdate{DisplayName: str("x\u202ey")}, ErrInvalidDisplayName},
	}
	for _, tt := range refusals {
		if _, err := s.Update(ctx, tt.user, tt.update); !errors.Is(err, tt.want) {
			t.Errorf("%s: Update = %v, want %v", tt.name, err, tt.want)
		}
	}
	if stored, _ := s.UserByName(ctx, "ada"); stored != want {
		t.Errorf("refused Updates changed the user: %+v, want %+v", stored, want)
	}
}
