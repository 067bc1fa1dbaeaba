package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/calendar/sqlstore"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/meeting"
	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/sfu"
	"github.com/salonhq/salon/signaling"
	"github.com/salonhq/salon/web"
)

// shutdownTimeout bounds a graceful shutdown; a second signal cuts it short.
const shutdownTimeout = 15 * time.Second

// serve runs salon until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	slog.SetDefault(log)
	// Go's default GC pace (GOGC=100) is kept: at 300 the media plane's
	// garbage tripled the resident memory per participant (1.9 instead of
	// 0.5 MiB with 100 receivers) for no measurable CPU saving there. A
	// CalDAV-heavy server may set GOGC=300 in its environment.

	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("create --data directory %s: %w", cfg.Data, err)
	}
	database, err := db.Open(ctx, cfg.DB, cfg.Data)
	if err != nil {
		return err
	}
	defer database.Close()
	meetings := meeting.NewStore(database)
	if err := meetings.Migrate(ctx); err != nil {
		return fmt.Errorf("prepare the database: %w", err)
	}
	demo, created, err := meetings.EnsureDemo(ctx)
	if err != nil {
		return fmt.Errorf("create the demo meeting: %w", err)
	}
	users := auth.NewUsers(database, auth.UsersOptions{Logger: log})
	if err := users.Migrate(ctx); err != nil {
		return fmt.Errorf("prepare the database: %w", err)
	}
	// The key is in the database, so that every node sharing it signs
	// alike; the file in --data is where salon kept it before, adopted once.
	key, err := auth.LoadOrCreateSigningKey(ctx, database, filepath.Join(cfg.Data, "signing.key"))
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	tokens := auth.NewTokens(key)
	reg := prometheus.NewRegistry()
	outbox, err := newOutbox(ctx, cfg, database, log, reg)
	if err != nil {
		return err
	}
	calendars := sqlstore.New(database, sqlstore.Options{Outbox: outbox})
	if err := calendars.Migrate(ctx); err != nil {
		return fmt.Errorf("prepare the database: %w", err)
	}

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "salon", Name: "build_info", Help: "Always 1; the version is in the label.",
		ConstLabels: prometheus.Labels{"version": versionString()},
	}, func() float64 { return 1 }))

	media, err := sfu.New(sfu.Config{
		UDPPort:         cfg.RTCUDPPort,
		LastN:           cfg.LastN,
		ListenIP:        cfg.RTCListenIP,
		AnnounceIPs:     cfg.RTCIPs,
		Interfaces:      cfg.RTCInterfaces,
		IncludeLoopback: cfg.RTCLoopback,
		DisableTCP:      !cfg.RTCTCP,
		IPv6:            cfg.RTCIPv6,
		SimulateLoss:    cfg.SimulateLoss / 100,
	}, sfu.Options{Logger: log, Registerer: reg})
	if err != nil {
		return fmt.Errorf("%w (change it with --rtc-udp-port)", err)
	}
	defer media.Close()

	if cfg.DebugListen != "" {
		stopDebug, err := serveDebug(cfg.DebugListen, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on --listen %s: %w", cfg.Listen, err)
	}
	defer lis.Close()
	if cfg.PublicURL == "" {
		cfg.PublicURL = defaultPublicURL(lis.Addr())
	}
	sched, err := newScheduler(cfg, calendars, users, meetings, tokens, log, reg)
	if err != nil {
		return err
	}
	live, err := openLiveState(cfg, log)
	if err != nil {
		return err
	}
	defer live.close()
	nodeID := newNodeID()
	sig := signaling.New(signaling.Config{PublicURL: cfg.PublicURL, ReconnectGrace: cfg.ReconnectGrace},
		signaling.Options{SFU: media, Tokens: tokens, Logger: log, Registerer: reg, State: live.store, Bus: live.bus, Node: nodeID})
	site := web.New(web.Config{PublicURL: cfg.PublicURL, JoinRate: cfg.JoinRate, JoinBurst: cfg.JoinBurst},
		web.Options{Meetings: meetings, Tokens: tokens, Logger: log, Metrics: reg,
			RSVPs: sched, Mailbox: outbox, Scheduler: sched,
			Authenticate: func(h http.Handler) http.Handler { return auth.BasicAuth(users, "salon", log, h) }})

	if err := ensureAdmin(ctx, users, calendars, cfg.PublicURL, stdout, log); err != nil {
		return err
	}
	dav := calendar.NewHandler(calendar.Config{Prefix: "/dav"},
		calendar.Options{Store: calendars, Directory: users, Logger: log, Scheduler: sched})

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/ws", sig)
	davAuth := auth.BasicAuth(users, "salon", log, dav)
	// OPTIONS tells a client what salon speaks before it signs in; it
	// reads nothing of anyone's.
	davOrOptions := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			dav.ServeHTTP(w, r)
			return
		}
		davAuth.ServeHTTP(w, r)
	})
	mux.Handle("/dav/", davOrOptions)
	mux.Handle("/dav", davOrOptions)
	mux.Handle("/.well-known/caldav", auth.BasicAuth(users, "salon", log, dav.WellKnown()))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready\n")
			return
		}
		if err := database.PingContext(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "database unreachable\n")
			return
		}
		if live.ping != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := live.ping(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "live room state (Redis) unreachable\n")
				return
			}
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/", site.Handler())

	srv := &http.Server{
		Handler:           web.SecurityHeaders(web.AccessLog(log, mux)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()

	// The mail worker outlives the HTTP server's drain, so that what the
	// last requests queued is still tried before the process exits.
	mailCtx, stopMail := context.WithCancel(context.WithoutCancel(ctx))
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		if err := outbox.Run(mailCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("mail outbox stopped", "err", err)
		}
	}()
	defer func() { stopMail(); <-mailDone }()
	inbound, err := startInbound(cfg, sched, log, reg)
	if err != nil {
		return err
	}
	// Listen for relayed sockets before taking a lease: once other nodes
	// see this one alive they may send it rooms.
	nodeCtx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
	relayDone := sig.StartRelay(nodeCtx)
	self := roomstate.Node{ID: nodeID, MediaAddr: mediaAddr(cfg, media.UDPPort())}
	registerNode(ctx, live.store, self, log)
	nodeDone := make(chan struct{})
	go func() {
		defer close(nodeDone)
		keepNodeAlive(nodeCtx, live.store, sig, self, func() bool { return !ready.Load() }, log.With("node", nodeID))
	}()
	leaveNodes := func() { stopNode(); <-nodeDone; <-relayDone } // ends the lease; idempotent
	defer leaveNodes()
	ready.Store(true)

	demoURL := cfg.PublicURL + "/m/" + demo.Slug
	log.Info("salon is ready", "version", versionString(), "listen", lis.Addr().String(),
		"public_url", cfg.PublicURL, "media_port", media.UDPPort(), "data", cfg.Data, "demo", demoURL)
	if created {
		log.Info("created the demo meeting", "slug", demo.Slug)
	}
	fmt.Fprintf(stdout, "\nsalon is running at %s\nDemo meeting — open it in two browser windows: %s\n\n", cfg.PublicURL, demoURL)

	select {
	case err := <-serveErr:
		return fmt.Errorf("HTTP server stopped: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down: no new joins; telling clients")
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// The lease ends before participants are told: their rejoins must
	// find this node's rooms free for a node that stays up.
	leaveNodes()
	if err := sig.Shutdown(sctx); err != nil {
		log.Warn("signalling did not drain in time", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP server did not drain in time", "err", err)
	}
	if inbound != nil {
		if err := inbound.Shutdown(sctx); err != nil {
			log.Warn("inbound mail listener did not drain in time", "err", err)
		}
	}
	_ = media.Close()
	log.Info("stopped")
	return nil
}

// defaultPublicURL is what people on this machine would type: localhost and
// the port actually listened on.
func defaultPublicURL(addr net.Addr) string {
	host := "localhost"
	if ta, ok := addr.(*net.TCPAddr); ok {
		if !ta.IP.IsUnspecified() && !ta.IP.IsLoopback() {
			host = ta.IP.String()
		}
		return "http://" + net.JoinHostPort(host, fmt.Sprint(ta.Port))
	}
	return "http://" + addr.String()
}
