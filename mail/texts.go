package mail

import (
	"strconv"
	"strings"
	"time"
)

// texts are the words of invitations in one language. French is not
// written with time.Format, whose names are English: each language has
// its own tables and its own way of writing a date and a time of day.
// The words the templates show are exported fields so that templates can
// read them.
type texts struct {
	Lang     string
	weekdays [7]string  // indexed by time.Weekday, Sunday first
	months   [12]string // January first
	date     func(t *texts, d time.Time) string
	clock    func(d time.Time) string

	Untitled string // the summary of an event that has none

	// Subject prefixes, each followed by "{summary} @ {when}".
	SubjectRequest string
	SubjectUpdate  string
	SubjectCancel  string
	SubjectReply   map[string]string // by PARTSTAT

	// Body sentences; %s is the organizer's or the attendee's name.
	Invited   string
	Updated   string
	Cancelled string
	Replied   map[string]string // by PARTSTAT

	Colon       string // between a label and its value
	Join        string
	When        string
	Repeats     string
	Where       string
	Organizer   string
	Description string
	RSVP        string
	Accept      string
	Tentative   string
	Decline     string
	Footer      string // %s is the sender's name
}

// French typography puts a no-break space before ':' and '?'.
const nbsp = "\u00a0"

var english = &texts{
	Lang:     "en",
	weekdays: [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
	months: [12]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"},
	// Monday, November 30, 2026
	date: func(t *texts, d time.Time) string {
		return t.weekdays[d.Weekday()] + ", " + t.months[d.Month()-1] + " " +
			strconv.Itoa(d.Day()) + ", " + strconv.Itoa(d.Year())
	},
	// 2:00 PM
	clock: func(d time.Time) string { return d.Format("3:04 PM") },

	Untitled: "(no title)",

	SubjectRequest: "Invitation: ",
	SubjectUpdate:  "Updated invitation: ",
	SubjectCancel:  "Cancelled: ",
	SubjectReply: map[string]string{
		"ACCEPTED":  "Accepted: ",
		"TENTATIVE": "Tentative: ",
		"DECLINED":  "Declined: ",
	},

	Invited:   "%s invited you to a meeting.",
	Updated:   "This invitation was updated.",
	Cancelled: "This meeting was cancelled.",
	Replied: map[string]string{
		"ACCEPTED":  "%s has accepted the invitation.",
		"TENTATIVE": "%s has tentatively accepted the invitation.",
		"DECLINED":  "%s has declined the invitation.",
	},

	Colon:       ": ",
	Join:        "Join the meeting",
	When:        "When",
	Repeats:     "Repeats (the first occurrence is shown)",
	Where:       "Where",
	Organizer:   "Organizer",
	Description: "Description",
	RSVP:        "Will you attend?",
	Accept:      "Accept",
	Tentative:   "Tentative",
	Decline:     "Decline",
	Footer:      "Sent by salon on behalf of %s. Your calendar application can also read the attached invite.ics.",
}

var french = &texts{
	Lang:     "fr",
	weekdays: [7]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
	months: [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet",
		"août", "septembre", "octobre", "novembre", "décembre"},
	// lundi 30 novembre 2026, mardi 1er décembre 2026
	date: func(t *texts, d time.Time) string {
		day := strconv.Itoa(d.Day())
		if d.Day() == 1 {
			day = "1er"
		}
		return t.weekdays[d.Weekday()] + " " + day + " " + t.months[d.Month()-1] + " " + strconv.Itoa(d.Year())
	},
	// 14:00
	clock: func(d time.Time) string { return d.Format("15:04") },

	Untitled: "(sans titre)",

	SubjectRequest: "Invitation" + nbsp + ": ",
	SubjectUpdate:  "Invitation modifiée" + nbsp + ": ",
	SubjectCancel:  "Annulé" + nbsp + ": ",
	SubjectReply: map[string]string{
		"ACCEPTED":  "Accepté" + nbsp + ": ",
		"TENTATIVE": "Provisoire" + nbsp + ": ",
		"DECLINED":  "Refusé" + nbsp + ": ",
	},

	Invited:   "%s vous invite à une réunion.",
	Updated:   "Cette invitation a été modifiée.",
	Cancelled: "Cette réunion a été annulée.",
	Replied: map[string]string{
		"ACCEPTED":  "%s a accepté l’invitation.",
		"TENTATIVE": "%s a accepté provisoirement l’invitation.",
		"DECLINED":  "%s a refusé l’invitation.",
	},

	Colon:       nbsp + ": ",
	Join:        "Rejoindre la réunion",
	When:        "Quand",
	Repeats:     "Se répète (la première occurrence est indiquée)",
	Where:       "Lieu",
	Organizer:   "Organisateur",
	Description: "Description",
	RSVP:        "Participerez-vous" + nbsp + "?",
	Accept:      "Accepter",
	Tentative:   "Peut-être",
	Decline:     "Refuser",
	Footer:      "Envoyé par salon pour %s. Votre agenda peut aussi lire le fichier invite.ics joint.",
}

// textsFor returns the texts of lang, English for any language but
// French.
func textsFor(lang string) *texts {
	if strings.EqualFold(lang, "fr") {
		return french
	}
	return english
}

// when writes when an event happens, in the language of t: its dates,
// its times unless it lasts all day, and the time zone's name. Each time
// is shown in its own Location.
//
// For all-day events end is exclusive, as DTEND is (RFC 5545 §3.6.1): an
// event on the 30th alone ends on the 1st.
func (t *texts) formatWhen(start, end time.Time, allDay bool, tz string) string {
	var b strings.Builder
	sameDay := func(a, b time.Time) bool {
		ay, am, ad := a.Date()
		by, bm, bd := b.Date()
		return ay == by && am == bm && ad == bd
	}
	if allDay {
		b.WriteString(t.date(t, start))
		if last := end.AddDate(0, 0, -1); end.After(start) && last.After(start) && !sameDay(start, last) {
			b.WriteString(" – ")
			b.WriteString(t.date(t, last))
		}
		return b.String()
	}

	b.WriteString(t.date(t, start))
	b.WriteString(", ")
	b.WriteString(t.clock(start))
	if end.After(start) {
		b.WriteString(" – ")
		if !sameDay(start, end) {
			b.WriteString(t.date(t, end))
			b.WriteString(", ")
		}
		b.WriteString(t.clock(end))
	}
	if tz != "" {
		b.WriteString(" (")
		b.WriteString(tz)
		b.WriteString(")")
	}
	return b.String()
}
