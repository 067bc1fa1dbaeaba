package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts one headless Chromium with fake camera and microphone
// (flags from ../shared/TESTING.md). Participants are separate browser
// contexts of it: much cheaper than one browser each.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s not found: install the Debian package chromium (make test does)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// getDisplayMedia picks a screen without a picker.
		chromedp.Flag("auto-select-desktop-capture-source", "Entire screen"),
		chromedp.Flag("auto-accept-this-tab-capture", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		_ = chromedp.Cancel(browserCtx)
		cancelBrowser()
		cancelAlloc()
	})
	return browserCtx
}

// participant is one browser context showing the room.
type participant struct {
	t    *testing.T
	name string
	ctx  context.Context
	id   string
}

func join(t *testing.T, browser context.Context, roomURL, name string) *participant {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &participant{t: t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate(roomURL+"?prejoin=0&name="+name)); err != nil {
		t.Fatalf("%s: open room: %v", name, err)
	}
	p.waitTrue(60*time.Second, "connected", `window.salon && window.salon.state() === "connected" && !!window.salon.self()`)
	p.id = p.evalString(`window.salon.self()`)
	return p
}

// evalJSON evaluates expr (awaiting a promise) and returns its JSON value.
func (p *participant) evalJSON(expr string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
}

func (p *participant) evalBool(expr string) (bool, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
}

func (p *participant) evalString(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, expr, err)
	}
	return s
}

// waitTrue polls a JavaScript expression until it is true.
func (p *participant) waitTrue(d time.Duration, what, expr string) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for {
		var ok bool
		if ok, last = p.evalBool("!!(" + expr + ")"); last == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: timed out after %s waiting for %s (%s; last error %v)", p.name, d, what, expr, last)
		}
		_ = ctxWait(p.ctx, 200*time.Millisecond)
	}
}

func (p *participant) click(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		p.t.Fatalf("%s: click %s: %v", p.name, sel, err)
	}
}

func (p *participant) screenshot(dir, label string) {
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("%s: screenshot: %v", p.name, err)
		return
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", label, p.name))
	if err := os.WriteFile(path, png, 0o644); err == nil {
		p.t.Logf("screenshot %s", path)
	}
}

// mediaStats is what window.salon.stats() says about one remote participant.
type mediaStats struct {
	VideoFramesDecoded float64 `json:"videoFramesDecoded"`
	AudioBytesReceived float64 `json:"audioBytesReceived"`
	VideoWidth         float64 `json:"videoWidth"`
	VideoHeight        float64 `json:"videoHeight"`
	// audio quality (inbound-rtp): packets lost on the way, and the samples
	// the decoder had to invent for them
	AudioPacketsReceived  float64 `json:"audioPacketsReceived"`
	AudioPacketsLost      float64 `json:"audioPacketsLost"`
	AudioTotalSamples     float64 `json:"audioTotalSamples"`
	AudioConcealedSamples float64 `json:"audioConcealedSamples"`
}

func (p *participant) stats() map[string]mediaStats {
	p.t.Helper()
	raw, err := p.evalJSON(`window.salon.stats()`)
	if err != nil {
		p.t.Fatalf("%s: stats: %v", p.name, err)
	}
	out := map[string]mediaStats{}
	if err := json.Unmarshal(raw, &out); err != nil {
		p.t.Fatalf("%s: stats %s: %v", p.name, raw, err)
	}
	return out
}

// waitMediaFrom waits until p decodes video and receives audio from each of
// the others, and both keep growing.
func (p *participant) waitMediaFrom(others ...*participant) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	first := map[string]mediaStats{}
	for {
		s := p.stats()
		done := true
		for _, o := range others {
			got := s[o.id]
			base, seen := first[o.id]
			if !seen {
				if got.VideoFramesDecoded > 0 && got.AudioBytesReceived > 0 {
					first[o.id] = got
				}
				done = false
				continue
			}
			if got.VideoFramesDecoded <= base.VideoFramesDecoded || got.AudioBytesReceived <= base.AudioBytesReceived {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no growing video and audio from every other participant within 60 s: %+v", p.name, s)
		}
		_ = ctxWait(p.ctx, 500*time.Millisecond)
	}
}

func tileSel(id string) string {
	return fmt.Sprintf(`document.querySelector('.tile[data-participant="%s"]:not([data-source="screen"])')`, id)
}

func TestRoomWithThreeBrowsers(t *testing.T) {
	srv := startSalon(t)
	browser := newBrowser(t)
	shots := artifactsDir(t)

	alice := join(t, browser, srv.demo, "Alice")
	bob := join(t, browser, srv.demo, "Bob")
	carol := join(t, browser, srv.demo, "Carol")
	everyone := []*participant{alice, bob, carol}

	t.Run("everyone sees and hears the two others", func(t *testing.T) {
		for _, p := range everyone {
			var others []*participant
			for _, o := range everyone {
				if o != p {
					others = append(others, o)
				}
			}
			p.waitMediaFrom(others...)
			for _, o := range others {
				p.waitTrue(10*time.Second, "a tile for "+o.name, tileSel(o.id))
			}
		}
		for _, p := range everyone {
			p.screenshot(shots, "room")
		}
	})

	t.Run("muting shows in the others", func(t *testing.T) {
		alice.click("#toggle-audio")
		for _, p := range []*participant{bob, carol} {
			p.waitTrue(10*time.Second, "Alice shown muted", tileSel(alice.id)+`?.dataset.audioMuted === "true"`)
		}
		alice.click("#toggle-audio")
		bob.waitTrue(10*time.Second, "Alice shown unmuted", tileSel(alice.id)+`?.dataset.audioMuted === "false"`)
	})

	t.Run("a screen share reaches the others", func(t *testing.T) {
		alice.click("#toggle-screen")
		screenTile := fmt.Sprintf(`document.querySelector('.tile[data-participant="%s"][data-source="screen"]')`, alice.id)
		for _, p := range []*participant{bob, carol} {
			p.waitTrue(20*time.Second, "Alice's screen tile", screenTile)
			p.waitTrue(20*time.Second, "Alice's screen decoded",
				fmt.Sprintf(`window.salon.stats().then(s => (s[%q]?.screenFramesDecoded || 0) > 0)`, alice.id))
			p.waitTrue(10*time.Second, "Alice shown sharing", tileSel(alice.id)+`?.dataset.screen === "true"`)
		}
		bob.screenshot(shots, "screen-share")
		alice.click("#toggle-screen")
		for _, p := range []*participant{bob, carol} {
			p.waitTrue(20*time.Second, "Alice's screen tile gone", "!"+screenTile)
		}
	})

	t.Run("leaving removes the tile", func(t *testing.T) {
		carol.click("#leave")
		for _, p := range []*participant{alice, bob} {
			p.waitTrue(15*time.Second, "Carol's tile gone", "!"+tileSel(carol.id))
		}
	})

	t.Run("a reload rejoins", func(t *testing.T) {
		oldID := bob.id
		ctx, cancel := context.WithTimeout(bob.ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
			t.Fatalf("reload: %v", err)
		}
		bob.waitTrue(60*time.Second, "connected after reload", `window.salon && window.salon.state() === "connected" && !!window.salon.self()`)
		bob.id = bob.evalString(`window.salon.self()`)
		alice.waitTrue(15*time.Second, "Bob's old tile gone", "!"+tileSel(oldID))
		alice.waitTrue(15*time.Second, "Bob's new tile", tileSel(bob.id))
		bob.waitMediaFrom(alice)
		alice.waitMediaFrom(bob)
		bob.screenshot(shots, "after-reload")
	})

	t.Run("shutdown tells the browsers", func(t *testing.T) {
		srv.stop()
		alice.waitTrue(15*time.Second, "a reconnecting state", `["reconnecting","disconnected"].includes(window.salon.state())`)
		alice.screenshot(shots, "server-gone")
	})
}
