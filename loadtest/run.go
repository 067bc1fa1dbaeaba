package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options carries what Run needs besides its Config.
type Options struct {
	// Logger receives progress and problems; nil discards them.
	Logger *slog.Logger
	// HTTPClient makes the API and /metrics requests; nil uses one with
	// enough idle connections for a burst of joins.
	HTTPClient *http.Client
}

// lateGrace is how long receivers keep reading after the window, so that
// late packets of the window count as received rather than lost.
const lateGrace = 500 * time.Millisecond

// runner is one load test in progress.
type runner struct {
	cfg    Config
	log    *slog.Logger
	http   *httpAPI
	webrtc webrtcAPIs
	start  time.Time

	phase       atomic.Int32
	windowStart atomic.Int64 // runner.now() when the window began
	viewRefused atomic.Bool
}

// now is the time since the run began in ns; never 0, which means "not
// yet" in the participants' timelines.
func (r *runner) now() int64 { return int64(time.Since(r.start)) + 1 }

// Run joins the participants, lets them warm up, measures for the
// window, makes everyone leave and reports. Failed joins are part of the
// report, not errors; an error means the test could not run at all.
func Run(ctx context.Context, cfg Config, opts Options) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := opts.HTTPClient
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	api, err := newAPIs(&cfg, log)
	if err != nil {
		return nil, fmt.Errorf("set up WebRTC: %w", err)
	}
	r := &runner{cfg: cfg, log: log, http: &httpAPI{base: cfg.URL, client: client}, webrtc: api}

	slugs := cfg.Meetings
	if cfg.Rooms > 0 {
		slugs = nil
		for i := range cfg.Rooms {
			slug, err := r.http.createMeeting(ctx, cfg.User, cfg.Password, fmt.Sprintf("Load test room %d", i+1))
			if err != nil {
				return nil, fmt.Errorf("create meeting %d of --rooms %d as %s: %w", i+1, cfg.Rooms, cfg.User, err)
			}
			slugs = append(slugs, slug)
		}
		log.Info("created meetings", "rooms", len(slugs))
	}

	probe := &serverProbe{pid: cfg.ServerPID, metrics: cfg.URL + "/metrics", client: client}
	before, probeErr := probe.sample(ctx)
	if probeErr != nil {
		log.Warn("no server CPU and memory figures", "err", probeErr)
	}

	var publishers, subscribers []*participant
	for room, slug := range slugs {
		for i := range cfg.PerRoom() {
			p := r.newParticipant(room, slug, i)
			if p.publishes() {
				publishers = append(publishers, p)
			} else {
				subscribers = append(subscribers, p)
			}
		}
	}
	all := append(append([]*participant{}, publishers...), subscribers...)

	r.start = time.Now()
	pctx, leave := context.WithCancel(context.WithoutCancel(ctx))
	defer leave()
	var wg sync.WaitGroup
	finish := func() {
		leave()
		wg.Wait()
	}
	// Publishers first, so that the subscribers join a meeting in progress.
	for _, phase := range [][]*participant{publishers, subscribers} {
		log.Info("joining", "participants", len(phase), "ramp_up", cfg.RampUp)
		if err := r.join(ctx, pctx, phase, &wg); err != nil {
			finish()
			return nil, err
		}
	}
	joined := 0
	for _, p := range all {
		if failure, _ := p.outcome(); p.joinedAt.Load() != 0 && failure == "" {
			joined++
		}
	}
	log.Info("joins done", "joined", joined, "of", len(all), "after", time.Since(r.start).Round(time.Millisecond))

	if err := sleep(ctx, cfg.Warmup); err != nil {
		finish()
		return nil, err
	}
	s0, err0 := probe.sample(ctx)
	self0 := selfCPU()
	r.windowStart.Store(r.now())
	r.phase.Store(phaseWindow)
	windowStart := time.Now()
	log.Info("measuring", "window", cfg.Duration)
	if err := sleep(ctx, cfg.Duration); err != nil {
		finish()
		return nil, err
	}
	r.phase.Store(phaseAfter)
	window := time.Since(windowStart)
	self1 := selfCPU()
	s1, err1 := probe.sample(ctx)
	_ = sleep(ctx, lateGrace)
	log.Info("leaving")
	finish()

	rep := r.report(all, window)
	rep.LoadTester.CPUPercent = 100 * (self1 - self0).Seconds() / window.Seconds()
	rep.LoadTester.Cores = runtime.GOMAXPROCS(0)
	rep.Server = serverReport(probe.Source(), before, s0, s1, probeErr == nil && err0 == nil && err1 == nil, rep, joined)
	if err0 != nil || err1 != nil {
		log.Warn("no server CPU figures for the window", "err", firstErr(err0, err1))
	}
	return rep, nil
}

func (r *runner) newParticipant(room int, slug string, i int) *participant {
	cfg := &r.cfg
	p := &participant{
		r: r, room: room, slug: slug, index: i, ready: make(chan struct{}),
		video: i < cfg.VideoPublishers, audio: i < cfg.AudioPublishers,
		speaking: i < min(cfg.Speaking, cfg.AudioPublishers),
	}
	kind := "subscriber"
	if p.publishes() {
		kind = "publisher"
	}
	p.name = fmt.Sprintf("Load %d-%d %s", room+1, i+1, kind)
	p.log = r.log.With("participant", p.name)
	p.expectVideo = cfg.VideoPublishers
	p.expectAudio = cfg.AudioPublishers
	if p.video {
		p.expectVideo--
	}
	if p.audio {
		p.expectAudio--
	}
	return p
}

// join starts the participants of one phase spread evenly over --ramp-up
// and waits until each is ready or failed.
func (r *runner) join(ctx, pctx context.Context, ps []*participant, wg *sync.WaitGroup) error {
	n := len(ps)
	begin := time.Now()
	for k, p := range ps {
		at := begin.Add(time.Duration(int64(r.cfg.RampUp) * int64(k) / int64(max(n, 1))))
		if err := sleep(ctx, time.Until(at)); err != nil {
			return err
		}
		wg.Go(func() { p.run(pctx) })
	}
	for _, p := range ps {
		select {
		case <-p.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// selfCPU is the CPU time the load tester has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
