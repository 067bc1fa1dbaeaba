package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/calendar/sqlstore"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// salonRun runs salon in-process with stdin as standard input (nil: none)
// and returns what it printed.
func salonRun(t *testing.T, environ map[string]string, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, env(environ), stdin, &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRun is salonRun for a command that must succeed.
func mustRun(t *testing.T, environ map[string]string, stdin io.Reader, args ...string) string {
	t.Helper()
	out, errOut, err := salonRun(t, environ, stdin, args...)
	if err != nil {
		t.Fatalf("salon %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// checkSignIn asserts whether name and password sign in to the database
// salon used.
func checkSignIn(t *testing.T, dsn, dir, name, password string, want error) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, dsn, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = auth.NewUsers(d, auth.UsersOptions{}).Authenticate(ctx, name, password, "192.0.2.1")
	if !errors.Is(err, want) {
		t.Errorf("sign in as %s with %q: %v, want %v", name, password, err, want)
	}
}

var printedPassword = regexp.MustCompile(`(?m)^Password: (\S+)$`)

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data", dir}
	cmd := func(args ...string) []string { return append(append([]string{"user"}, args...), data...) }

	out := mustRun(t, nil, strings.NewReader("correct horse\nignored second line\n"), cmd("add", "ada", "--email", "ada@example.org", "--admin", "--display-name", "Ada Lovelace")...)
	if !strings.Contains(out, "Created user ada (ada@example.org, administrator).") || strings.Contains(out, "Password:") {
		t.Errorf("add printed %q", out)
	}
	checkSignIn(t, "", dir, "ada", "correct horse", nil)

	// No input: a password is made and printed, once.
	out = mustRun(t, nil, strings.NewReader(""), "user", "--data", dir, "add", "bob", "--email=bob@example.org")
	m := printedPassword.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("add without input printed no password: %q", out)
	}
	checkSignIn(t, "", dir, "bob", m[1], nil)
	// A password without a final newline, with a Windows line ending, or
	// with spaces around it is taken as it is.
	mustRun(t, nil, strings.NewReader(" spaced out "), cmd("add", "carol", "--email", "carol@example.org")...)
	checkSignIn(t, "", dir, "carol", " spaced out ", nil)
	mustRun(t, nil, strings.NewReader("windows line\r\n"), cmd("add", "dave", "--email", "dave@example.org")...)
	checkSignIn(t, "", dir, "dave", "windows line", nil)

	out = mustRun(t, nil, nil, cmd("list")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !regexp.MustCompile(`^NAME\s+EMAIL\s+ADMIN\s+LANG\s+CREATED$`).MatchString(lines[0]) {
		t.Fatalf("list printed:\n%s", out)
	}
	if !regexp.MustCompile(`^ada\s+ada@example.org\s+yes\s+en\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^bob\s+bob@example.org\s+no\s+en\s+`).MatchString(lines[2]) {
		t.Errorf("list printed:\n%s", out)
	}

	// passwd from standard input, then generated.
	out = mustRun(t, nil, strings.NewReader("new horse\n"), cmd("passwd", "ada")...)
	if !strings.Contains(out, "Changed the password of ada.") || strings.Contains(out, "Password:") {
		t.Errorf("passwd printed %q", out)
	}
	checkSignIn(t, "", dir, "ada", "correct horse", auth.ErrBadPassword)
	checkSignIn(t, "", dir, "ada", "new horse", nil)
	out = mustRun(t, nil, nil, cmd("passwd", "bob")...)
	m2 := printedPassword.FindStringSubmatch(out)
	if m2 == nil || m2[1] == m[1] {
		t.Fatalf("passwd without input printed %q", out)
	}
	checkSignIn(t, "", dir, "bob", m2[1], nil)

	out = mustRun(t, nil, nil, cmd("delete", "bob")...)
	if out != "Deleted user bob and their calendars.\n" {
		t.Errorf("delete printed %q", out)
	}
	out = mustRun(t, nil, nil, cmd("list")...)
	if strings.Contains(out, "bob") {
		t.Errorf("bob still listed:\n%s", out)
	}
}

func TestUserLangAndSet(t *testing.T) {
	dir := t.TempDir()
	environ := map[string]string{"SALON_DATA": dir}
	out := mustRun(t, environ, strings.NewReader("password1\n"), "user", "add", "ada", "--email", "ada@example.org", "--lang", "fr", "--display-name", "Ada")
	if !strings.Contains(out, "Created user ada") {
		t.Errorf("add printed %q", out)
	}
	mustRun(t, environ, strings.NewReader("password1\n"), "user", "add", "bob", "--email", "bob@example.org")
	listed := func(want string) {
		t.Helper()
		out := mustRun(t, environ, nil, "user", "list")
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("list printed:\n%s\nwant a match for %s", out, want)
		}
	}
	listed(`(?m)^ada\s+ada@example.org\s+no\s+fr\s+\d{4}-.*\nbob\s+bob@example.org\s+no\s+en\s`)

	steps := []struct {
		args    []string
		printed string
		user    auth.User // Name, Email, DisplayName, Lang compared
	}{
		{[]string{"--lang", "en"}, "Updated user ada: e-mail ada@example.org, display name Ada, language en.\n",
			auth.User{Name: "ada", Email: "ada@example.org", DisplayName: "Ada", Lang: "en"}},
		{[]string{"--email", "Ada@Lovelace.org", "--display-name", "Ada Lovelace"}, "Updated user ada: e-mail Ada@Lovelace.org, display name Ada Lovelace, language en.\n",
			auth.User{Name: "ada", Email: "Ada@Lovelace.org", DisplayName: "Ada Lovelace", Lang: "en"}},
		// An empty value clears the display name; flags may come first.
		{[]string{"--display-name=", "--lang=fr"}, "Updated user ada: e-mail Ada@Lovelace.org, display name (none), language fr.\n",
			auth.User{Name: "ada", Email: "Ada@Lovelace.org", Lang: "fr"}},
	}
	for _, st := range steps {
		out := mustRun(t, environ, nil, append([]string{"user", "set", "ada"}, st.args...)...)
		if out != st.printed {
			t.Errorf("set %v printed %q, want %q", st.args, out, st.printed)
		}
		u := storedUser(t, dir, "ada")
		if u.Name != st.user.Name || u.Email != st.user.Email || u.DisplayName != st.user.DisplayName || u.Lang != st.user.Lang {
			t.Errorf("after set %v: %+v, want %+v", st.args, u, st.user)
		}
	}
	listed(`(?m)^ada\s+Ada@Lovelace.org\s+no\s+fr\s`)

	_, _, err := salonRun(t, environ, nil, "user", "set", "bob", "--email", "ADA@lovelace.org")
	if !errors.Is(err, auth.ErrEmailTaken) {
		t.Errorf("set bob to ada's address: %v, want ErrEmailTaken", err)
	}
	checkSignIn(t, "", dir, "ada", "password1", nil)
	if out := mustRun(t, nil, nil, "user", "help"); !strings.Contains(out, "salon user set NAME [--email ADDR] [--display-name TEXT] [--lang en|fr]") {
		t.Errorf("help printed %q", out)
	}
}

// storedUser reads the user called name from the SQLite database in dir.
func storedUser(t *testing.T, dir, name string) auth.User {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u, err := auth.NewUsers(d, auth.UsersOptions{}).UserByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUserAppPasswords(t *testing.T) {
	dir := t.TempDir()
	environ := map[string]string{"SALON_DATA": dir}
	mustRun(t, environ, strings.NewReader("password1\n"), "user", "add", "ada", "--email", "ada@example.org")

	_, errOut, err := salonRun(t, environ, nil, "user", "app-password", "list", "ada")
	if err != nil || !strings.Contains(errOut, "ada has no app passwords") {
		t.Errorf("list with none: %v, stderr %q", err, errOut)
	}
	out := mustRun(t, environ, nil, "user", "app-password", "add", "ada", "Thunderbird on laptop")
	secret := regexp.MustCompile(`: ([a-z2-9]{4}(?:-[a-z2-9]{4}){3})\n`).FindStringSubmatch(out)
	if secret == nil || !strings.Contains(out, `App password "Thunderbird on laptop" for ada`) {
		t.Fatalf("app-password add printed %q", out)
	}
	checkSignIn(t, "", dir, "ada", secret[1], nil)

	out = mustRun(t, environ, nil, "user", "app-password", "list", "ada")
	if !regexp.MustCompile(`(?m)^LABEL\s+CREATED\s+LAST USED\nThunderbird on laptop\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-`).MatchString(out) {
		t.Errorf("app-password list printed:\n%s", out)
	}

	_, _, err = salonRun(t, environ, nil, "user", "app-password", "add", "ada", "Thunderbird on laptop")
	if !errors.Is(err, auth.ErrAppPasswordExists) || !strings.Contains(err.Error(), "app-password delete ada") {
		t.Errorf("duplicate label: %v", err)
	}
	mustRun(t, environ, nil, "user", "app-password", "delete", "ada", "Thunderbird on laptop")
	checkSignIn(t, "", dir, "ada", secret[1], auth.ErrBadPassword)
	_, _, err = salonRun(t, environ, nil, "user", "app-password", "delete", "ada", "Thunderbird on laptop")
	if !errors.Is(err, auth.ErrAppPasswordNotFound) || !strings.Contains(err.Error(), "app-password list ada") {
		t.Errorf("deleting it again: %v", err)
	}
}

func TestUserCommandErrors(t *testing.T) {
	dir := t.TempDir()
	environ := map[string]string{"SALON_DATA": dir}
	mustRun(t, environ, strings.NewReader("password1\n"), "user", "add", "ada", "--email", "ada@example.org")

	tests := []struct {
		name    string
		environ map[string]string
		stdin   string
		args    []string
		want    string // in the error
		is      error
	}{
		{"no command", environ, "", []string{"user"}, "needs a command", nil},
		{"unknown command", environ, "", []string{"user", "rename"}, `unknown command "rename"`, nil},
		{"no name", environ, "", []string{"user", "add", "--email", "x@example.org"}, "one user name", nil},
		{"two names", environ, "", []string{"user", "add", "a", "b", "--email", "x@example.org"}, "one user name", nil},
		{"no email", environ, "", []string{"user", "add", "bob"}, "needs --email", nil},
		{"invalid name", environ, "", []string{"user", "add", "Bob", "--email", "bob@example.org"}, "lowercase letters", auth.ErrInvalidName},
		{"invalid email", environ, "", []string{"user", "add", "bob", "--email", "Bob <bob@example.org>"}, "invalid --email", auth.ErrInvalidEmail},
		{"invalid display name", environ, "", []string{"user", "add", "bob", "--email", "bob@example.org", "--display-name", "a\nb"}, "invalid --display-name", auth.ErrInvalidDisplayName},
		{"user exists", environ, "", []string{"user", "add", "ada", "--email", "other@example.org"}, "salon user passwd ada", auth.ErrUserExists},
		{"email taken", environ, "", []string{"user", "add", "bob", "--email", "ADA@example.org"}, "e-mail address", auth.ErrEmailTaken},
		{"weak password", environ, "short\n", []string{"user", "add", "bob", "--email", "bob@example.org"}, "8 to 1024 characters", auth.ErrWeakPassword},
		{"empty line", environ, "\nsecond\n", []string{"user", "add", "bob", "--email", "bob@example.org"}, "empty line", nil},
		{"huge line", environ, strings.Repeat("x", 5000), []string{"user", "add", "bob", "--email", "bob@example.org"}, "too long", nil},
		{"passwd unknown user", environ, "password2\n", []string{"user", "passwd", "bob"}, `no user named "bob"`, auth.ErrUserNotFound},
		{"delete unknown user", environ, "", []string{"user", "delete", "bob"}, "salon user list", auth.ErrUserNotFound},
		{"app password unknown user", environ, "", []string{"user", "app-password", "add", "bob", "phone"}, `no user named "bob"`, auth.ErrUserNotFound},
		{"app password no label", environ, "", []string{"user", "app-password", "add", "ada"}, "a user name and a label", nil},
		{"app password bad label", environ, "", []string{"user", "app-password", "add", "ada", " "}, "invalid label", auth.ErrInvalidLabel},
		{"app password no command", environ, "", []string{"user", "app-password"}, "needs a command", nil},
		{"invalid lang", environ, "", []string{"user", "add", "bob", "--email", "bob@example.org", "--lang", "de"}, "invalid --lang: use en (English) or fr (French)", auth.ErrInvalidLang},
		{"set nothing", environ, "", []string{"user", "set", "ada"}, "at least one of", nil},
		{"set no name", environ, "", []string{"user", "set", "--lang", "fr"}, "one user name", nil},
		{"set unknown user", environ, "", []string{"user", "set", "bob", "--lang", "fr"}, `no user named "bob"`, auth.ErrUserNotFound},
		{"set invalid lang", environ, "", []string{"user", "set", "ada", "--lang", "FR"}, "invalid --lang", auth.ErrInvalidLang},
		{"set invalid email", environ, "", []string{"user", "set", "ada", "--email", "nope"}, "invalid --email", auth.ErrInvalidEmail},
		{"set invalid display name", environ, "", []string{"user", "set", "ada", "--display-name", "a\tb"}, "invalid --display-name", auth.ErrInvalidDisplayName},
		{"set unknown flag", environ, "", []string{"user", "set", "ada", "--admin"}, "", nil},
		{"list takes nothing", environ, "", []string{"user", "list", "ada"}, "no arguments", nil},
		{"wrong data dir", map[string]string{"SALON_DATA": filepath.Join(dir, "nope")}, "", []string{"user", "list"}, "pass --data (or set SALON_DATA)", nil},
		{"bad db", environ, "", []string{"user", "list", "--db", "mysql://root@localhost/salon"}, "--db", nil},
		{"bad db from env", map[string]string{"SALON_DB": "redis://x"}, "", []string{"user", "add", "bob", "--email", "bob@example.org"}, "--db", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := salonRun(t, tt.environ, strings.NewReader(tt.stdin), tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q (stdout %q)", err, tt.want, out)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want it to match %v", err, tt.is)
			}
		})
	}
	// Nothing above created or changed anyone.
	out := mustRun(t, environ, nil, "user", "list")
	if strings.Count(out, "\n") != 2 || !regexp.MustCompile(`(?m)^ada\s+ada@example.org\s+no\s+en\s`).MatchString(out) {
		t.Errorf("users after refused commands:\n%s", out)
	}
	checkSignIn(t, "", dir, "ada", "password1", nil)
	if _, err := os.Stat(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("list with a wrong --data created it: %v", err)
	}
}

func TestUserFlagsAndEnvironment(t *testing.T) {
	envDir, flagDir := t.TempDir(), t.TempDir()
	environ := map[string]string{"SALON_DATA": envDir}
	// The flag wins over the environment, wherever it is.
	mustRun(t, environ, strings.NewReader("password1\n"), "user", "add", "--data", flagDir, "ada", "--email", "ada@example.org")
	mustRun(t, environ, strings.NewReader("password1\n"), "user", "add", "bob", "--email", "bob@example.org")
	if out := mustRun(t, environ, nil, "user", "--data", flagDir, "list"); !strings.Contains(out, "ada") || strings.Contains(out, "bob") {
		t.Errorf("list of --data dir:\n%s", out)
	}
	if out := mustRun(t, environ, nil, "user", "list"); strings.Contains(out, "ada") || !strings.Contains(out, "bob") {
		t.Errorf("list of SALON_DATA dir:\n%s", out)
	}
	// A label that starts with a dash, after --.
	out := mustRun(t, environ, nil, "user", "app-password", "add", "bob", "--", "-phone-")
	if !strings.Contains(out, `"-phone-"`) {
		t.Errorf("app-password add printed %q", out)
	}
	if out := mustRun(t, nil, nil, "user", "help"); !strings.Contains(out, "salon user app-password add NAME LABEL") {
		t.Errorf("help printed %q", out)
	}
	if _, _, err := salonRun(t, nil, nil, "user", "list", "--help"); err != nil {
		t.Errorf("--help: %v", err)
	}
}

func TestUserOnPostgres(t *testing.T) {
	dsn := testpg.Start(t)
	dir := t.TempDir() // must stay empty: the data is in PostgreSQL
	mustRun(t, map[string]string{"SALON_DB": dsn}, strings.NewReader("password1\n"), "user", "add", "ada", "--email", "ada@example.org", "--data", dir)
	out := mustRun(t, nil, nil, "user", "list", "--db", dsn, "--data", dir)
	if !strings.Contains(out, "ada@example.org") {
		t.Errorf("list printed:\n%s", out)
	}
	checkSignIn(t, dsn, "", "ada", "password1", nil)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the data directory got %d entries with --db set", len(entries))
	}
}

func TestUserAfterCreateHook(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	var got []auth.User
	hooks := userHooks{afterCreate: func(ctx context.Context, d *db.DB, u auth.User) error {
		if d == nil || d.PingContext(ctx) != nil {
			t.Error("hook got no usable database")
		}
		got = append(got, u)
		if u.Name == "broken" {
			return errors.New("no default calendar for you")
		}
		return nil
	}}
	add := func(name string) error {
		return userCommand(context.Background(), []string{"add", name, "--email", name + "@example.org", "--data", dir},
			env(nil), strings.NewReader("password1\n"), &out, &errOut, hooks)
	}
	if err := add("ada"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "ada" || got[0].ID == 0 || got[0].Email != "ada@example.org" {
		t.Errorf("hook got %+v", got)
	}
	err := add("broken")
	if err == nil || !strings.Contains(err.Error(), "no default calendar for you") || !strings.Contains(err.Error(), "not added") {
		t.Fatalf("add with a failing hook: %v", err)
	}
	list := mustRun(t, nil, nil, "user", "list", "--data", dir)
	if strings.Contains(list, "broken") {
		t.Errorf("a user whose set-up failed was kept:\n%s", list)
	}
	// The name is free for another try.
	hooks.afterCreate = nil
	if err := add("broken"); err != nil {
		t.Errorf("adding again: %v", err)
	}
}

// TestDeletedUsersCalendarsGo: a new account that reuses a deleted user's
// name starts with a fresh default calendar, never the old one's events.
func TestDeletedUsersCalendarsGo(t *testing.T) {
	dir := t.TempDir()
	cmd := func(args ...string) []string { return append([]string{"user"}, append(args, "--data", dir)...) }
	mustRun(t, nil, strings.NewReader("old bob password\n"), cmd("add", "bob", "--email", "bob@example.org")...)

	ctx := context.Background()
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	store := sqlstore.New(d, sqlstore.Options{})
	cals, err := store.Calendars(ctx, "bob")
	if err != nil || len(cals) != 1 || cals[0].Name != "default" {
		t.Fatalf("a new user's calendars: %+v, %v", cals, err)
	}
	if err := store.CreateCalendar(ctx, &calendar.Calendar{Owner: "bob", Name: "private"}); err != nil {
		t.Fatal(err)
	}

	mustRun(t, nil, nil, cmd("delete", "bob")...)
	if cals, err := store.Calendars(ctx, "bob"); err != nil || len(cals) != 0 {
		t.Fatalf("calendars left after delete: %+v, %v", cals, err)
	}
	mustRun(t, nil, strings.NewReader("new bob password\n"), cmd("add", "bob", "--email", "bob@example.org")...)
	cals, err = store.Calendars(ctx, "bob")
	if err != nil || len(cals) != 1 || cals[0].Name != "default" {
		t.Fatalf("the new bob sees %+v, %v", cals, err)
	}
}
