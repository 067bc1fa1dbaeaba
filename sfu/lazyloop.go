package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
)

// lazyLoop wraps an interceptor whose BindRTCPWriter starts a goroutine
// with a ticker and returns the writer it was given (pion's NACK
// generator, transport-cc feedback, sender and receiver reports). The
// wrapped BindRTCPWriter only remembers the writer; the inner one runs
// with the first stream the interceptor has work for: a local (sent)
// stream when local is true, a remote (received) one otherwise. Until
// then, RTCP read on the connection passes it by: the receiver reports'
// reader parses every packet, for senders that a subscribe connection
// never has.
func lazyLoop(f interceptor.Factory, local bool) interceptor.Factory {
	return lazyLoopFactory{inner: f, local: local}
}

type lazyLoopFactory struct {
	inner interceptor.Factory
	local bool
}

func (f lazyLoopFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.inner.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &lazyLoopInterceptor{Interceptor: i, local: f.local}, nil
}

type lazyLoopInterceptor struct {
	interceptor.Interceptor
	local bool

	mu      sync.Mutex
	writer  interceptor.RTCPWriter
	started atomic.Bool
}

func (l *lazyLoopInterceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	l.mu.Lock()
	l.writer = w
	l.mu.Unlock()
	return w
}

func (l *lazyLoopInterceptor) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started.Load() && l.writer != nil {
		l.Interceptor.BindRTCPWriter(l.writer)
		l.started.Store(true)
	}
}

func (l *lazyLoopInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if l.local {
		l.start()
	}
	return l.Interceptor.BindLocalStream(info, w)
}

func (l *lazyLoopInterceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if !l.local {
		l.start()
	}
	return l.Interceptor.BindRemoteStream(info, r)
}

func (l *lazyLoopInterceptor) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	inner := l.Interceptor.BindRTCPReader(r)
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		if l.started.Load() {
			return inner.Read(b, a)
		}
		return r.Read(b, a)
	})
}
