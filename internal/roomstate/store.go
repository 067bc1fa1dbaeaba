// Package roomstate keeps the live state of salon's rooms: which node hosts
// each room's media, who is in it with what mute and hand states, and which
// nodes are alive. It has two implementations of one Store: in memory (one
// salon process, the default) and Redis (several salon nodes behind one
// URL). Both pass the same conformance suite (storetest).
//
// Nothing durable lives here: meetings, users and keys are in SQL. Every
// entry of a node hangs on that node's lease, so when a node dies its rooms
// and participants disappear from every list by themselves, without anyone
// cleaning up.
//
// Times are kept to the millisecond. IDs, names and messages have limits
// (limits.go) that both implementations enforce alike, so that what works
// on one node in memory works on many over Redis.
package roomstate

import (
	"context"
	"errors"
	"time"
)

// Errors of a Store. Match them with errors.Is.
var (
	ErrNotFound = errors.New("roomstate: not found")
	// ErrUnavailable wraps failures of the backing service (Redis
	// unreachable): callers answer "temporarily unavailable" and retry
	// later; calls in progress keep their media.
	ErrUnavailable = errors.New("roomstate: temporarily unavailable")
	// ErrInvalid is an argument outside the limits of limits.go (an empty
	// ID, a name too long, ...): the caller's bug or a hostile input,
	// never worth retrying.
	ErrInvalid = errors.New("roomstate: invalid argument")
)

// Node is one salon process.
type Node struct {
	ID string
	// MediaAddr is where browsers send this node's media: its --rtc-ip
	// (or the address it announces) and --rtc-udp-port, as host:port.
	MediaAddr string
	// Load is what the node reports to be chosen for new rooms by: the
	// participants whose media it carries.
	Load int
	// Draining nodes take no new rooms.
	Draining bool
	// LeaseUntil is when the node is taken for dead unless it renews. Nodes
	// fills it in; RenewNode ignores it.
	LeaseUntil time.Time
}

// Room is a room with someone in it, or a live node hosting it.
type Room struct {
	ID string // the meeting slug
	// Node is the node that hosts its media; empty when that node's lease
	// has ended and nobody has called HostRoom since.
	Node    string
	Created time.Time
	// Participants counts those whose node is alive.
	Participants int
	Locked       bool
	Lobby        bool
}

// Participant is one person in a room.
type Participant struct {
	ID         string
	Room       string
	Name       string
	Role       string    // "host", "guest", …
	Node       string    // the node holding their WebSocket; they live as long as its lease
	JoinedAt   time.Time // Join sets it to now when zero
	AudioMuted bool
	VideoMuted bool
	HandRaised bool
}

// Store is the live state of every room. Every method takes the caller's
// context and returns its error (context.Canceled, ...) when it ends first;
// errors of the backing service match ErrUnavailable, arguments outside the
// limits ErrInvalid.
//
// A node whose lease ends is dead: its participants vanish from every list
// and the rooms it hosted wait for HostRoom to re-home them. A node that
// renews after its lease ended starts a new life and must Join its
// participants again (some of the old entries may still be kept; Join
// replaces them).
type Store interface {
	// RenewNode registers n or renews its lease for ttl from now, and
	// updates its MediaAddr, Load and Draining.
	RenewNode(ctx context.Context, n Node, ttl time.Duration) error
	// RemoveNode ends n's lease at once (a clean shutdown).
	RemoveNode(ctx context.Context, id string) error
	// Nodes lists the nodes whose lease is running.
	Nodes(ctx context.Context) ([]Node, error)

	// HostRoom returns the room, making candidate its host when the room
	// has no host whose lease is running (a new room, or one whose node
	// died). Two callers racing get the same answer.
	//
	// HostRoom does not choose: the caller picks the candidate, and must
	// pick a node that holds a running lease and is not Draining (usually
	// itself, or the least loaded of Nodes). The candidate is not checked:
	// the answer names it as host all the same, and the next HostRoom
	// takes over a room whose host has no lease. Re-homing a room drops
	// the participants of dead nodes; a room left with nobody starts
	// afresh (new Created, policy cleared).
	HostRoom(ctx context.Context, room, candidate string) (Room, error)
	// Room returns the room, ErrNotFound when nobody is in it and no live
	// node hosts it.
	Room(ctx context.Context, room string) (Room, error)
	// SetRoomPolicy changes a room's locked and lobby flags; ErrNotFound
	// when Room would not find it.
	SetRoomPolicy(ctx context.Context, room string, locked, lobby bool) error

	// Join adds p to its room, replacing a participant with the same ID.
	// The room needs no host to be joined.
	Join(ctx context.Context, p Participant) error
	// Update replaces the mutable fields of a participant already in the
	// room (name, role, mute and hand states); ErrNotFound otherwise.
	Update(ctx context.Context, p Participant) error
	// Leave removes a participant; leaving twice is not an error. When
	// the room becomes empty it is forgotten, host included.
	Leave(ctx context.Context, room, id string) error
	// Participants lists the room's participants whose node is alive, in
	// the order they joined (by JoinedAt, then by order of first Join);
	// none, without error, for an unknown room.
	Participants(ctx context.Context, room string) ([]Participant, error)
}

// ErrNoSubscriber is returned by Publish when the Bus knows that nobody
// was subscribed to the topic, so the message went nowhere (a node that is
// resubscribing after a Redis restart). Redis Cluster cannot tell, so
// there a message to nobody is not an error.
var ErrNoSubscriber = errors.New("roomstate: nobody listens on this topic")

// Bus carries messages between nodes: the signalling relayed between the
// node holding a participant's WebSocket and the node hosting the room's
// media, and the room events (joined, left, muted) that every node with a
// socket in the room must pass on. Delivery is at most once, in order per
// publisher and topic; a node that misses messages (Redis restarting)
// reconciles from the Store.
//
// A subscription never loses messages silently in the middle: when it
// cannot deliver one (its reader fell a whole buffer behind, or its
// connection to Redis broke) it ends, and its channel closes after the
// messages received before. The subscriber then subscribes again and
// reconciles from the Store. Publishers never wait for subscribers.
type Bus interface {
	// Publish sends msg to the current subscribers of topic.
	Publish(ctx context.Context, topic string, msg []byte) error
	// Subscribe delivers what is published on topic after it returns,
	// until ctx ends or the subscription is closed.
	Subscribe(ctx context.Context, topic string) (Subscription, error)
}

// Subscription is one Subscribe.
type Subscription interface {
	// C delivers the messages; it is closed when the subscription ends.
	// Each message is the receiver's own copy.
	C() <-chan []byte
	// Close ends the subscription; C is closed when it returns. Closing
	// twice is not an error.
	Close() error
}
