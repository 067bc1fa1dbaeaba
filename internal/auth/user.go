package auth

import (
	"context"
	"errors"
	"time"
)

// User is a salon account: a person who signs in to the web app and to
// CalDAV, and who owns calendars.
type User struct {
	ID          int64
	Name        string // login name; also the URL segment of the principal (/dav/principals/{name}/)
	Email       string // the calendar user address: mailto:{Email}
	DisplayName string
	Admin       bool
	Lang        string // language of the pages and mail salon makes for this user: "en" or "fr"; "" means "en"
	CreatedAt   time.Time
}

// Language returns u.Lang, or "en" when it is unset.
func (u User) Language() string {
	if u.Lang == "" {
		return "en"
	}
	return u.Lang
}

// Errors of the user store.
var (
	ErrUserNotFound = errors.New("auth: no such user")
	ErrUserExists   = errors.New("auth: user already exists")
	ErrBadPassword  = errors.New("auth: wrong user name or password")
	ErrThrottled    = errors.New("auth: too many failed sign-ins; wait and try again")
	ErrInvalidName  = errors.New("auth: a user name has 1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
	ErrInvalidEmail = errors.New("auth: not a valid e-mail address")
	ErrWeakPassword = errors.New("auth: a password has 8 to 1024 characters and no control characters")

	ErrEmailTaken          = errors.New("auth: another user has this e-mail address")
	ErrInvalidDisplayName  = errors.New("auth: a display name has at most 128 characters and no control characters")
	ErrAppPasswordNotFound = errors.New("auth: no app password with this label")
	ErrAppPasswordExists   = errors.New("auth: the user already has an app password with this label")
	ErrInvalidLabel        = errors.New("auth: an app password label has 1 to 64 characters and no control characters")
	ErrInvalidLang         = errors.New(`auth: the language is "en" (English) or "fr" (French)`)
)

type userKey struct{}

// WithUser returns a context that carries the signed-in user.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the signed-in user, if any.
func UserFromContext(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}
