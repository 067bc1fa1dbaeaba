package roomstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRoomTTL is how long a room's keys outlive the last call that
// touched them, unless the options say otherwise.
const DefaultRoomTTL = 7 * 24 * time.Hour

// RedisOptions are the knobs of NewRedis.
type RedisOptions struct {
	// Prefix starts every key and pub/sub channel, so that several salon
	// installations can share one Redis; "salon:" when empty. Braces in it
	// are escaped: they would break the hash tags.
	Prefix string
	// Now is the clock of JoinedAt, Created and LeaseUntil; time.Now when
	// nil. Leases themselves run on Redis's clock, so that the nodes'
	// clocks need not agree.
	Now func() time.Time
	// RoomTTL is how long a room's keys outlive the last call that touched
	// them (HostRoom, Join, Update, Leave, SetRoomPolicy): the safety net
	// that removes rooms whose every node died, since nobody is there to
	// remove them. DefaultRoomTTL when zero.
	RoomTTL time.Duration
	// BusBuffer is how many messages a subscriber may fall behind before
	// its subscription ends; DefaultBusBuffer when zero.
	BusBuffer int
	// HealthInterval is how long a subscription waits in silence before it
	// pings Redis; a ping unanswered for as long again ends it, since its
	// connection is dead (a peer gone without closing it). 15 s when zero.
	HealthInterval time.Duration
}

// Redis is the Store and Bus shared by several salon nodes through Redis:
// a single server, Sentinel or Cluster (see NewRedisClient).
//
// Keys, with P the prefix and the room ID escaped (% { } as %25 %7B %7D):
//
//	P{nodes}:lease    sorted set: node ID → lease deadline (Redis clock, ms)
//	P{nodes}:info     hash: node ID → media address, load, draining
//	P{room:ID}:meta   hash: host, created, locked, lobby, seq, n:<node> counts
//	P{room:ID}:p      hash: participant ID → record (redis_lua.go)
//	Pbus:<topic>      pub/sub channel of a Bus topic
//
// All keys of a room share one hash tag, and all leases another, so every
// script touches one Cluster slot; reading a room and the leases together
// is one pipeline. The leases are one sorted set rather than a key per node
// with a TTL, so that any reader gets every live node in the round trip
// that reads the room, without first learning which nodes to ask about:
// salon runs tens of nodes, not thousands. A join (HostRoom of a hosted
// room, Join, Participants) takes three round trips; HostRoom of a new
// room one more.
type Redis struct {
	c         redis.UniversalClient
	prefix    string
	now       func() time.Time
	roomTTL   int64 // ms
	busBuffer int
	health    time.Duration
	leaseKey  string
	infoKey   string

	mu   sync.Mutex
	subs map[*redisSubscription]struct{}
}

// NewRedis returns the Store and Bus kept in Redis through c. c stays the
// caller's to close; see NewRedisClient for options that suit salon.
func NewRedis(c redis.UniversalClient, opts RedisOptions) *Redis {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "salon:"
	}
	prefix = escapeKey(prefix)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	ttl := opts.RoomTTL
	if ttl <= 0 {
		ttl = DefaultRoomTTL
	}
	buffer := opts.BusBuffer
	if buffer <= 0 {
		buffer = DefaultBusBuffer
	}
	health := opts.HealthInterval
	if health <= 0 {
		health = defaultHealthInterval
	}
	return &Redis{
		c:         c,
		health:    health,
		prefix:    prefix,
		now:       now,
		roomTTL:   max(ttl.Milliseconds(), 1),
		busBuffer: buffer,
		leaseKey:  prefix + "{nodes}:lease",
		infoKey:   prefix + "{nodes}:info",
		subs:      map[*redisSubscription]struct{}{},
	}
}

var _ Store = (*Redis)(nil)
var _ Bus = (*Redis)(nil)

var keyEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

// escapeKey makes s safe inside a hash tag: Redis Cluster hashes what lies
// between the first { and the next }, so an ID holding braces would move
// some of its room's keys to another slot, or two rooms' keys together.
func escapeKey(s string) string { return keyEscaper.Replace(s) }

// roomKeys are the meta and participants keys of a room, in the order the
// room scripts take them.
func (r *Redis) roomKeys(room string) []string {
	tag := r.prefix + "{room:" + escapeKey(room) + "}"
	return []string{tag + ":meta", tag + ":p"}
}

func (r *Redis) nodeKeys() []string { return []string{r.leaseKey, r.infoKey} }

// evalFunc queues a script in a pipeline.
type evalFunc func(s *redis.Script, keys []string, args ...any) *redis.Cmd

// do runs the commands that queue adds to a pipeline, in one round trip
// (one per shard on Cluster, in parallel). Scripts go by their SHA; when
// Redis does not know them (it restarted, or failed over to a replica that
// never ran them) the pipeline runs once more with their source, which
// Redis then keeps. queue runs again then, so it must only assign the
// commands it queues.
func (r *Redis) do(ctx context.Context, op string, queue func(p redis.Pipeliner, eval evalFunc)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, source := range []bool{false, true} {
		pipe := r.c.Pipeline()
		queue(pipe, func(s *redis.Script, keys []string, args ...any) *redis.Cmd {
			if source {
				return s.Eval(ctx, pipe, keys, args...)
			}
			return s.EvalSha(ctx, pipe, keys, args...)
		})
		cmds, _ := pipe.Exec(ctx)
		var first error
		noScript := false
		for _, c := range cmds {
			err := c.Err()
			if err == nil || errors.Is(err, redis.Nil) {
				continue
			}
			noScript = noScript || redis.HasErrorPrefix(err, "NOSCRIPT")
			if first == nil {
				first = err
			}
		}
		if noScript && !source {
			continue
		}
		return r.fail(ctx, op, first)
	}
	panic("unreachable")
}

// fail turns an error of go-redis into one of a Store: the context's own
// error when it ended, ErrUnavailable when Redis cannot serve now, and a
// plain error when it refused the command for good (wrong password, keys
// of the wrong type), which no retry fixes.
func (r *Redis) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var reply redis.Error
	if errors.As(err, &reply) && !temporary(err) {
		return fmt.Errorf("roomstate: Redis refused to %s: %w; check the Redis credentials, and that nothing else writes keys starting with %q", op, err, r.prefix)
	}
	return fmt.Errorf("%w: cannot %s: %w", ErrUnavailable, op, err)
}

// temporary reports whether a Redis error reply says "not now": loading
// after a restart, a failover in progress, memory or clients full.
func temporary(err error) bool {
	if redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.IsNoReplicasError(err) || redis.IsOOMError(err) {
		return true
	}
	for _, prefix := range []string{"BUSY", "MISCONF"} {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}

// liveNodes is the set of node IDs that a live-nodes script returned.
func liveNodes(cmd *redis.Cmd) (map[string]bool, error) {
	ids, err := cmd.StringSlice()
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set, nil
}

// withLive appends the live node IDs to a script's arguments.
func withLive(args []any, live map[string]bool) []any {
	for id := range live {
		args = append(args, id)
	}
	return args
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// RenewNode implements Store.
func (r *Redis) RenewNode(ctx context.Context, n Node, ttl time.Duration) error {
	if err := checkNode(n, ttl); err != nil {
		return err
	}
	draining := "0"
	if n.Draining {
		draining = "1"
	}
	info := n.MediaAddr + "\n" + strconv.Itoa(n.Load) + "\n" + draining
	return r.do(ctx, "renew the lease of node "+strconv.Quote(n.ID), func(p redis.Pipeliner, eval evalFunc) {
		eval(scriptRenew, r.nodeKeys(), n.ID, ttl.Milliseconds(), info)
	})
}

// RemoveNode implements Store.
func (r *Redis) RemoveNode(ctx context.Context, id string) error {
	if err := checkID("node ID", id); err != nil {
		return err
	}
	return r.do(ctx, "end the lease of node "+strconv.Quote(id), func(p redis.Pipeliner, eval evalFunc) {
		eval(scriptRemove, r.nodeKeys(), id)
	})
}

// Nodes implements Store. The nodes come sorted by ID.
func (r *Redis) Nodes(ctx context.Context) ([]Node, error) {
	var cmd *redis.Cmd
	if err := r.do(ctx, "list the nodes", func(p redis.Pipeliner, eval evalFunc) {
		cmd = eval(scriptNodes, r.nodeKeys())
	}); err != nil {
		return nil, err
	}
	flat, err := cmd.StringSlice()
	if err != nil {
		return nil, r.fail(ctx, "list the nodes", err)
	}
	now := r.now()
	out := []Node{}
	for i := 0; i+2 < len(flat); i += 3 {
		n := Node{ID: flat[i]}
		left, _ := strconv.ParseInt(flat[i+1], 10, 64)
		// The lease as the caller's clock sees it, whatever Redis's
		// clock says.
		n.LeaseUntil = toMillis(now.Add(time.Duration(left) * time.Millisecond))
		if f := strings.SplitN(flat[i+2], "\n", 3); len(f) == 3 {
			n.MediaAddr = f[0]
			n.Load, _ = strconv.Atoi(f[1])
			n.Draining = f[2] == "1"
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Node) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// roomView builds a Room from its meta hash, counting the participants of
// the live nodes. ok is false when nobody alive is in it and no live node
// hosts it.
func roomView(id string, meta map[string]string, live map[string]bool) (v Room, ok bool) {
	v = Room{ID: id, Locked: meta["locked"] == "1", Lobby: meta["lobby"] == "1"}
	if ms, err := strconv.ParseInt(meta["created"], 10, 64); err == nil {
		v.Created = time.UnixMilli(ms)
	}
	if h := meta["host"]; h != "" && live[h] {
		v.Node = h
	}
	for f, n := range meta {
		if node, isCount := strings.CutPrefix(f, "n:"); isCount && live[node] {
			c, _ := strconv.Atoi(n)
			v.Participants += c
		}
	}
	return v, v.Node != "" || v.Participants > 0
}

// flatMap is the map of a hash that a script returned as HGETALL does.
func flatMap(cmd *redis.Cmd) (map[string]string, error) {
	flat, err := cmd.StringSlice()
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m, nil
}

// readRoom reads a room's meta hash and the live nodes in one round trip.
// With touch it also extends the room's keys by the room TTL.
func (r *Redis) readRoom(ctx context.Context, room string, touch bool) (map[string]string, map[string]bool, error) {
	keys := r.roomKeys(room)
	var live *redis.Cmd
	var meta *redis.MapStringStringCmd
	op := "read room " + strconv.Quote(room)
	if err := r.do(ctx, op, func(p redis.Pipeliner, eval evalFunc) {
		live = eval(scriptLive, []string{r.leaseKey})
		meta = p.HGetAll(ctx, keys[0])
		if touch {
			p.PExpire(ctx, keys[0], time.Duration(r.roomTTL)*time.Millisecond)
			p.PExpire(ctx, keys[1], time.Duration(r.roomTTL)*time.Millisecond)
		}
	}); err != nil {
		return nil, nil, err
	}
	set, err := liveNodes(live)
	if err != nil {
		return nil, nil, r.fail(ctx, op, err)
	}
	return meta.Val(), set, nil
}

// HostRoom implements Store. A room whose host is alive costs one round
// trip; claiming it one more.
func (r *Redis) HostRoom(ctx context.Context, room, candidate string) (Room, error) {
	if err := checkID("room ID", room); err != nil {
		return Room{}, err
	}
	if err := checkID("candidate node ID", candidate); err != nil {
		return Room{}, err
	}
	meta, live, err := r.readRoom(ctx, room, true)
	if err != nil {
		return Room{}, err
	}
	host, hadHost := meta["host"]
	if hadHost && live[host] {
		v, _ := roomView(room, meta, live)
		return v, nil
	}
	had := "0"
	if hadHost {
		had = "1"
	}
	seq := cmp.Or(meta["seq"], "0")
	args := withLive([]any{candidate, had, host, seq, millis(r.now()), r.roomTTL}, live)
	var cmd *redis.Cmd
	op := "choose the host of room " + strconv.Quote(room)
	if err := r.do(ctx, op, func(p redis.Pipeliner, eval evalFunc) {
		cmd = eval(scriptClaim, r.roomKeys(room), args...)
	}); err != nil {
		return Room{}, err
	}
	after, err := flatMap(cmd)
	if err != nil {
		return Room{}, r.fail(ctx, op, err)
	}
	// The host is the candidate or another caller's, chosen just now:
	// alive, whatever our snapshot of the leases says.
	live[after["host"]] = true
	v, _ := roomView(room, after, live)
	return v, nil
}

// Room implements Store.
func (r *Redis) Room(ctx context.Context, room string) (Room, error) {
	if err := checkID("room ID", room); err != nil {
		return Room{}, err
	}
	meta, live, err := r.readRoom(ctx, room, false)
	if err != nil {
		return Room{}, err
	}
	v, ok := roomView(room, meta, live)
	if !ok {
		return Room{}, notFound("room", room)
	}
	return v, nil
}

// SetRoomPolicy implements Store. It writes the flags and checks the room
// in the same round trip: flags written on a room that turns out to be
// dead are harmless, since the next HostRoom clears them.
func (r *Redis) SetRoomPolicy(ctx context.Context, room string, locked, lobby bool) error {
	if err := checkID("room ID", room); err != nil {
		return err
	}
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	var live, cmd *redis.Cmd
	op := "set the policy of room " + strconv.Quote(room)
	if err := r.do(ctx, op, func(p redis.Pipeliner, eval evalFunc) {
		live = eval(scriptLive, []string{r.leaseKey})
		cmd = eval(scriptPolicy, r.roomKeys(room), flag(locked), flag(lobby), r.roomTTL)
	}); err != nil {
		return err
	}
	set, err := liveNodes(live)
	if err != nil {
		return r.fail(ctx, op, err)
	}
	meta, err := flatMap(cmd)
	if err != nil {
		return r.fail(ctx, op, err)
	}
	if _, ok := roomView(room, meta, set); !ok {
		return notFound("room", room)
	}
	return nil
}

// Participant flags in a record.
const (
	flagAudioMuted = 1 << iota
	flagVideoMuted
	flagHandRaised
)

// mutableFields is the end of a participant's record that Update replaces:
// flags, role, name.
func mutableFields(p Participant) string {
	flags := 0
	if p.AudioMuted {
		flags |= flagAudioMuted
	}
	if p.VideoMuted {
		flags |= flagVideoMuted
	}
	if p.HandRaised {
		flags |= flagHandRaised
	}
	return strconv.Itoa(flags) + "\n" + p.Role + "\n" + p.Name
}

// Join implements Store.
func (r *Redis) Join(ctx context.Context, p Participant) error {
	if err := checkParticipant(p); err != nil {
		return err
	}
	now := r.now()
	if p.JoinedAt.IsZero() {
		p.JoinedAt = now
	}
	tail := millis(p.JoinedAt) + "\n" + mutableFields(p)
	return r.do(ctx, "add participant "+strconv.Quote(p.ID)+" to room "+strconv.Quote(p.Room), func(pipe redis.Pipeliner, eval evalFunc) {
		eval(scriptJoin, r.roomKeys(p.Room), p.ID, p.Node, tail, millis(now), r.roomTTL)
	})
}

// Update implements Store.
func (r *Redis) Update(ctx context.Context, p Participant) error {
	if err := checkParticipant(p); err != nil {
		return err
	}
	var cmd *redis.Cmd
	op := "update participant " + strconv.Quote(p.ID) + " of room " + strconv.Quote(p.Room)
	if err := r.do(ctx, op, func(pipe redis.Pipeliner, eval evalFunc) {
		cmd = eval(scriptUpdate, r.roomKeys(p.Room), p.ID, mutableFields(p), r.roomTTL)
	}); err != nil {
		return err
	}
	if n, err := cmd.Int(); err != nil {
		return r.fail(ctx, op, err)
	} else if n == 0 {
		return notFound("participant", p.ID)
	}
	return nil
}

// Leave implements Store. It takes one round trip, and a second when the
// participants left all belong to dead nodes, to forget the room.
func (r *Redis) Leave(ctx context.Context, room, id string) error {
	if err := checkID("room ID", room); err != nil {
		return err
	}
	if err := checkID("participant ID", id); err != nil {
		return err
	}
	keys := r.roomKeys(room)
	var live, cmd *redis.Cmd
	op := "remove participant " + strconv.Quote(id) + " from room " + strconv.Quote(room)
	if err := r.do(ctx, op, func(p redis.Pipeliner, eval evalFunc) {
		live = eval(scriptLive, []string{r.leaseKey})
		cmd = eval(scriptLeave, keys, id, r.roomTTL)
	}); err != nil {
		return err
	}
	set, err := liveNodes(live)
	if err != nil {
		return r.fail(ctx, op, err)
	}
	left, err := cmd.StringSlice()
	if err != nil {
		return r.fail(ctx, op, err)
	}
	if len(left) < 2 || slices.ContainsFunc(left[1:], func(node string) bool { return set[node] }) {
		return nil
	}
	args := withLive([]any{left[0]}, set)
	return r.do(ctx, "forget room "+strconv.Quote(room), func(p redis.Pipeliner, eval evalFunc) {
		eval(scriptForget, keys, args...)
	})
}

// Participants implements Store.
func (r *Redis) Participants(ctx context.Context, room string) ([]Participant, error) {
	if err := checkID("room ID", room); err != nil {
		return nil, err
	}
	var live *redis.Cmd
	var all *redis.MapStringStringCmd
	op := "list the participants of room " + strconv.Quote(room)
	if err := r.do(ctx, op, func(p redis.Pipeliner, eval evalFunc) {
		live = eval(scriptLive, []string{r.leaseKey})
		all = p.HGetAll(ctx, r.roomKeys(room)[1])
	}); err != nil {
		return nil, err
	}
	set, err := liveNodes(live)
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	type entry struct {
		p   Participant
		seq int64
	}
	entries := make([]entry, 0, len(all.Val()))
	for id, rec := range all.Val() {
		p, seq, err := parseRecord(room, id, rec)
		if err != nil {
			return nil, err
		}
		if set[p.Node] {
			entries = append(entries, entry{p, seq})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(a.p.JoinedAt.Compare(b.p.JoinedAt), cmp.Compare(a.seq, b.seq))
	})
	out := make([]Participant, len(entries))
	for i, e := range entries {
		out[i] = e.p
	}
	return out, nil
}

// parseRecord reads a participant record (see redis_lua.go).
func parseRecord(room, id, rec string) (Participant, int64, error) {
	f := strings.SplitN(rec, "\n", 7)
	if len(f) != 7 || f[0] != "1" {
		return Participant{}, 0, fmt.Errorf("roomstate: participant %q of room %q is stored in a format this salon does not know (%.20q); a newer salon node shares this Redis: upgrade this one", id, room, rec)
	}
	seq, _ := strconv.ParseInt(f[1], 10, 64)
	joined, _ := strconv.ParseInt(f[3], 10, 64)
	flags, _ := strconv.Atoi(f[4])
	return Participant{
		ID:         id,
		Room:       room,
		Node:       f[2],
		JoinedAt:   time.UnixMilli(joined),
		AudioMuted: flags&flagAudioMuted != 0,
		VideoMuted: flags&flagVideoMuted != 0,
		HandRaised: flags&flagHandRaised != 0,
		Role:       f[5],
		Name:       f[6],
	}, seq, nil
}
