package roomstate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// subscribeTimeout bounds the wait for Redis to confirm a SUBSCRIBE.
	subscribeTimeout = 5 * time.Second
	// defaultHealthInterval is RedisOptions.HealthInterval's default:
	// long enough to cost nothing, short enough that a node notices a
	// silently dead connection well within a node lease or two.
	defaultHealthInterval = 15 * time.Second
)

// redisSubscription is one Subscribe: a connection of its own in the
// SUBSCRIBE state, and the goroutine that reads it.
type redisSubscription struct {
	r      *Redis
	ps     *redis.PubSub
	ch     chan []byte
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader has returned and ch is closed
}

func (r *Redis) channel(topic string) string { return r.prefix + "bus:" + topic }

// Publish implements Bus: one PUBLISH, which Redis Cluster forwards to
// every shard. go-redis may send it twice if the reply was lost and its
// retries are on; subscribers ignore duplicates as they ignore anything
// out of date.
func (r *Redis) Publish(ctx context.Context, topic string, msg []byte) error {
	if err := checkMessage(topic, msg); err != nil {
		return err
	}
	var n *redis.IntCmd
	err := r.do(ctx, "publish on "+topic, func(p redis.Pipeliner, eval evalFunc) {
		n = p.Publish(ctx, r.channel(topic), msg)
	})
	if err != nil {
		return err
	}
	// A cluster node counts only its own subscribers; elsewhere zero
	// receivers means nobody heard it.
	if _, cluster := r.c.(*redis.ClusterClient); !cluster && n.Val() == 0 {
		return ErrNoSubscriber
	}
	return nil
}

// Subscribe implements Bus. It returns once Redis has confirmed the
// subscription, so what is published afterwards is delivered. The
// subscription ends, and its channel closes, when its connection breaks
// (Redis restarting, a timeout of the health check, CLIENT KILL): the
// messages published meanwhile are lost, so the subscriber must subscribe
// again and reconcile, rather than have go-redis reconnect behind its
// back.
func (r *Redis) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	if err := checkID("topic", topic); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	subCtx, cancel := context.WithCancel(ctx)
	ps := r.c.Subscribe(subCtx, r.channel(topic))
	// Closing the PubSub is the one way to interrupt a read blocked on
	// its connection.
	stop := context.AfterFunc(subCtx, func() { ps.Close() })
	fail := func(err error) (Subscription, error) {
		cancel()
		stop()
		ps.Close()
		return nil, r.fail(ctx, "subscribe to "+topic, err)
	}
	confirmCtx, confirmCancel := context.WithTimeout(subCtx, subscribeTimeout)
	reply, err := ps.ReceiveTimeout(confirmCtx, subscribeTimeout)
	confirmCancel()
	if err != nil {
		return fail(err)
	}
	if s, ok := reply.(*redis.Subscription); !ok || s.Kind != "subscribe" {
		return fail(fmt.Errorf("redis answered SUBSCRIBE with %v", reply))
	}

	s := &redisSubscription{r: r, ps: ps, ch: make(chan []byte, r.busBuffer), cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	go s.read(subCtx)
	return s, nil
}

// read delivers the messages until the subscription ends.
func (s *redisSubscription) read(ctx context.Context) {
	defer func() {
		s.cancel()
		s.ps.Close()
		s.r.mu.Lock()
		delete(s.r.subs, s)
		s.r.mu.Unlock()
		close(s.ch)
		close(s.done)
	}()
	pinged := false
	for {
		reply, err := s.ps.ReceiveTimeout(ctx, s.r.health)
		if err != nil {
			if isTimeout(err) && !pinged && ctx.Err() == nil && s.ps.Ping(ctx) == nil {
				pinged = true
				continue
			}
			return
		}
		pinged = false
		switch m := reply.(type) {
		case *redis.Message:
			select {
			case s.ch <- []byte(m.Payload):
			default:
				// The subscriber fell a whole buffer behind: end
				// the subscription rather than skip messages
				// unseen, and never make Redis or the publishers
				// wait for it.
				return
			}
		case *redis.Subscription:
			if m.Kind == "unsubscribe" {
				return
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *redisSubscription) C() <-chan []byte { return s.ch }

// Close ends the subscription and returns once its channel is closed.
func (s *redisSubscription) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// Close ends every subscription of the Bus. The Store and Publish keep
// working; the client stays the caller's to close.
func (r *Redis) Close() error {
	r.mu.Lock()
	subs := make([]*redisSubscription, 0, len(r.subs))
	for s := range r.subs {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	return nil
}
