package loadtest

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// packetize splits one frame the way the camera does.
func packetize(e *vp8Encoder, frame []byte) (packets [][]byte) {
	for off := 0; off < len(frame); {
		var p []byte
		p, off = e.packet(frame, off)
		packets = append(packets, append([]byte(nil), p...))
	}
	return packets
}

func TestVP8KeyframeIsRecognisable(t *testing.T) {
	e := newVP8Encoder(640, 360, 20000, 1)
	frame := e.frame(13000, true)
	pkts := packetize(e, frame)
	first := pkts[0]
	// RFC 7741 §4.2: X=1, S=1, PID=0; I=1; M=1 and a 15-bit picture id.
	if first[0] != 0x90 || first[1] != 0x80 || first[2]&0x80 == 0 {
		t.Fatalf("payload descriptor % x, want 90 80 8x xx", first[:4])
	}
	hdr := first[vp8DescriptorSize:]
	// RFC 6386 §9.1: frame tag with P=0 (keyframe), show_frame=1, then
	// the start code and the size.
	if hdr[0]&0x01 != 0 || hdr[0]&0x10 == 0 {
		t.Errorf("frame tag % x: want a shown keyframe", hdr[:3])
	}
	if !bytes.Equal(hdr[3:6], []byte{0x9d, 0x01, 0x2a}) {
		t.Errorf("start code % x", hdr[3:6])
	}
	if w, h := binary.LittleEndian.Uint16(hdr[6:]), binary.LittleEndian.Uint16(hdr[8:]); w != 640 || h != 360 {
		t.Errorf("size %dx%d in the keyframe header", w, h)
	}
	firstPart := int(uint32(hdr[0])|uint32(hdr[1])<<8|uint32(hdr[2])<<16) >> 5
	if firstPart <= 0 || firstPart > len(frame)-10 {
		t.Errorf("first partition size %d for a %d-byte frame", firstPart, len(frame))
	}
	info, ok := parseVP8(first)
	if !ok || !info.start || !info.keyframe || info.width != 640 || info.height != 360 || info.pictureID != int(e.pictureID) {
		t.Errorf("parseVP8 = %+v, %v", info, ok)
	}
	for _, p := range pkts[1:] {
		if info, _ := parseVP8(p); info.start || info.keyframe {
			t.Errorf("a continuation packet reads as a frame start: %+v", info)
		}
	}
}

func TestVP8InterFrameIsNotAKeyframe(t *testing.T) {
	e := newVP8Encoder(320, 180, 5000, 2)
	pkts := packetize(e, e.frame(1200, false))
	if pkts[0][vp8DescriptorSize]&0x01 != 1 {
		t.Errorf("frame tag % x: want P=1", pkts[0][vp8DescriptorSize:vp8DescriptorSize+3])
	}
	if info, ok := parseVP8(pkts[0]); !ok || !info.start || info.keyframe {
		t.Errorf("parseVP8 = %+v, %v", info, ok)
	}
}

func TestVP8PacketsSizesAndMarkers(t *testing.T) {
	e := newVP8Encoder(640, 360, 20000, 3)
	for _, size := range []int{16, 1095, 1096, 1097, 3333, 13333} {
		frame := e.frame(size, size > 5000)
		want := append([]byte(nil), frame...)
		pkts := packetize(e, frame)
		var got []byte
		for i, p := range pkts {
			if len(p) > maxRTPPayload {
				t.Errorf("size %d: packet %d has %d bytes, more than %d", size, i, len(p), maxRTPPayload)
			}
			if start := p[0]&0x10 != 0; start != (i == 0) {
				t.Errorf("size %d: packet %d has S=%v", size, i, start)
			}
			got = append(got, p[vp8DescriptorSize:]...)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("size %d: the packets do not carry the frame", size)
		}
		// The camera sets the marker bit when the next offset is the end.
		if n := (size + maxRTPPayload - vp8DescriptorSize - 1) / (maxRTPPayload - vp8DescriptorSize); len(pkts) != n {
			t.Errorf("size %d: %d packets, want %d", size, len(pkts), n)
		}
	}
}

func TestVP8PictureIDs(t *testing.T) {
	e := newVP8Encoder(160, 90, 2000, 4)
	e.pictureID = 0x7ffd
	var ids []int
	for range 4 {
		frame := e.frame(2000, false)
		pkts := packetize(e, frame)
		for _, p := range pkts {
			info, _ := parseVP8(p)
			if info.pictureID != int(e.pictureID) {
				t.Errorf("packet with picture id %d in frame %d", info.pictureID, e.pictureID)
			}
		}
		ids = append(ids, int(e.pictureID))
	}
	want := []int{0x7ffe, 0x7fff, 0, 1}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("picture ids %v, want %v (15 bits, wrapping)", ids, want)
		}
	}
}

func TestParseVP8DescriptorForms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     []byte
		ok    bool
		start bool
		pid   int
		key   bool
	}{
		{"no extension", []byte{0x10, 0x9d}, true, true, -1, false},
		{"7-bit picture id", []byte{0x90, 0x80, 0x05, 0x01}, true, true, 5, false},
		{"15-bit id, L and T", []byte{0x90, 0xe0, 0x81, 0x02, 0x07, 0x20, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}, true, true, 0x102, true},
		{"not partition 0", []byte{0x91, 0x80, 0x05, 0x00}, true, false, 5, false},
		{"truncated picture id", []byte{0x90, 0x80, 0x81}, false, false, -1, false},
		{"descriptor only", []byte{0x90, 0x80, 0x05}, false, false, 5, false},
		{"empty", nil, false, false, -1, false},
	} {
		info, ok := parseVP8(tc.p)
		if ok != tc.ok || ok && (info.start != tc.start || info.pictureID != tc.pid || info.keyframe != tc.key) {
			t.Errorf("%s: %+v, %v", tc.name, info, ok)
		}
	}
}

func TestFrameSizesKeepTheBitrate(t *testing.T) {
	for _, kbps := range []int{100, 300, 800, 2500} {
		key, inter := frameSizes(kbps, 30, 3*time.Second)
		frames := 90
		got := float64(key+(frames-1)*inter) * 8 / 3 / 1000
		if got < 0.97*float64(kbps) || got > 1.03*float64(kbps) {
			t.Errorf("%d kbit/s: keyframe %d, inter %d bytes make %.0f kbit/s", kbps, key, inter, got)
		}
		if key < 3*inter {
			t.Errorf("%d kbit/s: keyframe %d bytes is not much larger than inter frames of %d", kbps, key, inter)
		}
	}
}

func TestCameraLayers(t *testing.T) {
	cfg := DefaultConfig()
	layers := cameraLayers(&cfg)
	want := []layerSpec{{"q", 160, 90, 100}, {"h", 320, 180, 300}, {"f", 640, 360, 800}}
	if len(layers) != 3 {
		t.Fatalf("layers %+v", layers)
	}
	for i := range want {
		if layers[i] != want[i] {
			t.Errorf("layer %d = %+v, want %+v", i, layers[i], want[i])
		}
	}
	cfg.Simulcast = false
	if layers := cameraLayers(&cfg); len(layers) != 1 || layers[0].rid != "" || layers[0].kbps != 800 {
		t.Errorf("without simulcast: %+v", layers)
	}
}

func TestCameraHonoursLayers(t *testing.T) {
	cfg := DefaultConfig()
	c := newCamera(&cfg, "s", 1)
	c.setActive([]string{"q", "h"})
	for _, l := range c.layers {
		if on := l.active.Load(); on != (l.track.rid != "f") {
			t.Errorf("layer %s active = %v after layers [q h]", l.track.rid, on)
		}
	}
	c.setActive(nil)
	for _, l := range c.layers {
		if l.active.Load() {
			t.Errorf("layer %s still active after layers []", l.track.rid)
		}
	}
	cfg.Simulcast = false
	single := newCamera(&cfg, "s", 1)
	single.setActive([]string{"f"})
	if !single.layers[0].active.Load() {
		t.Error("the single layer answers to f")
	}
}

func TestHasKeyframeRequest(t *testing.T) {
	pli := []byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	fir := []byte{0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0}
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0, 1}
	remb := []byte{0x8f, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0}
	nack := []byte{0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"PLI", pli, true},
		{"FIR", fir, true},
		{"receiver report then PLI", cat(rr, pli), true},
		{"receiver report", rr, false},
		{"REMB", remb, false},
		{"NACK", nack, false},
		{"truncated PLI", pli[:8], false},
		{"length past the end", []byte{0x81, 206, 0, 9, 0, 0, 0, 1}, false},
		{"not version 2", []byte{0x41, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}, false},
		{"empty", nil, false},
	} {
		if got := hasKeyframeRequest(tc.b); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRTPPayloadOffset(t *testing.T) {
	pkt := []byte{0x90 | 0x20, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, // V=2 X=1 P=1
		0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, // one-byte extension, one word
		1, 2, 3, 0, 2} // payload 1 2 3, padding 0 2
	start, end, ok := rtpPayloadOffset(pkt)
	if !ok || !bytes.Equal(pkt[start:end], []byte{1, 2, 3}) {
		t.Errorf("payload %v..%v ok=%v", start, end, ok)
	}
	if _, _, ok := rtpPayloadOffset(pkt[:14]); ok {
		t.Error("a header cut inside its extension was accepted")
	}
	if _, _, ok := rtpPayloadOffset([]byte{0x20, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 200}); ok {
		t.Error("version 0 was accepted")
	}
}

func TestMicrophoneLevels(t *testing.T) {
	cfg := DefaultConfig()
	speaking := newMicrophone(&cfg, "s", true, 1)
	silent := newMicrophone(&cfg, "s", false, 1)
	for range 100 {
		if l := speaking.audioLevel(); l&0x80 == 0 || l&0x7f < 20 || l&0x7f > 50 {
			t.Fatalf("speaking level byte %#x: want voice activity and a speech level", l)
		}
		if l := silent.audioLevel(); l&0x80 != 0 || l&0x7f < 80 {
			t.Fatalf("silent level byte %#x: want no voice activity and a low level", l)
		}
	}
	if len(speaking.payload) != 80 || speaking.payload[0] != opusTOC {
		t.Errorf("payload of %d bytes starting %#x: want 80 bytes (32 kbit/s in 20 ms) and the TOC byte", len(speaking.payload), speaking.payload[0])
	}
}
