package roomstate

import (
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a Store keeps and a Bus carries. Both implementations
// enforce them, and reject what passes them with an error matching
// ErrInvalid, so that a hostile or buggy input fails the same way on one
// node in memory as on many over Redis, and no input can grow Redis's
// memory without bound.
const (
	// MaxIDBytes bounds room, participant and node IDs and Bus topics.
	// They are also valid UTF-8 without control characters, but may hold
	// anything else (braces and colons included).
	MaxIDBytes = 256
	// MaxNameBytes bounds a participant's display name, which may be any
	// valid UTF-8, line breaks included.
	MaxNameBytes = 256
	// MaxRoleBytes bounds a participant's role ("host", "guest", ...),
	// valid UTF-8 without control characters.
	MaxRoleBytes = 64
	// MaxMediaAddrBytes bounds a node's MediaAddr, which may be empty.
	MaxMediaAddrBytes = 256
	// MaxMessageBytes bounds one Bus message: signalling (an SDP offer with
	// many candidates is tens of kilobytes), not media.
	MaxMessageBytes = 1 << 20
)

// DefaultBusBuffer is how many messages a subscriber may fall behind before
// its subscription ends, unless the options say otherwise.
const DefaultBusBuffer = 256

// checkID checks a room, participant or node ID or a topic; what names
// which one, for the error.
func checkID(what, id string) error {
	if id == "" {
		return invalid("empty %s", what)
	}
	if len(id) > MaxIDBytes {
		return invalid("%s is %d bytes; the limit is %d", what, len(id), MaxIDBytes)
	}
	return checkText(what, id, false)
}

// checkText checks that s is valid UTF-8 and, unless lines is set, free of
// control characters: they would be invisible in logs and lists, and the
// Redis records separate their fields with line feeds.
func checkText(what, s string, lines bool) error {
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", what)
	}
	if lines {
		return nil
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid("%s holds the control character %U; remove it", what, r)
		}
	}
	return nil
}

func checkNode(n Node, ttl time.Duration) error {
	if err := checkID("node ID", n.ID); err != nil {
		return err
	}
	if len(n.MediaAddr) > MaxMediaAddrBytes {
		return invalid("media address of node %q is %d bytes; the limit is %d", n.ID, len(n.MediaAddr), MaxMediaAddrBytes)
	}
	if err := checkText("media address", n.MediaAddr, false); err != nil {
		return err
	}
	if n.Load < 0 {
		return invalid("node %q reports a load of %d; it counts participants, so it cannot be negative", n.ID, n.Load)
	}
	if ttl < time.Millisecond {
		return invalid("lease of node %q is %s; leases are at least a millisecond", n.ID, ttl)
	}
	return nil
}

// checkParticipant checks what Join and Update store.
func checkParticipant(p Participant) error {
	if err := checkID("room ID", p.Room); err != nil {
		return err
	}
	if err := checkID("participant ID", p.ID); err != nil {
		return err
	}
	if err := checkID("node ID", p.Node); err != nil {
		return err
	}
	if len(p.Name) > MaxNameBytes {
		return invalid("name of participant %q is %d bytes; the limit is %d, so shorten it", p.ID, len(p.Name), MaxNameBytes)
	}
	if err := checkText("participant name", p.Name, true); err != nil {
		return err
	}
	if len(p.Role) > MaxRoleBytes {
		return invalid("role of participant %q is %d bytes; the limit is %d", p.ID, len(p.Role), MaxRoleBytes)
	}
	return checkText("participant role", p.Role, false)
}

func checkMessage(topic string, msg []byte) error {
	if err := checkID("topic", topic); err != nil {
		return err
	}
	if len(msg) > MaxMessageBytes {
		return invalid("message on %q is %d bytes; the limit is %d", topic, len(msg), MaxMessageBytes)
	}
	return nil
}

// toMillis is t as the Store keeps it: to the millisecond, without a
// monotonic reading, so that values compare equal whichever
// implementation returned them.
func toMillis(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli())
}
