package loadtest

import (
	"encoding/json"
	"testing"
)

// Everything salon sends the load tester is read by code that must not
// panic, whatever the bytes: signalling messages, /metrics, RTP and RTCP.

func FuzzDecodeServerMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"joined","self":{"id":"p1"}}`,
		`{"type":"offer","pc":"subscribe","sdp":"v=0","tracks":{"0":{"participant":"p","source":"camera"}}}`,
		`{"type":"candidate","pc":"publish","candidate":null}`,
		`{"type":"layers","source":"camera","active":["q"]}`,
		`{"type":"speakers","speakers":["a"]}`,
		`{"type":"paused","tracks":[{"participant":"p","source":"camera","reason":"hidden"}]}`,
		`{"type":"error","code":"x","fatal":true}`,
		`{"type":"offer","tracks":{"0":7}}`,
		`[1,2]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeServerMessage(data)
		if err == nil && m.Type == "" {
			t.Fatalf("decoded a message without a type from %q", data)
		}
		if err == nil && !json.Valid(data) {
			t.Fatalf("decoded invalid JSON %q", data)
		}
	})
}

func FuzzParseMetrics(f *testing.F) {
	f.Add([]byte(exposition))
	f.Add([]byte("process_cpu_seconds_total{a=\"\\\"}\"} 1\n"))
	f.Add([]byte("process_resident_memory_bytes +Inf\nprocess_cpu_seconds_total NaN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for name := range parseMetrics(data, wantedMetrics...) {
			found := false
			for _, w := range wantedMetrics {
				found = found || w == name
			}
			if !found {
				t.Fatalf("returned %q, which was not asked for", name)
			}
		}
	})
}

func FuzzParseVP8(f *testing.F) {
	e := newVP8Encoder(640, 360, 4000, 1)
	frame := e.frame(3000, true)
	p, _ := e.packet(frame, 0)
	f.Add(append([]byte(nil), p...))
	f.Add([]byte{0x90, 0xe0, 0x81, 0x02, 0x07, 0x20, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01})
	f.Add([]byte{0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, ok := parseVP8(data)
		if ok && info.keyframe && !info.start {
			t.Fatalf("a keyframe that does not start a frame: %+v", info)
		}
		if info.pictureID > 0x7fff {
			t.Fatalf("picture id %d has more than 15 bits", info.pictureID)
		}
	})
}

func FuzzRTPAndRTCP(f *testing.F) {
	f.Add([]byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 1, 2, 3})
	f.Add([]byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{0xa0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		if start, end, ok := rtpPayloadOffset(data); ok && (start < 12 || start > end || end > len(data)) {
			t.Fatalf("payload %d..%d of a %d-byte packet", start, end, len(data))
		}
		_ = hasKeyframeRequest(data)
	})
}
