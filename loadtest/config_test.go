package loadtest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cfg, err := ParseFlags([]string{"--url", "http://127.0.0.1:9000/", "--meeting", "a-b,c-d", "--meeting", "e-f",
		"--video-publishers", "8", "--audio-publishers", "8", "--subscribers", "0", "--tile", "320x180",
		"--hidden", "0.25", "--loss", "0.05", "--video-size", "1280x720", "--ramp-up", "5s", "--simulcast=false"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://127.0.0.1:9000" {
		t.Errorf("url %q: the trailing slash stays", cfg.URL)
	}
	if strings.Join(cfg.Meetings, " ") != "a-b c-d e-f" {
		t.Errorf("meetings %q", cfg.Meetings)
	}
	if cfg.PerRoom() != 8 || cfg.Publishers() != 8 {
		t.Errorf("8 video and 8 audio publishers are 8 participants sending both: %d per room", cfg.PerRoom())
	}
	if cfg.TileWidth != 320 || cfg.TileHeight != 180 || cfg.Width != 1280 || cfg.Height != 720 {
		t.Errorf("sizes: tile %dx%d, video %dx%d", cfg.TileWidth, cfg.TileHeight, cfg.Width, cfg.Height)
	}
	if cfg.Hidden != 0.25 || cfg.Loss != 0.05 || cfg.RampUp != 5*time.Second || cfg.Simulcast {
		t.Errorf("%+v", cfg)
	}
}

func TestFlagErrorsNameTheFlag(t *testing.T) {
	base := []string{"--meeting", "abc"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "ftp://x", "--meeting", "a"}, "--url"},
		{[]string{"--url", "127.0.0.1:8080", "--meeting", "a"}, "--url"},
		{nil, "--meeting"},
		{[]string{"--meeting", "a", "--rooms", "2"}, "--rooms"},
		{[]string{"--rooms", "2"}, "--user"},
		{[]string{"--rooms", "-1"}, "--rooms"},
		{[]string{"--meeting", "m/abc"}, "--meeting"},
		{append([]string{"--subscribers", "-1"}, base...), "--subscribers"},
		{append([]string{"--video-publishers", "1001"}, base...), "--video-publishers"},
		{append([]string{"--video-publishers", "0", "--subscribers", "0"}, base...), "--subscribers"},
		{append([]string{"--speaking", "-2"}, base...), "--speaking"},
		{append([]string{"--duration", "10ms"}, base...), "--duration"},
		{append([]string{"--warmup", "-1s"}, base...), "--warmup"},
		{append([]string{"--ramp-up", "-1s"}, base...), "--ramp-up"},
		{append([]string{"--join-timeout", "0s"}, base...), "--join-timeout"},
		{append([]string{"--loss", "0.9"}, base...), "--loss"},
		{append([]string{"--loss", "NaN"}, base...), "--loss"},
		{append([]string{"--hidden", "2"}, base...), "--hidden"},
		{append([]string{"--tile", "640"}, base...), "tile"},
		{append([]string{"--tile", "4x4"}, base...), "--tile"},
		{append([]string{"--video-size", "32x32"}, base...), "--video-size"},
		{append([]string{"--fps", "0"}, base...), "--fps"},
		{append([]string{"--video-kbps", "5"}, base...), "--video-kbps"},
		{append([]string{"--audio-kbps", "1000"}, base...), "--audio-kbps"},
		{append([]string{"--keyframe-interval", "1ms"}, base...), "--keyframe-interval"},
		{append([]string{"--server-pid", "-5"}, base...), "--server-pid"},
		{append([]string{"--frobnicate"}, base...), "frobnicate"},
		{append([]string{"stray"}, base...), "--meeting"},
	} {
		_, err := ParseFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}

func TestSyntaxErrorsAreMarked(t *testing.T) {
	_, err := ParseFlags([]string{"--fps", "many", "--meeting", "a"}, io.Discard)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("a value the flag package cannot read: %T %v, want a *SyntaxError", err, err)
	}
	_, err = ParseFlags([]string{"--fps", "0", "--meeting", "a"}, io.Discard)
	if errors.As(err, &se) {
		t.Errorf("a value out of range is not a syntax error: %v", err)
	}
}
