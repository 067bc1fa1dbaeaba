package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

var busTests = []test{
	{"PublishSubscribe", testPublishSubscribe},
	{"Unsubscribe", testUnsubscribe},
	{"SlowSubscriber", testSlowSubscriber},
	{"SubscriptionEndsWithContext", testSubscriptionEndsWithContext},
}

// busWait bounds the wait for a message that must arrive.
const busWait = 5 * time.Second

func subscribe(t *testing.T, h Harness, topic string) roomstate.Subscription {
	t.Helper()
	s, err := h.Bus.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func publish(t *testing.T, h Harness, topic, msg string) {
	t.Helper()
	if err := h.Bus.Publish(context.Background(), topic, []byte(msg)); err != nil {
		t.Fatalf("Publish(%q): %v", topic, err)
	}
}

// receive returns the next message of s, failing t when none comes or the
// subscription ends.
func receive(t *testing.T, s roomstate.Subscription) string {
	t.Helper()
	return string(receiveBytes(t, s))
}

func receiveBytes(t *testing.T, s roomstate.Subscription) []byte {
	t.Helper()
	select {
	case m, ok := <-s.C():
		if !ok {
			t.Fatal("the subscription ended")
		}
		return m
	case <-time.After(busWait):
		t.Fatalf("no message within %s", busWait)
	}
	return nil
}

// waitClosed drains s until its channel closes and returns what it got.
func waitClosed(t *testing.T, s roomstate.Subscription) []string {
	t.Helper()
	var got []string
	timeout := time.After(busWait)
	for {
		select {
		case m, ok := <-s.C():
			if !ok {
				return got
			}
			got = append(got, string(m))
		case <-timeout:
			t.Fatalf("the subscription did not end within %s (got %d messages)", busWait, len(got))
		}
	}
}

func testPublishSubscribe(t *testing.T, h Harness) {
	ctx := context.Background()
	// Nobody listens: the message goes nowhere, and the Bus says so.
	if err := h.Bus.Publish(ctx, "room:a", []byte("nobody listens")); !errors.Is(err, roomstate.ErrNoSubscriber) {
		t.Fatalf("Publish without subscribers: %v, want ErrNoSubscriber", err)
	}
	a1, a2 := subscribe(t, h, "room:a"), subscribe(t, h, "room:a")
	b := subscribe(t, h, "room:b")
	// A topic that shares a prefix is another topic.
	ab := subscribe(t, h, "room:a:b")

	// As many as a subscriber holds: this test reads after publishing.
	n := h.BusBuffer
	buf := make([]byte, 0, 16)
	for i := range n {
		buf = fmt.Appendf(buf[:0], "msg %d", i)
		if err := h.Bus.Publish(ctx, "room:a", buf); err != nil {
			t.Fatal(err)
		}
	}
	// Messages are the receivers' own: the publisher reused its buffer,
	// and the first receiver scribbles over what it got.
	for i := range n {
		want := fmt.Sprintf("msg %d", i)
		m1 := receiveBytes(t, a1)
		if string(m1) != want {
			t.Fatalf("first subscriber got %q, want %q: lost or out of order", m1, want)
		}
		clear(m1)
		if got := receive(t, a2); got != want {
			t.Fatalf("second subscriber got %q, want %q", got, want)
		}
	}

	publish(t, h, "room:b", "for b")
	publish(t, h, "room:a:b", "for a:b")
	if got := receive(t, b); got != "for b" {
		t.Errorf("room:b got %q: a message of another topic", got)
	}
	if got := receive(t, ab); got != "for a:b" {
		t.Errorf("room:a:b got %q: a message of another topic", got)
	}
	// An empty message is a message.
	publish(t, h, "room:b", "")
	if got := receive(t, b); got != "" {
		t.Errorf("empty message arrived as %q", got)
	}
}

func testUnsubscribe(t *testing.T, h Harness) {
	stays, goes := subscribe(t, h, "t"), subscribe(t, h, "t")
	publish(t, h, "t", "one")
	receive(t, goes)
	if err := goes.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, ok := <-goes.C(); ok {
		t.Error("a message arrived after Close")
	}
	if err := goes.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	publish(t, h, "t", "two")
	if got := receive(t, stays); got != "one" {
		t.Errorf("got %q, want one", got)
	}
	if got := receive(t, stays); got != "two" {
		t.Errorf("got %q, want two", got)
	}
	// Subscribing again after the others left works.
	stays.Close()
	again := subscribe(t, h, "t")
	publish(t, h, "t", "three")
	if got := receive(t, again); got != "three" {
		t.Errorf("got %q, want three", got)
	}
}

// testSlowSubscriber: a subscriber that does not read never holds up the
// publisher; once a whole buffer behind, its subscription ends after the
// messages it could hold, so it knows to reconcile.
func testSlowSubscriber(t *testing.T, h Harness) {
	slow := subscribe(t, h, "busy")
	fast := subscribe(t, h, "busy")
	// The publisher goes in batches of half a buffer, which the reading
	// subscriber takes before the next, so that only the slow one falls
	// behind however the goroutines are scheduled.
	batch := max(h.BusBuffer/2, 1)
	n := 5 * batch // more than two buffers
	published := make(chan error)
	next := make(chan struct{})
	go func() {
		defer close(published)
		for i := range n {
			if err := h.Bus.Publish(context.Background(), "busy", fmt.Appendf(nil, "%d", i)); err != nil {
				published <- err
				return
			}
			if (i+1)%batch == 0 {
				published <- nil
				<-next
			}
		}
	}()
	for i := 0; i < n; {
		select {
		case err := <-published:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(busWait):
			t.Fatalf("publishing %d messages took over %s: a subscriber that does not read holds up the publisher", batch, busWait)
		}
		for range batch {
			if got, want := receive(t, fast), fmt.Sprint(i); got != want {
				t.Fatalf("the reading subscriber got %q, want %q", got, want)
			}
			i++
		}
		next <- struct{}{}
	}
	got := waitClosed(t, slow)
	if len(got) != h.BusBuffer {
		t.Errorf("the slow subscriber got %d messages before its end, want its buffer, %d", len(got), h.BusBuffer)
	}
	for i, m := range got {
		if m != fmt.Sprint(i) {
			t.Fatalf("the slow subscriber's message %d is %q", i, m)
		}
	}
}

func testSubscriptionEndsWithContext(t *testing.T, h Harness) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := h.Bus.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, h, "t", "before")
	if got := receive(t, s); got != "before" {
		t.Fatalf("got %q", got)
	}
	cancel()
	waitClosed(t, s)
	if err := s.Close(); err != nil {
		t.Errorf("Close after the context ended: %v", err)
	}
}
