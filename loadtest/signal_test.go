package loadtest

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestDecodeServerMessage(t *testing.T) {
	for _, tc := range []struct {
		in    string
		check func(serverMsg) bool
	}{
		{`{"type":"joined","protocol":1,"self":{"id":"p1","name":"A"},"participants":[]}`,
			func(m serverMsg) bool { return m.Self == "p1" }},
		{`{"type":"offer","pc":"subscribe","sdp":"v=0","tracks":{"0":{"participant":"p2","source":"camera"}}}`,
			func(m serverMsg) bool { return m.PC == "subscribe" && m.Tracks["0"] == trackRef{"p2", "camera"} }},
		{`{"type":"candidate","pc":"publish","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}}`,
			func(m serverMsg) bool { return m.PC == "publish" && m.Candidate != nil && *m.Candidate.SDPMid == "0" }},
		{`{"type":"candidate","pc":"subscribe","candidate":null}`,
			func(m serverMsg) bool { return m.Candidate == nil }},
		{`{"type":"error","code":"unknown-type","message":"no","fatal":false,"ref":"view"}`,
			func(m serverMsg) bool { return m.Code == "unknown-type" && m.Ref == "view" && !m.Fatal }},
		{`{"type":"layers","source":"camera","active":["q","h"]}`,
			func(m serverMsg) bool { return m.Source == "camera" && strings.Join(m.Active, ",") == "q,h" }},
		{`{"type":"speakers","speakers":["a","b",3]}`,
			func(m serverMsg) bool { return m.Speakers == 3 }},
		{`{"type":"paused","tracks":[{"participant":"p2","source":"camera","reason":"bandwidth"}]}`,
			func(m serverMsg) bool { return len(m.Paused) == 1 && m.Paused[0].Reason == "bandwidth" }},
		{`{"type":"something-new","whatever":[1,2,3]}`,
			func(m serverMsg) bool { return m.Type == "something-new" }},
		{`{"type":"bye","reason":"server-shutdown","extra":true}`,
			func(m serverMsg) bool { return m.Reason == "server-shutdown" }},
	} {
		m, err := decodeServerMessage([]byte(tc.in))
		if err != nil || !tc.check(m) {
			t.Errorf("%s: %+v, %v", tc.in, m, err)
		}
	}
	for _, bad := range []string{``, `[]`, `"joined"`, `{}`, `{"type":""}`, `{"type":"layers","active":"q"}`, `{"type":7}`} {
		if _, err := decodeServerMessage([]byte(bad)); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestClientMessagesOnTheWire(t *testing.T) {
	b, _ := json.Marshal(viewMsg{Type: "view", Tracks: []viewTile{{Participant: "p", Source: "camera", Width: 640, Height: 360, Visible: true}}})
	want := `{"type":"view","tracks":[{"participant":"p","source":"camera","width":640,"height":360,"visible":true}]}`
	if string(b) != want {
		t.Errorf("view = %s, want %s", b, want)
	}
	b, _ = json.Marshal(candidateMsg{Type: "candidate", PC: "publish"})
	if string(b) != `{"type":"candidate","pc":"publish","candidate":null}` {
		t.Errorf("end of candidates = %s", b)
	}
}

func TestVisibleFollowsHidden(t *testing.T) {
	r := &runner{cfg: DefaultConfig()}
	r.cfg.Hidden = 0.3
	hidden := 0
	for i := range 1000 {
		p := &participant{r: r, name: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
		ref := trackRef{Participant: "pub", Source: "camera"}
		if !p.visible(ref) {
			hidden++
		}
		if p.visible(ref) != p.visible(ref) {
			t.Fatal("visibility changes between calls")
		}
	}
	if hidden < 230 || hidden > 370 {
		t.Errorf("%d of 1000 tiles hidden with --hidden 0.3", hidden)
	}
}

func TestReportWithoutSamples(t *testing.T) {
	rep := &Report{Server: &ServerReport{Error: "not measured"}}
	rep.FirstFrame.fill(nil)
	rep.FirstKey.fill([]float64{120, 80})
	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatalf("JSON with missing percentiles: %v", err)
	}
	var back struct {
		JoinToFirstFrame    map[string]any `json:"joinToFirstFrame"`
		JoinToFirstKeyframe map[string]any `json:"joinToFirstKeyframe"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.JoinToFirstFrame["p50Ms"] != nil || back.JoinToFirstKeyframe["p99Ms"] != 120.0 {
		t.Errorf("percentiles in JSON: %v %v", back.JoinToFirstFrame, back.JoinToFirstKeyframe)
	}
	if !math.IsNaN(float64(rep.FirstFrame.P50Ms)) {
		t.Errorf("no samples: p50 %v", rep.FirstFrame.P50Ms)
	}
}
