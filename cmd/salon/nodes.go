package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/signaling"
)

// Node leases: a node renews every nodeRenew and is taken for dead
// nodeLease after its last renewal, so its participants vanish from every
// list within 20 s of a crash.
const (
	nodeRenew = 4 * time.Second
	nodeLease = 12 * time.Second
)

// liveState is the room state of this process: in memory, or shared with
// the other nodes through Redis.
type liveState struct {
	store roomstate.Store
	bus   roomstate.Bus
	// ping checks the backing service for /readyz; nil in memory.
	ping  func(ctx context.Context) error
	close func() error
}

func openLiveState(cfg *serveConfig, log *slog.Logger) (*liveState, error) {
	if cfg.Redis == "" {
		mem := roomstate.NewMemory(roomstate.MemoryOptions{})
		return &liveState{store: mem, bus: mem, close: func() error { return nil }}, nil
	}
	client, err := roomstate.NewRedisClient(cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("invalid --redis: %w", err)
	}
	// go-redis's own lines (each failed dial while Redis is away) go to
	// salon's log at debug level: salon says once, at warn, what it means.
	redis.SetLogger(redisLogger{log.With("part", "redis")})
	log.Info("live room state in Redis", "redis", redactedRedis(cfg.Redis))
	rs := roomstate.NewRedis(client, roomstate.RedisOptions{})
	return &liveState{
		store: rs,
		bus:   rs,
		ping:  func(ctx context.Context) error { return client.Ping(ctx).Err() },
		close: client.Close,
	}, nil
}

// redisLogger routes go-redis's log lines into slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}

// redactedRedis is the --redis URL without its password, for logs.
func redactedRedis(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// newNodeID names this process in the shared state: the host name and a
// random suffix, so that a restarted process is a new node whose
// predecessor's lease simply runs out.
func newNodeID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "salon"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// mediaAddr is the address this node announces for media.
func mediaAddr(cfg *serveConfig, port int) string {
	host := cfg.RTCListenIP
	if len(cfg.RTCIPs) > 0 {
		host = cfg.RTCIPs[0]
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// registerNode takes this node's first lease, before it takes joins, so
// that no other node takes its rooms for orphans.
func registerNode(ctx context.Context, st roomstate.Store, node roomstate.Node, log *slog.Logger) {
	c, cancel := context.WithTimeout(ctx, nodeRenew)
	defer cancel()
	if err := st.RenewNode(c, node, nodeLease); err != nil {
		log.Warn("live room state unreachable; joins are refused until it is back", "err", err)
	}
}

// keepNodeAlive renews this node's lease until ctx ends, then ends it. After
// a renewal failed (Redis unreachable) it reconciles everything this node
// knows once the state is back, since Redis may have restarted empty.
func keepNodeAlive(ctx context.Context, st roomstate.Store, sig *signaling.Server, node roomstate.Node, draining func() bool, log *slog.Logger) {
	renew := func() error {
		n := node
		n.Load = sig.Load()
		n.Draining = draining()
		c, cancel := context.WithTimeout(ctx, nodeRenew)
		defer cancel()
		return st.RenewNode(c, n, nodeLease)
	}
	failing := false
	t := time.NewTicker(nodeRenew)
	defer t.Stop()
	// While the state is unreachable, look again every second: the sooner
	// this node is back in it, the fewer joins elsewhere take its rooms.
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		var again <-chan time.Time
		if failing {
			again = retry.C
		}
		select {
		case <-again:
		case <-ctx.Done():
			c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := st.RemoveNode(c, node.ID); err != nil {
				log.Warn("could not end this node's lease; it runs out by itself", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
		// A node missing from the state before its renewal lost its lease
		// without noticing: Redis restarted empty between two renewals.
		if !failing {
			c, cancel := context.WithTimeout(ctx, nodeRenew)
			nodes, err := st.Nodes(c)
			cancel()
			known := false
			for _, n := range nodes {
				known = known || n.ID == node.ID
			}
			switch {
			case err != nil:
				// A connection broken under us (Redis restarting) fails
				// one call and heals on the next: reconcile after it.
				log.Warn("live room state call failed; checking and writing this node's rooms again", "err", err)
				failing = true
			case !known:
				log.Warn("this node was missing from the live room state (Redis restarted?); writing its rooms again")
				failing = true
			}
		}
		if err := renew(); err != nil {
			if !failing {
				log.Warn("live room state unreachable; new joins are refused until it is back", "err", err)
			}
			failing = true
			continue
		}
		c, cancel := context.WithTimeout(ctx, nodeRenew)
		if failing {
			log.Info("live room state reachable again; reconciling")
		}
		if err := sig.Reconcile(c, failing); err == nil {
			failing = false
		}
		cancel()
	}
}
