package loadtest

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is one load test: where salon is, which rooms, who is in each room
// and what they send.
type Config struct {
	// URL is salon's base URL, as a browser would open it.
	URL string
	// Meetings are the slugs of existing meetings, one room each.
	Meetings []string
	// Rooms, when Meetings is empty, is how many meetings to create with
	// POST /api/v1/meetings as User (Basic auth with Password).
	Rooms          int
	User, Password string

	// Per room. The first max(VideoPublishers, AudioPublishers)
	// participants publish: participant i sends camera video when
	// i < VideoPublishers and microphone audio when i < AudioPublishers.
	// Subscribers only receive. Everyone receives everyone else's tracks.
	VideoPublishers int
	AudioPublishers int
	// Speaking is how many of a room's audio publishers talk (voice
	// activity set, a speech-like level); the others send silence.
	Speaking    int
	Subscribers int

	Duration time.Duration // the measurement window
	Warmup   time.Duration // between the last join and the window
	RampUp   time.Duration // joins of each phase spread over this time
	// JoinTimeout bounds one join: token, socket, joined, connections.
	JoinTimeout time.Duration

	// Loss is the fraction of RTP packets dropped on purpose: by
	// publishers before sending and by receivers after reading, before
	// they are counted.
	Loss float64
	Seed uint64 // seeds the loss and level generators

	// Tile is the size of every video tile a receiver reports in view
	// messages; Hidden is the fraction of tiles reported as not visible.
	TileWidth, TileHeight int
	Hidden                float64

	// Video of each camera publisher: the full layer; with Simulcast the
	// half (h) and quarter (q) layers are sent too, with 3/8 and 1/8 of
	// the full layer's bitrate.
	Simulcast        bool
	Width, Height    int
	FPS              int
	VideoKbps        int // full layer
	KeyframeInterval time.Duration
	AudioKbps        int

	// CongestionFeedback makes receivers send transport-wide congestion
	// control feedback, as browsers do; salon estimates their bandwidth
	// from it.
	CongestionFeedback bool

	// ServerPID, when set, is where salon's CPU time and memory are read
	// (/proc); otherwise they come from {URL}/metrics.
	ServerPID int
	// Loopback gathers ICE candidates on loopback only (UDP4, no mDNS):
	// what a test inside a loopback-only network namespace needs.
	Loopback bool
	JSON     bool
	// Verbose logs every participant's steps and pion's own messages.
	Verbose bool
}

// DefaultConfig is what `salon loadtest` does with no flags but a meeting.
func DefaultConfig() Config {
	return Config{
		URL: "http://127.0.0.1:8080", VideoPublishers: 1, Speaking: 1, Subscribers: 10,
		Duration: 30 * time.Second, Warmup: 10 * time.Second, JoinTimeout: 20 * time.Second,
		Seed: 1, TileWidth: 640, TileHeight: 360,
		Simulcast: true, Width: 640, Height: 360, FPS: 30, VideoKbps: 800,
		KeyframeInterval: 3 * time.Second, AudioKbps: 32, CongestionFeedback: true,
	}
}

// Usage is printed by `salon loadtest --help` before the flags.
const Usage = `Usage: salon loadtest (--meeting SLUG | --rooms N --user NAME --password PW) [flags]

Simulated participants join salon's meetings like the room page does,
publish synthetic VP8 simulcast video and Opus audio, receive everyone
else, and report join-to-first-frame times, loss, freezes and the server's
CPU and memory cost. docs/loadtest.md explains the flags and the report.

Flags:
`

// ParseFlags reads the command line of `salon loadtest` (without the
// subcommand name). Errors name the flag; flag.ErrHelp is returned for
// --help after the usage was written to stderr.
func ParseFlags(args []string, stderr io.Writer) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("salon loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, Usage)
		fs.PrintDefaults()
	}
	var meetings listFlag
	var tile, size sizeFlag = sizeFlag{&cfg.TileWidth, &cfg.TileHeight}, sizeFlag{&cfg.Width, &cfg.Height}
	fs.StringVar(&cfg.URL, "url", cfg.URL, "salon's base URL")
	fs.Var(&meetings, "meeting", "slug of a meeting to load, one room each (repeatable, or a comma-separated list)")
	fs.IntVar(&cfg.Rooms, "rooms", 0, "create this many meetings (POST /api/v1/meetings as --user) instead of --meeting")
	fs.StringVar(&cfg.User, "user", "", "salon account that creates the meetings of --rooms")
	fs.StringVar(&cfg.Password, "password", "", "password (or app password) of --user")
	fs.IntVar(&cfg.VideoPublishers, "video-publishers", cfg.VideoPublishers, "participants per room that send camera video")
	fs.IntVar(&cfg.AudioPublishers, "audio-publishers", cfg.AudioPublishers, "participants per room that send microphone audio (the first video publishers send both)")
	fs.IntVar(&cfg.Speaking, "speaking", cfg.Speaking, "audio publishers per room whose audio carries voice activity")
	fs.IntVar(&cfg.Subscribers, "subscribers", cfg.Subscribers, "participants per room that only receive")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the measurement window")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "time between the last join and the measurement window")
	fs.DurationVar(&cfg.RampUp, "ramp-up", cfg.RampUp, "spread the joins of each phase (publishers, then subscribers) over this time")
	fs.DurationVar(&cfg.JoinTimeout, "join-timeout", cfg.JoinTimeout, "give up on a join (token, socket, connections) after this time")
	fs.Float64Var(&cfg.Loss, "loss", 0, "fraction of RTP packets dropped on purpose, by publishers before sending and by receivers before counting")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the loss and audio-level generators")
	fs.Var(tile, "tile", "size of each video tile receivers report to salon (WIDTHxHEIGHT)")
	fs.Float64Var(&cfg.Hidden, "hidden", 0, "fraction of video tiles receivers report as not visible")
	fs.BoolVar(&cfg.Simulcast, "simulcast", cfg.Simulcast, "send three VP8 layers (RIDs q, h, f); false sends the full layer only")
	fs.Var(size, "video-size", "size of the full video layer (WIDTHxHEIGHT)")
	fs.IntVar(&cfg.FPS, "fps", cfg.FPS, "video frames per second")
	fs.IntVar(&cfg.VideoKbps, "video-kbps", cfg.VideoKbps, "bitrate of the full video layer in kbit/s (h gets 3/8 of it, q 1/8)")
	fs.DurationVar(&cfg.KeyframeInterval, "keyframe-interval", cfg.KeyframeInterval, "time between periodic keyframes (more are sent on PLI/FIR)")
	fs.IntVar(&cfg.AudioKbps, "audio-kbps", cfg.AudioKbps, "Opus bitrate in kbit/s (20 ms frames)")
	fs.BoolVar(&cfg.CongestionFeedback, "congestion-feedback", cfg.CongestionFeedback, "receivers send transport-wide congestion control feedback (salon estimates their bandwidth from it); false: none, and salon makes no estimate")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "read salon's CPU time and memory from /proc/PID (default: scrape {url}/metrics)")
	fs.BoolVar(&cfg.Loopback, "loopback", false, "gather ICE candidates on loopback only (UDP4, no mDNS), for loopback-only network namespaces")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&cfg.Verbose, "verbose", false, "log every participant's steps and pion's own messages")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, &SyntaxError{err}
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("loadtest takes no arguments, got %q (meetings go in --meeting)", fs.Args())
	}
	cfg.Meetings = meetings
	return cfg, cfg.Validate()
}

// Validate checks every value; errors name the flag and say what to do.
func (c *Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("invalid --url %q: want salon's base URL, such as http://127.0.0.1:8080", c.URL)
	}
	c.URL = strings.TrimSuffix(u.String(), "/")
	switch {
	case len(c.Meetings) > 0 && c.Rooms > 0:
		return errors.New("give either --meeting or --rooms, not both")
	case len(c.Meetings) == 0 && c.Rooms == 0:
		return errors.New("no room to load: give --meeting SLUG (an existing meeting) or --rooms N with --user and --password")
	case c.Rooms < 0 || c.Rooms > 1000:
		return fmt.Errorf("invalid --rooms %d: must be from 1 to 1000", c.Rooms)
	case c.Rooms > 0 && (c.User == "" || c.Password == ""):
		return errors.New("--rooms creates meetings and needs --user and --password of a salon account")
	}
	for _, m := range c.Meetings {
		if m == "" || strings.ContainsAny(m, "/?#% ") {
			return fmt.Errorf("invalid --meeting %q: want the slug at the end of the meeting link (/m/SLUG)", m)
		}
	}
	counts := []struct {
		name string
		v    int
	}{{"--video-publishers", c.VideoPublishers}, {"--audio-publishers", c.AudioPublishers}, {"--subscribers", c.Subscribers}}
	for _, n := range counts {
		if n.v < 0 || n.v > 1000 {
			return fmt.Errorf("invalid %s %d: must be from 0 to 1000", n.name, n.v)
		}
	}
	if c.PerRoom() < 1 {
		return errors.New("nobody to join: give --video-publishers, --audio-publishers or --subscribers")
	}
	if c.Speaking < 0 || c.Speaking > 1000 {
		return fmt.Errorf("invalid --speaking %d: must be from 0 to 1000 (at most --audio-publishers of them speak)", c.Speaking)
	}
	if c.Duration < time.Second || c.Duration > 24*time.Hour {
		return fmt.Errorf("invalid --duration %s: must be from 1s to 24h", c.Duration)
	}
	if c.Warmup < 0 || c.Warmup > time.Hour {
		return fmt.Errorf("invalid --warmup %s: must be from 0 to 1h", c.Warmup)
	}
	if c.RampUp < 0 || c.RampUp > time.Hour {
		return fmt.Errorf("invalid --ramp-up %s: must be from 0 to 1h", c.RampUp)
	}
	if c.JoinTimeout < time.Second || c.JoinTimeout > 10*time.Minute {
		return fmt.Errorf("invalid --join-timeout %s: must be from 1s to 10m", c.JoinTimeout)
	}
	if !(c.Loss >= 0 && c.Loss <= 0.5) { // also refuses NaN
		return fmt.Errorf("invalid --loss %v: must be a fraction from 0 to 0.5, such as 0.05", c.Loss)
	}
	if !(c.Hidden >= 0 && c.Hidden <= 1) {
		return fmt.Errorf("invalid --hidden %v: must be a fraction from 0 to 1", c.Hidden)
	}
	if err := checkSize("--tile", c.TileWidth, c.TileHeight); err != nil {
		return err
	}
	if err := checkSize("--video-size", c.Width, c.Height); err != nil {
		return err
	}
	if c.Simulcast && (c.Width < 64 || c.Height < 64) {
		return fmt.Errorf("invalid --video-size %dx%d: simulcast needs at least 64x64 (the q layer is a quarter of it)", c.Width, c.Height)
	}
	if c.FPS < 1 || c.FPS > 60 {
		return fmt.Errorf("invalid --fps %d: must be from 1 to 60", c.FPS)
	}
	if c.VideoKbps < 30 || c.VideoKbps > 20000 {
		return fmt.Errorf("invalid --video-kbps %d: must be from 30 to 20000", c.VideoKbps)
	}
	if c.KeyframeInterval < 100*time.Millisecond || c.KeyframeInterval > 10*time.Minute {
		return fmt.Errorf("invalid --keyframe-interval %s: must be from 100ms to 10m", c.KeyframeInterval)
	}
	if c.AudioKbps < 6 || c.AudioKbps > 510 {
		return fmt.Errorf("invalid --audio-kbps %d: must be from 6 to 510 (Opus)", c.AudioKbps)
	}
	if c.ServerPID < 0 {
		return fmt.Errorf("invalid --server-pid %d: want the process id of salon serve", c.ServerPID)
	}
	return nil
}

// PerRoom is how many participants join each room.
func (c *Config) PerRoom() int { return c.Publishers() + c.Subscribers }

// Publishers is how many participants of a room publish something.
func (c *Config) Publishers() int { return max(c.VideoPublishers, c.AudioPublishers) }

// RoomCount is how many rooms the test loads.
func (c *Config) RoomCount() int {
	if len(c.Meetings) > 0 {
		return len(c.Meetings)
	}
	return c.Rooms
}

func checkSize(name string, w, h int) error {
	if w < 16 || h < 16 || w > 7680 || h > 4320 {
		return fmt.Errorf("invalid %s %dx%d: width from 16 to 7680, height from 16 to 4320", name, w, h)
	}
	return nil
}

// SyntaxError is a command line the flag package could not read; it has
// already written the problem and the usage to stderr.
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string { return e.Err.Error() }
func (e *SyntaxError) Unwrap() error { return e.Err }

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// sizeFlag reads WIDTHxHEIGHT.
type sizeFlag struct{ w, h *int }

func (s sizeFlag) String() string {
	if s.w == nil {
		return ""
	}
	return fmt.Sprintf("%dx%d", *s.w, *s.h)
}

func (s sizeFlag) Set(v string) error {
	ws, hs, ok := strings.Cut(strings.ToLower(v), "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("want WIDTHxHEIGHT, such as 640x360")
	}
	*s.w, *s.h = w, h
	return nil
}
