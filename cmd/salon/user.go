package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
)

const userUsage = `Usage:
  salon user add NAME --email ADDR [--admin] [--display-name TEXT] [--lang en|fr]
  salon user set NAME [--email ADDR] [--display-name TEXT] [--lang en|fr]
  salon user list
  salon user passwd NAME
  salon user delete NAME
  salon user app-password add NAME LABEL
  salon user app-password list NAME
  salon user app-password delete NAME LABEL

add and passwd read the password from the first line of standard input.
With no input (a terminal, or </dev/null) they make a strong one and
print it. --lang is the language of the mail and pages salon makes for
the user (English by default); set changes only the flags given.

Every command also takes --data DIR (default ./data) and --db URL (default:
SQLite in the data directory), or SALON_DATA and SALON_DB, like salon serve.
`

// userHooks lets the wiring add to what `salon user` does. A zero value does
// nothing extra.
type userHooks struct {
	// afterCreate runs once a new user is stored, e.g. to give them a
	// default calendar. When it fails the user is deleted again and add
	// fails, so that no half-made account is left.
	afterCreate func(ctx context.Context, d *db.DB, u auth.User) error
	// afterDelete runs once a user is deleted, to remove what they owned,
	// so that a later account with the same name starts empty.
	afterDelete func(ctx context.Context, d *db.DB, name string) error
}

// userCmd is one run of `salon user …`: where the database is, and the
// streams to talk through.
type userCmd struct {
	data   string
	dsn    string
	given  map[string]bool // flags given on the command line
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	hooks  userHooks
}

// userCommand runs `salon user` with args (after "user").
func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, hooks userHooks) error {
	c := &userCmd{data: "./data", given: map[string]bool{}, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, hooks: hooks}
	err := c.run(ctx, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func (c *userCmd) run(ctx context.Context, args []string) error {
	// --data and --db may come before the subcommand too.
	fs := c.flagSet("salon user")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	c.noteGiven(fs)
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprint(c.stderr, userUsage)
		return usageError{"salon user needs a command: add, set, list, passwd, delete or app-password"}
	}
	switch args[0] {
	case "add":
		return c.add(ctx, args[1:])
	case "set":
		return c.set(ctx, args[1:])
	case "list":
		return c.list(ctx, args[1:])
	case "passwd":
		return c.passwd(ctx, args[1:])
	case "delete":
		return c.delete(ctx, args[1:])
	case "app-password":
		return c.appPassword(ctx, args[1:])
	case "help":
		fmt.Fprint(c.stdout, userUsage)
		return nil
	default:
		fmt.Fprint(c.stderr, userUsage)
		return usageError{fmt.Sprintf("unknown command %q for salon user", args[0])}
	}
}

// flagSet returns a flag set that knows --data and --db.
func (c *userCmd) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), userUsage) }
	fs.StringVar(&c.data, "data", c.data, "data directory (as for salon serve)")
	fs.StringVar(&c.dsn, "db", c.dsn, "database: empty for SQLite in the data directory, or postgres://…")
	return fs
}

func (c *userCmd) noteGiven(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) { c.given[f.Name] = true })
}

// parse reads args into fs, allowing flags after the positional arguments
// (salon user add ada --email …), and checks the number of positionals.
func (c *userCmd) parse(fs *flag.FlagSet, args []string, want int, example string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	c.noteGiven(fs)
	if len(pos) != want {
		fmt.Fprint(c.stderr, userUsage)
		return nil, usageError{fmt.Sprintf("%s takes %s, got %d argument(s)", fs.Name(), example, len(pos))}
	}
	return pos, nil
}

// flagError passes on flag.ErrHelp, which userCommand turns into success
// once the usage is printed, and otherwise ends quietly: the flag package
// has said what is wrong.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{""}
}

// open connects to the database salon serve uses and prepares the user
// tables. Commands that only change existing users refuse a SQLite
// database that does not exist yet: that is almost always a wrong --data.
func (c *userCmd) open(ctx context.Context, mustExist bool) (*db.DB, *auth.Users, error) {
	if !c.given["data"] {
		if v := c.getenv("SALON_DATA"); v != "" {
			c.data = v
		}
	}
	if !c.given["db"] {
		if v := c.getenv("SALON_DB"); v != "" {
			c.dsn = v
		}
	}
	if strings.TrimSpace(c.data) == "" && c.dsn == "" {
		return nil, nil, errors.New("invalid --data: the data directory must not be empty")
	}
	if c.dsn == "" && mustExist {
		path := filepath.Join(c.data, db.SQLiteFile)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("no salon database at %s: pass --data (or set SALON_DATA) to the data directory salon serve uses", path)
		}
	}
	d, err := db.Open(ctx, c.dsn, c.data)
	if err != nil {
		return nil, nil, err
	}
	users := auth.NewUsers(d, auth.UsersOptions{
		Logger: slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err := users.Migrate(ctx); err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("prepare the database: %w", err)
	}
	return d, users, nil
}

func (c *userCmd) add(ctx context.Context, args []string) error {
	fs := c.flagSet("salon user add")
	email := fs.String("email", "", "e-mail address: where invitations go, and the user's calendar address (required)")
	admin := fs.Bool("admin", false, "make the user an administrator")
	displayName := fs.String("display-name", "", "name shown to others (default: the user name)")
	lang := fs.String("lang", "", "language of salon's mail and pages for the user: en or fr (default en)")
	pos, err := c.parse(fs, args, 1, "one user name, e.g. salon user add ada --email ada@example.org")
	if err != nil {
		return err
	}
	name := pos[0]
	if *email == "" {
		return usageError{"salon user add needs --email ADDR: the address invitations are sent to"}
	}
	password, generated, err := c.readPassword()
	if err != nil {
		return err
	}
	d, users, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := users.Create(ctx, auth.User{Name: name, Email: *email, DisplayName: *displayName, Admin: *admin, Lang: *lang}, password)
	if err != nil {
		return explain(err, name, "")
	}
	if c.hooks.afterCreate != nil {
		if err := c.hooks.afterCreate(ctx, d, u); err != nil {
			if delErr := users.Delete(context.WithoutCancel(ctx), u.Name); delErr != nil {
				return fmt.Errorf("user %s was created but setting up their account failed (%w), and removing them again failed too (%v): delete them with salon user delete %s, then add them again", u.Name, err, delErr, u.Name)
			}
			return fmt.Errorf("could not set up user %s, so they were not added: %w", u.Name, err)
		}
	}
	role := ""
	if u.Admin {
		role = ", administrator"
	}
	fmt.Fprintf(c.stdout, "Created user %s (%s%s).\n", u.Name, u.Email, role)
	if generated {
		printPassword(c.stdout, u.Name, password)
	}
	return nil
}

func (c *userCmd) set(ctx context.Context, args []string) error {
	fs := c.flagSet("salon user set")
	email := fs.String("email", "", "new e-mail address: where invitations go, and the user's calendar address")
	displayName := fs.String("display-name", "", "new name shown to others (empty: the user name)")
	lang := fs.String("lang", "", "language of salon's mail and pages for the user: en or fr")
	pos, err := c.parse(fs, args, 1, "one user name, e.g. salon user set ada --lang fr")
	if err != nil {
		return err
	}
	name := pos[0]
	// Only the flags given change: an empty --display-name is a request to
	// clear it, not the absence of one.
	var f auth.UserUpdate
	if c.given["email"] {
		f.Email = email
	}
	if c.given["display-name"] {
		f.DisplayName = displayName
	}
	if c.given["lang"] {
		f.Lang = lang
	}
	if f == (auth.UserUpdate{}) {
		fmt.Fprint(c.stderr, userUsage)
		return usageError{"salon user set needs at least one of --email, --display-name or --lang"}
	}
	d, users, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := users.Update(ctx, name, f)
	if err != nil {
		return explain(err, name, "")
	}
	display := u.DisplayName
	if display == "" {
		display = "(none)"
	}
	fmt.Fprintf(c.stdout, "Updated user %s: e-mail %s, display name %s, language %s.\n", u.Name, u.Email, display, u.Language())
	return nil
}

func (c *userCmd) list(ctx context.Context, args []string) error {
	if _, err := c.parse(c.flagSet("salon user list"), args, 0, "no arguments"); err != nil {
		return err
	}
	d, users, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer d.Close()
	list, err := users.List(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stderr, "No users yet. Add one with: salon user add NAME --email ADDR")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tEMAIL\tADMIN\tLANG\tCREATED")
	for _, u := range list {
		admin := "no"
		if u.Admin {
			admin = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Email, admin, u.Language(), formatTime(u.CreatedAt))
	}
	return tw.Flush()
}

func (c *userCmd) passwd(ctx context.Context, args []string) error {
	pos, err := c.parse(c.flagSet("salon user passwd"), args, 1, "one user name, e.g. salon user passwd ada")
	if err != nil {
		return err
	}
	name := pos[0]
	d, users, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer d.Close()
	// Check the user first, so that a typo in the name does not cost the
	// password typed on standard input.
	if _, err := users.UserByName(ctx, name); err != nil {
		return explain(err, name, "")
	}
	password, generated, err := c.readPassword()
	if err != nil {
		return err
	}
	if err := users.SetPassword(ctx, name, password); err != nil {
		return explain(err, name, "")
	}
	fmt.Fprintf(c.stdout, "Changed the password of %s. Their app passwords still work (salon user app-password list %s).\n", name, name)
	if generated {
		printPassword(c.stdout, name, password)
	}
	return nil
}

func (c *userCmd) delete(ctx context.Context, args []string) error {
	pos, err := c.parse(c.flagSet("salon user delete"), args, 1, "one user name, e.g. salon user delete ada")
	if err != nil {
		return err
	}
	name := pos[0]
	d, users, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := users.Delete(ctx, name); err != nil {
		return explain(err, name, "")
	}
	if c.hooks.afterDelete != nil {
		if err := c.hooks.afterDelete(ctx, d, name); err != nil {
			return fmt.Errorf("deleted user %s, but not everything they owned: %w; run the command again", name, err)
		}
	}
	fmt.Fprintf(c.stdout, "Deleted user %s and their calendars.\n", name)
	return nil
}

func (c *userCmd) appPassword(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, userUsage)
		return usageError{"salon user app-password needs a command: add, list or delete"}
	}
	switch args[0] {
	case "add":
		pos, err := c.parse(c.flagSet("salon user app-password add"), args[1:], 2, `a user name and a label, e.g. salon user app-password add ada "Thunderbird on laptop"`)
		if err != nil {
			return err
		}
		name, label := pos[0], pos[1]
		d, users, err := c.open(ctx, true)
		if err != nil {
			return err
		}
		defer d.Close()
		secret, err := users.AddAppPassword(ctx, name, label)
		if err != nil {
			return explain(err, name, label)
		}
		fmt.Fprintf(c.stdout, "App password %q for %s: %s\n", strings.TrimSpace(label), name, secret)
		fmt.Fprintln(c.stdout, "Enter it in that client instead of the account password. salon shows it only now.")
		return nil
	case "list":
		pos, err := c.parse(c.flagSet("salon user app-password list"), args[1:], 1, "one user name, e.g. salon user app-password list ada")
		if err != nil {
			return err
		}
		name := pos[0]
		d, users, err := c.open(ctx, true)
		if err != nil {
			return err
		}
		defer d.Close()
		list, err := users.ListAppPasswords(ctx, name)
		if err != nil {
			return explain(err, name, "")
		}
		if len(list) == 0 {
			fmt.Fprintf(c.stderr, "%s has no app passwords. Make one with: salon user app-password add %s LABEL\n", name, name)
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "LABEL\tCREATED\tLAST USED")
		for _, a := range list {
			used := "never"
			if !a.LastUsedAt.IsZero() {
				used = formatTime(a.LastUsedAt)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Label, formatTime(a.CreatedAt), used)
		}
		return tw.Flush()
	case "delete":
		pos, err := c.parse(c.flagSet("salon user app-password delete"), args[1:], 2, "a user name and a label, e.g. salon user app-password delete ada Thunderbird")
		if err != nil {
			return err
		}
		name, label := pos[0], pos[1]
		d, users, err := c.open(ctx, true)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := users.DeleteAppPassword(ctx, name, label); err != nil {
			return explain(err, name, label)
		}
		fmt.Fprintf(c.stdout, "Deleted app password %q of %s.\n", strings.TrimSpace(label), name)
		return nil
	default:
		fmt.Fprint(c.stderr, userUsage)
		return usageError{fmt.Sprintf("unknown command %q for salon user app-password", args[0])}
	}
}

// maxPasswordLine bounds what is read from standard input: more than any
// accepted password (1024 characters of up to 4 bytes) plus a line ending.
const maxPasswordLine = 4*1024 + 2

// readPassword returns the first line of standard input, or, when there is
// no input to read (none, a terminal, an empty stream), a new random
// password with generated set.
func (c *userCmd) readPassword() (password string, generated bool, err error) {
	if c.stdin == nil || isTerminal(c.stdin) {
		return auth.NewPassword(), true, nil
	}
	line, err := bufio.NewReader(io.LimitReader(c.stdin, maxPasswordLine+1)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read the password from standard input: %w", err)
	}
	if line == "" {
		return auth.NewPassword(), true, nil
	}
	if len(line) > maxPasswordLine {
		return "", false, errors.New("the first line of standard input is too long for a password (at most 1024 characters)")
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", false, errors.New("standard input starts with an empty line: give a password of at least 8 characters on it, or no input at all to have one made")
	}
	return line, false, nil
}

// isTerminal reports whether r is a character device, a terminal or
// /dev/null: nothing a password is piped through.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func printPassword(w io.Writer, name, password string) {
	fmt.Fprintf(w, "Password: %s\n", password)
	fmt.Fprintf(w, "Give it to %s now: salon shows it only once (change it with salon user passwd %s).\n", name, name)
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// explained is an error whose message tells an administrator what to do,
// wrapping the store's error.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// explain turns the store's errors into messages that say what went wrong
// and what to do.
func explain(err error, name, label string) error {
	var msg string
	switch {
	case errors.Is(err, auth.ErrInvalidName):
		msg = fmt.Sprintf("invalid user name %q: use 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	case errors.Is(err, auth.ErrUserExists):
		msg = fmt.Sprintf("a user named %s already exists: choose another name, or change their password with salon user passwd %s", name, name)
	case errors.Is(err, auth.ErrEmailTaken):
		msg = "another user already has this e-mail address: each user needs their own (see salon user list)"
	case errors.Is(err, auth.ErrInvalidEmail):
		msg = "invalid --email: give a bare address such as ada@example.org"
	case errors.Is(err, auth.ErrInvalidDisplayName):
		msg = "invalid --display-name: use at most 128 characters and no control characters"
	case errors.Is(err, auth.ErrInvalidLang):
		msg = "invalid --lang: use en (English) or fr (French)"
	case errors.Is(err, auth.ErrWeakPassword):
		msg = "password not accepted: it needs 8 to 1024 characters and no control characters (give no input on standard input to have one made)"
	case errors.Is(err, auth.ErrUserNotFound):
		msg = fmt.Sprintf("no user named %q (see salon user list)", name)
	case errors.Is(err, auth.ErrInvalidLabel):
		msg = "invalid label: use 1 to 64 characters and no control characters, e.g. \"Thunderbird on laptop\""
	case errors.Is(err, auth.ErrAppPasswordExists):
		msg = fmt.Sprintf("%s already has an app password labelled %q: choose another label, or delete that one first with salon user app-password delete %s %q", name, label, name, label)
	case errors.Is(err, auth.ErrAppPasswordNotFound):
		msg = fmt.Sprintf("%s has no app password labelled %q (see salon user app-password list %s)", name, label, name)
	default:
		return err
	}
	return &explained{msg: msg, err: err}
}
