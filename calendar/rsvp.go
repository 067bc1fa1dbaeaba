package calendar

import "time"

// RSVPView is what an attendee's RSVP link shows: the meeting as the
// organizer's copy has it now, and the attendee's current answer.
type RSVPView struct {
	Summary        string
	OrganizerName  string
	OrganizerEmail string
	AttendeeEmail  string
	AttendeeName   string
	// Start and End of the first instance not yet over (the event's own
	// for a single event); in the event's time zone when it has one.
	Start, End time.Time
	AllDay     bool
	TimeZone   string // IANA name of the event's time zone, "" when floating or UTC
	Recurring  bool
	Location   string
	JoinURL    string // the meeting room, "" when the event has none
	PartStat   string // NEEDS-ACTION, ACCEPTED, TENTATIVE or DECLINED
	Cancelled  bool   // STATUS:CANCELLED: the page says so and takes no answer
	Lang       string // the organizer's language, "en" or "fr"
}
