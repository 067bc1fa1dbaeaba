package e2e

import (
	"testing"
	"time"
)

// TestAudioThroughTenPercentLoss: salon loses 10 % of the media packets
// on each link (--rtc-simulate-loss: Ada to salon, then salon to Bob; about
// 19 % end to end), and Bob listens to Ada. The share of audio Bob's
// decoder has to make up (getStats concealedSamples) must stay well below
// the share of packets lost: Ada's browser sends redundant audio (RED),
// which salon forwards as it is, and Opus in-band FEC once salon's
// receiver reports tell Ada's encoder about the loss.
func TestAudioThroughTenPercentLoss(t *testing.T) {
	srv := startSalon(t, "--rtc-simulate-loss", "10")
	browser := newBrowser(t)
	room := srv.demo

	ada := join(t, browser, room, "Ada")
	bob := join(t, browser, room, "Bob")
	bob.waitMediaFrom(ada)

	first := bob.stats()[ada.id]
	if err := ctxWait(bob.ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	last := bob.stats()[ada.id]
	recv := last.AudioPacketsReceived - first.AudioPacketsReceived
	lost := last.AudioPacketsLost - first.AudioPacketsLost
	total := last.AudioTotalSamples - first.AudioTotalSamples
	concealed := last.AudioConcealedSamples - first.AudioConcealedSamples
	t.Logf("over 20 s Bob received %.0f audio packets and lost %.0f (%.1f %%); concealed %.0f of %.0f samples (%.2f %%)",
		recv, lost, 100*lost/(recv+lost), concealed, total, 100*concealed/total)
	if recv < 500 || total == 0 {
		t.Fatalf("Bob received too little audio to judge: %+v then %+v", first, last)
	}
	if lost/(recv+lost) < 0.1 {
		t.Fatalf("only %.0f of %.0f packets were lost: the loss under test did not happen", lost, recv+lost)
	}
	if concealed/total > 0.5*lost/(recv+lost) {
		t.Errorf("Bob's decoder concealed %.1f %% of the audio with %.1f %% of the packets lost, want under half of that",
			100*concealed/total, 100*lost/(recv+lost))
	}
}
