package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/calendar/sqlstore"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
)

// defaultCalendar is what every new account starts with.
func defaultCalendar(owner string) *calendar.Calendar {
	return &calendar.Calendar{
		Owner:       owner,
		Name:        "default",
		DisplayName: "Calendar",
		Components:  []string{"VEVENT", "VTODO"},
	}
}

// provisionUser gives a new user their default calendar.
func provisionUser(ctx context.Context, store calendar.Store, u auth.User) error {
	err := store.CreateCalendar(ctx, defaultCalendar(u.Name))
	if err != nil && !errors.Is(err, calendar.ErrExists) {
		return fmt.Errorf("create the default calendar of %s: %w", u.Name, err)
	}
	return nil
}

// cliUserHooks plugs calendars into `salon user add` (a default calendar)
// and `salon user delete` (their calendars go with them).
func cliUserHooks() userHooks {
	open := func(ctx context.Context, d *db.DB) (*sqlstore.Store, error) {
		store := sqlstore.New(d, sqlstore.Options{})
		return store, store.Migrate(ctx)
	}
	return userHooks{
		afterCreate: func(ctx context.Context, d *db.DB, u auth.User) error {
			store, err := open(ctx, d)
			if err != nil {
				return err
			}
			return provisionUser(ctx, store, u)
		},
		afterDelete: func(ctx context.Context, d *db.DB, name string) error {
			store, err := open(ctx, d)
			if err != nil {
				return err
			}
			cals, err := store.Calendars(ctx, name)
			if err != nil {
				return err
			}
			for _, c := range cals {
				if err := store.DeleteCalendar(ctx, name, c.Name); err != nil && !errors.Is(err, calendar.ErrNotFound) {
					return err
				}
			}
			return nil
		},
	}
}

// ensureAdmin creates the first account on a fresh installation and prints
// how to sign in, so `make run` is usable at once.
func ensureAdmin(ctx context.Context, users *auth.Users, store calendar.Store, publicURL string, stdout io.Writer, log *slog.Logger) error {
	list, err := users.List(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	if len(list) > 0 {
		return nil
	}
	password := auth.NewPassword()
	u, err := users.Create(ctx, auth.User{Name: "admin", Email: "admin@localhost", DisplayName: "Administrator", Admin: true}, password)
	if err != nil {
		return fmt.Errorf("create the first admin account: %w", err)
	}
	if err := provisionUser(ctx, store, u); err != nil {
		return err
	}
	log.Info("created the first admin account", "user", u.Name)
	fmt.Fprintf(stdout, "\nFirst run: created the admin account.\n  user:     admin\n  password: %s\n"+
		"Keep it safe; change it with `salon user passwd admin`. CalDAV clients: %s/dav/ (or just %s)\n",
		password, publicURL, publicURL)
	return nil
}
