package roomstate

import (
	"context"
	"sync"
)

// memBus is Memory's Bus: a fan-out to the subscribers of a topic, each
// with a buffer of its own, so that a slow subscriber never holds up a
// publisher.
type memBus struct {
	buffer int

	mu     sync.Mutex
	topics map[string]map[*memSubscription]struct{}
}

// memSubscription is one Subscribe to a memBus.
type memSubscription struct {
	bus   *memBus
	topic string
	ch    chan []byte
	done  bool        // guarded by bus.mu; ch is closed
	stop  func() bool // stops the watch of the subscriber's context; guarded by bus.mu
}

// Publish implements Bus. A subscriber whose buffer is full misses this
// message and every later one: its subscription ends, so that it knows to
// reconcile, rather than carrying on with a gap it cannot see.
func (m *Memory) Publish(ctx context.Context, topic string, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkMessage(topic, msg); err != nil {
		return err
	}
	b := &m.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.topics[topic]) == 0 {
		return ErrNoSubscriber
	}
	for s := range b.topics[topic] {
		select {
		case s.ch <- append([]byte(nil), msg...):
		default:
			s.endLocked()
		}
	}
	return nil
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkID("topic", topic); err != nil {
		return nil, err
	}
	b := &m.bus
	s := &memSubscription{bus: b, topic: topic, ch: make(chan []byte, b.buffer)}
	b.mu.Lock()
	subs := b.topics[topic]
	if subs == nil {
		subs = map[*memSubscription]struct{}{}
		b.topics[topic] = subs
	}
	subs[s] = struct{}{}
	s.stop = context.AfterFunc(ctx, func() { s.Close() })
	b.mu.Unlock()
	return s, nil
}

// Close ends every subscription of the Bus. Publish and Subscribe keep
// working.
func (m *Memory) Close() error {
	b := &m.bus
	b.mu.Lock()
	var all []*memSubscription
	for _, subs := range b.topics {
		for s := range subs {
			all = append(all, s)
		}
	}
	b.mu.Unlock()
	for _, s := range all {
		s.Close()
	}
	return nil
}

func (s *memSubscription) C() <-chan []byte { return s.ch }

func (s *memSubscription) Close() error {
	s.bus.mu.Lock()
	s.endLocked()
	s.bus.mu.Unlock()
	return nil
}

// endLocked ends the subscription; the caller holds bus.mu.
func (s *memSubscription) endLocked() {
	if s.done {
		return
	}
	s.done = true
	close(s.ch)
	s.stop()
	subs := s.bus.topics[s.topic]
	delete(subs, s)
	if len(subs) == 0 {
		delete(s.bus.topics, s.topic)
	}
}
