// Package mail is salon's e-mail side of scheduling (RFC 6047 iMIP): it
// composes invitations, updates, cancellations and replies as MIME
// messages, keeps them in a durable outbox in SQL until an SMTP relay
// accepts them (or keeps them in a local mailbox that admins read when no
// relay is configured), and receives the replies attendees send back
// through an SMTP or LMTP listener.
//
// It knows nothing of calendars or CalDAV: package calendar decides who is
// told what and hands this package an Invitation; inbound replies are
// handed back through an InboundHandler.
package mail

import "time"

// Address is a mailbox: an optional display name and an e-mail address.
type Address struct {
	Name  string
	Email string
}

// Message is one composed e-mail, ready for the outbox.
type Message struct {
	// ID is the Message-ID without angle brackets.
	ID string
	// From is the envelope sender (MAIL FROM), a bare address.
	From string
	// To are the envelope recipients (RCPT TO), bare addresses.
	To []string
	// Subject is the decoded subject, for listings and logs.
	Subject string
	// Method is the iTIP method the message carries (REQUEST, CANCEL,
	// REPLY, …), for listings and metrics.
	Method string
	// UID is the UID of the event the message is about.
	UID string
	// Data is the whole RFC 5322 message with CRLF line endings.
	Data []byte
}

// State is where a queued message is in its life.
type State string

const (
	StateQueued State = "queued" // waiting for its first or next attempt
	StateSent   State = "sent"   // accepted by the relay
	StateFailed State = "failed" // refused for good, or given up on
	StateLocal  State = "local"  // kept in the local mailbox (no relay)
)

// Entry is a message in the outbox with its delivery state.
type Entry struct {
	Message
	Seq         int64 // outbox order; also the id in /api/v1/admin/mail/{id}
	State       State
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	NextAttempt time.Time // when State is StateQueued
	SentAt      time.Time // when State is StateSent or StateLocal
}

// ListOptions selects outbox entries, newest first.
type ListOptions struct {
	Limit  int    // at most this many; 0 means 50, capped at 500
	Before int64  // only entries with Seq < Before; 0 means from the newest
	State  State  // only entries in this state; "" means all
	To     string // only entries with this envelope recipient; "" means all
}
