package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/mail"
)

// serveConfig is everything `salon serve` is told by its flags.
type serveConfig struct {
	Listen         string
	PublicURL      string
	Data           string
	DB             string
	RTCUDPPort     int
	RTCIPs         []string
	RTCListenIP    string
	RTCInterfaces  []string
	RTCLoopback    bool
	RTCTCP         bool
	RTCIPv6        bool
	LogLevel       slog.Level
	LogFormat      string
	ReconnectGrace time.Duration
	SMTP           string  // relay URL; "" keeps mail in the local mailbox
	MailFrom       string  // salon's sender address; "" derives salon@<public host>
	InboundListen  string  // SMTP/LMTP listener for iMIP replies; "" is off
	Redis          string  // live room state: "" in memory, or a redis:// URL
	JoinRate       float64 // join tokens per second per client address
	JoinBurst      int     // join tokens one address may take at once
	LastN          int     // most videos one participant receives; 0: no limit
	SimulateLoss   float64 // percent of media packets dropped on purpose, each way
	DebugListen    string  // pprof listener; "" is off
}

// parseServeFlags reads flags, then SALON_* variables for flags not given on
// the command line, and checks every value. Errors name the flag.
func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (*serveConfig, error) {
	fs := flag.NewFlagSet("salon serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", ":8080", "HTTP listen address (host:port)")
		publicURL  = fs.String("public-url", "", "URL people use to reach salon (default: http://localhost:<port>)")
		data       = fs.String("data", "./data", "data directory (the SQLite database when --db is empty)")
		dbURL      = fs.String("db", "", "database: empty for SQLite in the data directory, or postgres://…")
		udpPort    = fs.Int("rtc-udp-port", 7882, "UDP port for all media; ICE-TCP uses the same number")
		rtcIP      = fs.String("rtc-ip", "", "address(es) announced to browsers for media, comma-separated (public IP behind 1:1 NAT)")
		rtcListen  = fs.String("rtc-listen-ip", "", "bind the media port to this local address only (default: all)")
		rtcIfaces  = fs.String("rtc-interfaces", "", "gather media candidates only on these interfaces, comma-separated (default: all)")
		rtcLoop    = fs.Bool("rtc-loopback", false, "offer loopback addresses as media candidates (for local testing)")
		rtcTCP     = fs.Bool("rtc-tcp", true, "accept ICE-TCP on the media port number")
		rtcIPv6    = fs.Bool("rtc-ipv6", false, "gather IPv6 media candidates too")
		logLevel   = fs.String("log-level", "info", "log level: debug, info, warn or error")
		logFormat  = fs.String("log-format", "text", "log format: text or json")
		reconGrace = fs.Duration("reconnect-grace", 30*time.Second, "how long a participant whose connection dropped keeps its place")
		smtpURL    = fs.String("smtp", "", "mail relay for invitations: smtp://user:pass@host:587 (STARTTLS) or smtps://…:465; empty keeps mail in the local mailbox admins read at /admin/mail")
		mailFrom   = fs.String("mail-from", "", "sender address of salon's mail (default: salon@<host of --public-url>)")
		redisURL   = fs.String("redis", "", "live room state shared by several salon nodes: redis://[:password@]host:6379[/db], rediss://… (TLS); empty keeps it in memory (one node)")
		joinRate   = fs.Float64("join-rate", 2, "join tokens per second one client address may take after its burst")
		joinBurst  = fs.Int("join-burst", 60, "join tokens one client address may take at once (offices behind one address)")
		lastN      = fs.Int("last-n", 25, "most videos one participant receives at once, the latest speakers first; 0 means no limit")
		simLoss    = fs.Float64("rtc-simulate-loss", 0, "drop this percentage (0 to 50) of media packets at random, both ways, to try meetings on a bad network; never in production")
		debugLis   = fs.String("debug-listen", "", "serve Go's profiler (/debug/pprof/) on this address, such as 127.0.0.1:6060; keep it private (default: off)")
		inbound    = fs.String("inbound-listen", "", "receive iMIP replies from the mail server: smtp://127.0.0.1:2525, lmtp://127.0.0.1:2424 or lmtp+unix:///path (default: off)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{""}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("serve takes no arguments, got %q", fs.Args())}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || envErr != nil {
			return
		}
		name := "SALON_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("invalid %s=%q (for --%s): %v", name, v, f.Name, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}

	cfg := &serveConfig{
		Listen: *listen, Data: *data, DB: *dbURL, RTCUDPPort: *udpPort, RTCListenIP: *rtcListen,
		RTCLoopback: *rtcLoop, RTCTCP: *rtcTCP, RTCIPv6: *rtcIPv6, LogFormat: *logFormat, ReconnectGrace: *reconGrace,
		SMTP: *smtpURL, MailFrom: *mailFrom, InboundListen: *inbound, Redis: *redisURL,
		JoinRate: *joinRate, JoinBurst: *joinBurst, LastN: *lastN, DebugListen: *debugLis,
		SimulateLoss: *simLoss,
	}
	_, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("invalid --listen %q: want host:port, like :8080 or 127.0.0.1:8080", cfg.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("invalid --listen %q: port must be a number from 0 to 65535", cfg.Listen)
	}
	if *publicURL == "" {
		// Derived from the listener once it is open (the port may be 0).
		return cfg, cfg.validateRest(*rtcIP, *rtcIfaces, *logLevel)
	}
	u, err := url.Parse(*publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid --public-url %q: want an absolute http:// or https:// URL such as https://meet.example.org", *publicURL)
	}
	cfg.PublicURL = strings.TrimSuffix(u.String(), "/")
	return cfg, cfg.validateRest(*rtcIP, *rtcIfaces, *logLevel)
}

func (cfg *serveConfig) validateRest(rtcIP, rtcIfaces, logLevel string) error {
	if strings.TrimSpace(cfg.Data) == "" {
		return errors.New("invalid --data: the data directory must not be empty")
	}
	if cfg.DB != "" && !strings.HasPrefix(cfg.DB, "postgres://") && !strings.HasPrefix(cfg.DB, "postgresql://") {
		return fmt.Errorf("invalid --db: leave it empty for SQLite, or give a postgres:// URL")
	}
	if cfg.RTCUDPPort < 1 || cfg.RTCUDPPort > 65535 {
		return fmt.Errorf("invalid --rtc-udp-port %d: must be from 1 to 65535", cfg.RTCUDPPort)
	}
	for _, ip := range splitList(rtcIP) {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("invalid --rtc-ip %q: %q is not an IP address", rtcIP, ip)
		}
		cfg.RTCIPs = append(cfg.RTCIPs, ip)
	}
	if cfg.RTCListenIP != "" && net.ParseIP(cfg.RTCListenIP) == nil {
		return fmt.Errorf("invalid --rtc-listen-ip %q: not an IP address", cfg.RTCListenIP)
	}
	cfg.RTCInterfaces = splitList(rtcIfaces)
	if cfg.ReconnectGrace < time.Second || cfg.ReconnectGrace > 10*time.Minute {
		return fmt.Errorf("invalid --reconnect-grace %s: must be from 1s to 10m", cfg.ReconnectGrace)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", logLevel)
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		return fmt.Errorf("invalid --log-format %q: use text or json", cfg.LogFormat)
	}
	if cfg.JoinRate <= 0 || cfg.JoinRate > 100000 {
		return fmt.Errorf("invalid --join-rate %g: must be above 0 and at most 100000", cfg.JoinRate)
	}
	if cfg.JoinBurst < 1 || cfg.JoinBurst > 100000 {
		return fmt.Errorf("invalid --join-burst %d: must be from 1 to 100000", cfg.JoinBurst)
	}
	if cfg.DebugListen != "" {
		if _, _, err := net.SplitHostPort(cfg.DebugListen); err != nil {
			return fmt.Errorf("invalid --debug-listen %q: want host:port, like 127.0.0.1:6060", cfg.DebugListen)
		}
	}
	if !(cfg.SimulateLoss >= 0 && cfg.SimulateLoss <= 50) {
		return fmt.Errorf("invalid --rtc-simulate-loss %g: must be a percentage from 0 to 50", cfg.SimulateLoss)
	}
	if cfg.LastN < 0 || cfg.LastN > 1000 {
		return fmt.Errorf("invalid --last-n %d: must be from 0 (no limit) to 1000", cfg.LastN)
	}
	if cfg.SMTP != "" {
		if _, err := mail.ParseRelay(cfg.SMTP); err != nil {
			return fmt.Errorf("invalid %v", err) // ParseRelay's errors start with "--smtp:"
		}
	}
	if cfg.MailFrom != "" {
		if _, err := netmail.ParseAddress(cfg.MailFrom); err != nil || strings.ContainsAny(cfg.MailFrom, "\r\n") {
			return fmt.Errorf("invalid --mail-from %q: want an address such as salon@example.org or \"Meetings <salon@example.org>\"", cfg.MailFrom)
		}
	}
	if cfg.Redis != "" {
		c, err := roomstate.NewRedisClient(cfg.Redis)
		if err != nil {
			return fmt.Errorf("invalid --redis: %v", err)
		}
		_ = c.Close() // only parsed: go-redis dials on first use
	}
	if cfg.InboundListen != "" {
		if _, _, _, err := mail.ParseInboundAddr(cfg.InboundListen); err != nil {
			return fmt.Errorf("invalid --inbound-listen: %v", err)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newLogger(cfg *serveConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
