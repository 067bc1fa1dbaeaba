package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestSimulcastFollowsTileSize: Ada's browser sends its 720p camera as
// three layers. Bob's tile of her is small, then large, then hidden; the
// resolution Bob's browser decodes follows (getStats frameWidth), and a
// hidden tile receives nothing.
func TestSimulcastFollowsTileSize(t *testing.T) {
	srv := startSalon(t)
	browser := newBrowser(t)
	shots := artifactsDir(t)
	room := srv.demo

	ada := join(t, browser, room, "Ada")
	bob := join(t, browser, room, "Bob")
	t.Cleanup(func() {
		if t.Failed() {
			bob.screenshot(shots, "simulcast")
		}
	})
	bob.waitMediaFrom(ada)

	width := func() int {
		s := bob.stats()[ada.id]
		return int(s.VideoWidth)
	}
	waitWidth := func(what string, ok func(int) bool) {
		t.Helper()
		start := time.Now()
		deadline := start.Add(60 * time.Second)
		for {
			w := width()
			if ok(w) {
				t.Logf("%s: Bob decodes Ada at %d px wide after %s", what, w, time.Since(start).Round(100*time.Millisecond))
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: Bob still decodes Ada at %d px wide after 60 s (views sent: %s)", what, w,
					bob.evalString(`JSON.stringify(window.salon.connection._view || [])`))
			}
			_ = ctxWait(bob.ctx, 300*time.Millisecond)
		}
	}

	// A large window: Ada's tile is about 950 px wide, the full layer.
	bob.viewport(1920, 1080)
	waitWidth("large tile", func(w int) bool { return w >= 1280 })

	// A small, wide window: a 16:9 thumbnail needs only the lowest layer.
	// (A taller tile crops the sides of the picture and needs more.)
	bob.viewport(640, 260)
	waitWidth("small tile", func(w int) bool { return w > 0 && w <= 320 })

	// Ada's tile hidden: her video stops coming, her audio does not.
	bob.viewport(1920, 1080)
	waitWidth("large again", func(w int) bool { return w >= 1280 })
	if _, err := bob.evalJSON(fmt.Sprintf(`(() => { %s.style.display = 'none'; return true; })()`, tileSel(ada.id))); err != nil {
		t.Fatal(err)
	}
	bob.waitTrue(20*time.Second, "Ada's camera reported paused as hidden",
		fmt.Sprintf(`%s.dataset.paused === 'hidden'`, tileSel(ada.id)))
	before := bob.stats()[ada.id]
	_ = ctxWait(bob.ctx, 2*time.Second)
	after := bob.stats()[ada.id]
	// Frames already in flight may still decode; after that, nothing.
	if after.VideoFramesDecoded > before.VideoFramesDecoded+5 {
		t.Errorf("a hidden tile still decodes video: %v then %v frames", before.VideoFramesDecoded, after.VideoFramesDecoded)
	}
	if after.AudioBytesReceived <= before.AudioBytesReceived {
		t.Errorf("audio stopped with the video: %v then %v bytes", before.AudioBytesReceived, after.AudioBytesReceived)
	}
	// Shown again: video comes back.
	if _, err := bob.evalJSON(fmt.Sprintf(`(() => { %s.style.display = ''; return true; })()`, tileSel(ada.id))); err != nil {
		t.Fatal(err)
	}
	bob.waitTrue(30*time.Second, "Ada's video again",
		fmt.Sprintf(`!%s.dataset.paused`, tileSel(ada.id)))
	start := bob.stats()[ada.id].VideoFramesDecoded
	deadline := time.Now().Add(30 * time.Second)
	for bob.stats()[ada.id].VideoFramesDecoded < start+30 {
		if time.Now().After(deadline) {
			t.Fatal("Ada's video did not come back after her tile was shown again")
		}
		_ = ctxWait(bob.ctx, 300*time.Millisecond)
	}
}

// viewport resizes the participant's page as if its window changed size.
func (p *participant) viewport(w, h int64) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride,
			emulation.SetDeviceMetricsOverrideParams{Width: w, Height: h, DeviceScaleFactor: 1})
		return err
	}))
	if err != nil {
		p.t.Fatalf("%s: resize to %dx%d: %v", p.name, w, h, err)
	}
}
