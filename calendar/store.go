package calendar

import (
	"context"
	"errors"
	"time"

	"github.com/salonhq/salon/mail"
)

// Calendar kinds: what a collection under a calendar home is.
const (
	// KindCalendar is an ordinary calendar collection.
	KindCalendar = ""
	// KindInbox is a user's scheduling inbox (RFC 6638 §2.2): the iTIP
	// messages others sent them, at /dav/calendars/{user}/inbox/.
	KindInbox = "inbox"
)

// Reserved collection names under a calendar home: the scheduling inbox and
// outbox. MKCALENDAR refuses them.
const (
	InboxName  = "inbox"
	OutboxName = "outbox"
)

// Calendar is one calendar collection: /dav/calendars/{Owner}/{Name}/.
type Calendar struct {
	ID          int64
	Owner       string // user name
	Name        string // URL segment
	Kind        string // KindCalendar or KindInbox
	DisplayName string
	Description string
	Color       string // as clients write it, e.g. "#3a87adff"
	Order       int    // Apple's calendar-order
	Timezone    string // calendar-timezone: a VCALENDAR with one VTIMEZONE, or ""
	Components  []string
	// DeadProps keeps properties salon does not interpret, set by PROPPATCH
	// or MKCALENDAR, keyed "{namespace}local" with the raw XML of the value.
	DeadProps map[string]string
	// SyncToken is the sequence number of the latest change in this
	// calendar; it grows with every write and serves as ctag too.
	SyncToken int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Object is one calendar object resource (RFC 4791 §4.1): one .ics file.
type Object struct {
	CalendarID int64
	Name       string // URL segment, e.g. "3f2b….ics"
	UID        string
	Component  string // VEVENT, VTODO or VJOURNAL
	ETag       string // strong, quoted as sent in the ETag header
	Data       []byte // exactly the bytes the client sent (or salon wrote)
	Size       int
	// Start and End bound every instance (UTC); End is zero when the
	// object recurs forever. They let a time-range query skip objects
	// without parsing them; the filter engine decides exactly.
	Start, End time.Time
	Modified   time.Time
	// ScheduleTag is the RFC 6638 §3.2.10 schedule-tag of a scheduling
	// object resource, quoted like an ETag; "" for other objects. It
	// changes when the organizer's changes reach this copy, not when an
	// attendee's reply merely updates a PARTSTAT.
	ScheduleTag string
}

// ObjectInfo is an Object without its data, for listings.
type ObjectInfo struct {
	Name     string
	UID      string
	ETag     string
	Size     int
	Modified time.Time
}

// Change is one entry of a calendar's change log, for sync-collection.
type Change struct {
	Name    string
	Deleted bool
	Token   int64
}

// Preconditions for writes (RFC 7232 as CalDAV uses them).
type Precondition struct {
	IfMatch        string // a quoted ETag; "" for none
	IfNoneMatchAny bool   // If-None-Match: *
	// IfScheduleTag is a quoted schedule-tag the object must have
	// (If-Schedule-Tag-Match, RFC 6638 §8.3); "" for none.
	IfScheduleTag string
}

// Store errors; the protocol layer maps them to statuses.
var (
	ErrNotFound     = errors.New("calendar: not found")
	ErrExists       = errors.New("calendar: already exists")
	ErrPrecondition = errors.New("calendar: precondition failed")
	ErrTokenGone    = errors.New("calendar: sync token no longer valid")
)

// UIDConflictError is returned when another object in the calendar already
// has the UID (CalDAV no-uid-conflict precondition).
type UIDConflictError struct {
	UID  string
	Name string // the object that has it
}

func (e *UIDConflictError) Error() string {
	return "calendar: UID " + e.UID + " is already used by " + e.Name
}

// Store keeps calendars and their objects durably. Every write is one
// transaction that also appends to the change log, so a sync token always
// describes a state that existed.
type Store interface {
	Calendars(ctx context.Context, owner string) ([]Calendar, error)
	Calendar(ctx context.Context, owner, name string) (Calendar, error)
	CreateCalendar(ctx context.Context, c *Calendar) error // fills ID, SyncToken, times
	UpdateCalendar(ctx context.Context, c *Calendar) error // properties only
	DeleteCalendar(ctx context.Context, owner, name string) error

	ObjectInfos(ctx context.Context, calendarID int64) ([]ObjectInfo, error)
	Object(ctx context.Context, calendarID int64, name string) (Object, error)
	// Objects returns the named objects that exist, in no particular order.
	Objects(ctx context.Context, calendarID int64, names []string) ([]Object, error)
	// ObjectsInRange returns the objects of the component type whose
	// [Start, End) bounds overlap [start, end); zero start or end means
	// unbounded. comp "" means every type.
	ObjectsInRange(ctx context.Context, calendarID int64, comp string, start, end time.Time) ([]Object, error)
	// ObjectHeadsInRange is ObjectsInRange with Data left nil.
	ObjectHeadsInRange(ctx context.Context, calendarID int64, comp string, start, end time.Time) ([]Object, error)
	// PutObject creates or replaces o (by CalendarID and Name) and returns
	// the new ETag and whether it was created.
	PutObject(ctx context.Context, o *Object, pre Precondition) (etag string, created bool, err error)
	DeleteObject(ctx context.Context, calendarID int64, name string, pre Precondition) error

	// ObjectByUID finds the object with uid in any of owner's calendars of
	// kind KindCalendar (not the inbox), or ErrNotFound. It returns the
	// calendar too.
	ObjectByUID(ctx context.Context, owner, uid string) (Calendar, Object, error)

	// Apply performs every write of b and queues every message of b.Mail
	// in one transaction: all of it happens or none of it does. Writes may
	// span calendars of several users. It fills in each write's ETag and
	// Created. Errors are those of PutObject and DeleteObject; a failed
	// write's index is in a *WriteError.
	Apply(ctx context.Context, b *Batch) error

	// Changes returns what changed after token (one entry per name, the
	// latest) and the current token. A token older than what the log keeps,
	// or from the future, is ErrTokenGone.
	Changes(ctx context.Context, calendarID int64, token int64) ([]Change, int64, error)
}

// Write is one object write of a Batch.
type Write struct {
	// Object is the object to store; for a delete only CalendarID and Name
	// count.
	Object *Object
	Delete bool
	Pre    Precondition
	// Filled in by Apply for puts.
	ETag    string
	Created bool
}

// Batch is a change made of several writes and the mail it causes, such as
// an organizer's save: their own copy, each attendee's copy and inbox
// message, and the invitations for attendees outside salon.
type Batch struct {
	Writes []Write
	Mail   []mail.Message
}

// WriteError tells which write of a Batch failed.
type WriteError struct {
	Index int
	Err   error
}

func (e *WriteError) Error() string { return "calendar: write " + itoa(e.Index) + ": " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }
