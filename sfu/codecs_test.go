package sfu

import (
	"bytes"
	"testing"
)

var vp8Cases = []struct {
	name    string
	payload []byte
	ok      bool
	want    vp8Descriptor
}{
	{name: "empty", payload: nil},
	{name: "descriptor only", payload: []byte{0x10}},
	{
		name:    "minimal keyframe start",
		payload: []byte{0x10, 0x00, 0x00, 0x00},
		ok:      true,
		want:    vp8Descriptor{headerLen: 1, frameStart: true, keyframe: true},
	},
	{
		name:    "minimal interframe start",
		payload: []byte{0x10, 0x01},
		ok:      true,
		want:    vp8Descriptor{headerLen: 1, frameStart: true},
	},
	{
		// P bit clear but not the first packet: the byte is partition data.
		name:    "continuation",
		payload: []byte{0x00, 0x00},
		ok:      true,
		want:    vp8Descriptor{headerLen: 1},
	},
	{
		name:    "start of second partition",
		payload: []byte{0x11, 0x00},
		ok:      true,
		want:    vp8Descriptor{headerLen: 1},
	},
	{
		name:    "non-reference",
		payload: []byte{0x30, 0x01},
		ok:      true,
		want:    vp8Descriptor{headerLen: 1, nonReference: true, frameStart: true},
	},
	{name: "X without extension byte", payload: []byte{0x90}},
	{name: "X, no fields, no data", payload: []byte{0x90, 0x00}},
	{
		name:    "X, no fields",
		payload: []byte{0x90, 0x00, 0x00},
		ok:      true,
		want:    vp8Descriptor{headerLen: 2, frameStart: true, keyframe: true},
	},
	{
		name:    "7-bit picture ID",
		payload: []byte{0x90, 0x80, 0x45, 0x01},
		ok:      true,
		want: vp8Descriptor{headerLen: 3, frameStart: true,
			hasPictureID: true, pictureIDOffset: 2, pictureID: 0x45},
	},
	{name: "I without picture ID", payload: []byte{0x90, 0x80}},
	{name: "M without second byte", payload: []byte{0x90, 0x80, 0x81}},
	{name: "15-bit picture ID, no data", payload: []byte{0x90, 0x80, 0x81, 0x23}},
	{
		name:    "15-bit picture ID",
		payload: []byte{0x90, 0x80, 0x81, 0x23, 0x00},
		ok:      true,
		want: vp8Descriptor{headerLen: 4, frameStart: true, keyframe: true,
			hasPictureID: true, longPictureID: true, pictureIDOffset: 2, pictureID: 0x0123},
	},
	{
		// What Chrome sends for simulcast: I, L, T with a 15-bit picture ID.
		name:    "all fields",
		payload: []byte{0x90, 0xe0, 0xff, 0xff, 0x07, 0xa0, 0x9d, 0x01, 0x2a},
		ok:      true,
		want: vp8Descriptor{headerLen: 6, frameStart: true, keyframe: false,
			hasPictureID: true, longPictureID: true, pictureIDOffset: 2, pictureID: 0x7fff,
			hasTL0PicIdx: true, tl0PicIdxOffset: 4, tl0PicIdx: 7,
			hasTID: true, tid: 2, layerSync: true},
	},
	{
		name:    "all fields, keyframe",
		payload: []byte{0x90, 0xe0, 0x80, 0x01, 0x00, 0x00, 0x50},
		ok:      true,
		want: vp8Descriptor{headerLen: 6, frameStart: true, keyframe: true,
			hasPictureID: true, longPictureID: true, pictureIDOffset: 2, pictureID: 1,
			hasTL0PicIdx: true, tl0PicIdxOffset: 4, tl0PicIdx: 0,
			hasTID: true},
	},
	{name: "L without TL0PICIDX", payload: []byte{0x90, 0x40}},
	{
		name:    "TL0PICIDX only",
		payload: []byte{0x80, 0x40, 0x09, 0x01},
		ok:      true,
		want:    vp8Descriptor{headerLen: 3, hasTL0PicIdx: true, tl0PicIdxOffset: 2, tl0PicIdx: 9},
	},
	{name: "T without its byte", payload: []byte{0x90, 0x20}},
	{name: "K without its byte", payload: []byte{0x90, 0x10}},
	{
		// K alone: the byte is there but TID is not meaningful.
		name:    "KEYIDX only",
		payload: []byte{0x90, 0x10, 0xff, 0x00},
		ok:      true,
		want:    vp8Descriptor{headerLen: 3, frameStart: true, keyframe: true},
	},
	{name: "all fields, truncated", payload: []byte{0x90, 0xf0, 0x81, 0x23, 0x07}},
}

func TestParseVP8(t *testing.T) {
	for _, tc := range vp8Cases {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := parseVP8(tc.payload)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && d != tc.want {
				t.Errorf("got  %+v\nwant %+v", d, tc.want)
			}
		})
	}
}

func TestVP8Rewrite(t *testing.T) {
	tests := []struct {
		name      string
		payload   []byte
		pictureID uint16
		tl0PicIdx uint8
		want      []byte
	}{
		{
			name:      "15-bit wraps at 32768 and keeps M",
			payload:   []byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0xa0, 0x01},
			pictureID: 0x8000 + 0x0456, tl0PicIdx: 0x42,
			want: []byte{0x90, 0xe0, 0x84, 0x56, 0x42, 0xa0, 0x01},
		},
		{
			name:      "7-bit wraps at 128",
			payload:   []byte{0x90, 0xc0, 0x05, 0x07, 0x01},
			pictureID: 300, tl0PicIdx: 255,
			want: []byte{0x90, 0xc0, 300 % 128, 255, 0x01},
		},
		{
			name:      "no picture ID, TL0PICIDX only",
			payload:   []byte{0x80, 0x40, 0x09, 0x01},
			pictureID: 1000, tl0PicIdx: 3,
			want: []byte{0x80, 0x40, 0x03, 0x01},
		},
		{
			name:      "no fields: unchanged",
			payload:   []byte{0x10, 0x01, 0x02},
			pictureID: 1000, tl0PicIdx: 3,
			want: []byte{0x10, 0x01, 0x02},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := parseVP8(tc.payload)
			if !ok {
				t.Fatal("parse failed")
			}
			orig := d
			d.rewrite(tc.payload, tc.pictureID, tc.tl0PicIdx)
			if !bytes.Equal(tc.payload, tc.want) {
				t.Fatalf("payload % x, want % x", tc.payload, tc.want)
			}
			if d != orig {
				t.Errorf("rewrite changed the descriptor: %+v, was %+v", d, orig)
			}
		})
	}
}

func TestVP8RewriteOnShorterPayload(t *testing.T) {
	d, _ := parseVP8([]byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0xa0, 0x01})
	for n := range 7 {
		d.rewrite(make([]byte, n), 1, 1) // must not panic
	}
}

var h264Cases = []struct {
	name    string
	payload []byte
	want    bool
}{
	{"empty", nil, false},
	{"IDR slice", []byte{0x65, 0x88}, true},
	{"SPS", []byte{0x67, 0x42}, true},
	{"PPS", []byte{0x68, 0xce}, false},
	{"non-IDR slice", []byte{0x41, 0x9a}, false},
	{"SEI", []byte{0x06, 0x05}, false},
	{"STAP-A SPS PPS", []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
	{"STAP-A PPS then IDR", []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x01, 0x65}, true},
	{"STAP-A PPS SEI", []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x01, 0x06}, false},
	{"STAP-A header only", []byte{0x78}, false},
	{"STAP-A truncated size", []byte{0x78, 0x00}, false},
	{"STAP-A size without NAL", []byte{0x78, 0x00, 0x01}, false},
	{"STAP-A size past end", []byte{0x78, 0x00, 0x05, 0x67, 0x42}, false},
	{"STAP-A zero size", []byte{0x78, 0x00, 0x00, 0x67}, false},
	{"STAP-A second size past end", []byte{0x78, 0x00, 0x01, 0x68, 0xff, 0xff, 0x67}, false},
	{"FU-A IDR start", []byte{0x7c, 0x85, 0x88}, true},
	{"FU-A SPS start", []byte{0x7c, 0x87}, true},
	{"FU-A IDR middle", []byte{0x7c, 0x05, 0x88}, false},
	{"FU-A IDR end", []byte{0x7c, 0x45, 0x88}, false},
	{"FU-A non-IDR start", []byte{0x7c, 0x81, 0x88}, false},
	{"FU-A without FU header", []byte{0x7c}, false},
	{"FU-B", []byte{0x7d, 0x85, 0x00, 0x00}, false},
	{"STAP-B", []byte{0x79, 0x00, 0x00, 0x00, 0x01, 0x65}, false},
}

func TestH264Keyframe(t *testing.T) {
	for _, tc := range h264Cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := h264Keyframe(tc.payload); got != tc.want {
				t.Errorf("h264Keyframe(% x) = %v, want %v", tc.payload, got, tc.want)
			}
		})
	}
}

var vp9Cases = []struct {
	name    string
	payload []byte
	want    bool
}{
	{"empty", nil, false},
	{"start, not predicted", []byte{0x08, 0x82}, true},
	{"descriptor only", []byte{0x08}, false},
	{"predicted", []byte{0x48, 0x82}, false},
	{"not start of frame", []byte{0x00, 0x82}, false},
	{"end of frame only", []byte{0x04, 0x82}, false},
	{"7-bit picture ID", []byte{0x88, 0x12, 0x82}, true},
	{"15-bit picture ID", []byte{0x88, 0x81, 0x23, 0x82}, true},
	{"15-bit picture ID, truncated", []byte{0x88, 0x81, 0x23}, false},
	{"I without picture ID", []byte{0x88}, false},
	{"non-flexible, SID 0", []byte{0xa8, 0x81, 0x23, 0x00, 0x05, 0x82}, true},
	{"non-flexible, SID 1", []byte{0xa8, 0x81, 0x23, 0x02, 0x05, 0x82}, false},
	{"non-flexible, no TL0PICIDX", []byte{0xa8, 0x81, 0x23, 0x00}, false},
	{"non-flexible, no data", []byte{0xa8, 0x81, 0x23, 0x00, 0x05}, false},
	{"L without byte", []byte{0xa8, 0x81, 0x23}, false},
	{"flexible, SID 0", []byte{0xb8, 0x81, 0x23, 0x00, 0x82}, true},
	{"flexible, SID 2", []byte{0xb8, 0x81, 0x23, 0x04, 0x82}, false},
	{"flexible, predicted", []byte{0xf8, 0x81, 0x23, 0x00, 0x02, 0x82}, false},
	{
		// Chrome's keyframe with three spatial layers: SS with sizes and
		// a picture group of one entry referencing one picture.
		"scalability structure",
		[]byte{0xaa, 0x81, 0x23, 0x00, 0x05,
			0x58, // N_S=2 (3 layers), Y, G
			0x01, 0x40, 0x00, 0xb4, 0x02, 0x80, 0x01, 0x68, 0x05, 0x00, 0x02, 0xd0,
			0x01,       // N_G
			0x04, 0x01, // TID 0, U 0, R 1, P_DIFF 1
			0x82},
		true,
	},
	{"SS missing", []byte{0x0a}, false},
	{"SS without sizes or groups", []byte{0x0a, 0x00, 0x82}, true},
	{"SS sizes truncated", []byte{0x0a, 0x10, 0x01, 0x40, 0x00}, false},
	{"SS sizes, no data", []byte{0x0a, 0x10, 0x01, 0x40, 0x00, 0xb4}, false},
	{"SS N_G missing", []byte{0x0a, 0x08}, false},
	{"SS group entry missing", []byte{0x0a, 0x08, 0x02, 0x00}, false},
	{"SS P_DIFF past end", []byte{0x0a, 0x08, 0x01, 0x0c, 0x01}, false},
	{"SS zero groups", []byte{0x0a, 0x08, 0x00, 0x82}, true},
}

func TestVP9Keyframe(t *testing.T) {
	for _, tc := range vp9Cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := vp9Keyframe(tc.payload); got != tc.want {
				t.Errorf("vp9Keyframe(% x) = %v, want %v", tc.payload, got, tc.want)
			}
		})
	}
}

func TestIsKeyframe(t *testing.T) {
	tests := []struct {
		mime    string
		payload []byte
		want    bool
	}{
		{"video/VP8", []byte{0x10, 0x00}, true},
		{"video/vp8", []byte{0x10, 0x00}, true},
		{"video/VP8", []byte{0x10, 0x01}, false},
		{"video/VP8", []byte{0x10}, false},
		{"video/VP9", []byte{0x08, 0x82}, true},
		{"VIDEO/vp9", []byte{0x48, 0x82}, false},
		{"video/H264", []byte{0x65}, true},
		{"video/h264", []byte{0x41}, false},
		{"video/AV1", []byte{0x08, 0x82}, false},
		{"audio/opus", []byte{0x10, 0x00}, false},
		{"", []byte{0x65}, false},
	}
	for _, tc := range tests {
		if got := isKeyframe(tc.mime, tc.payload); got != tc.want {
			t.Errorf("isKeyframe(%q, % x) = %v, want %v", tc.mime, tc.payload, got, tc.want)
		}
	}
}

func TestKeyframeInspectionDoesNotAllocate(t *testing.T) {
	vp8 := []byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0xa0, 0x00, 0x9d, 0x01, 0x2a}
	vp9 := []byte{0xaa, 0x81, 0x23, 0x00, 0x05, 0x58, 0x01, 0x40, 0x00, 0xb4, 0x02, 0x80, 0x01, 0x68, 0x05, 0x00, 0x02, 0xd0, 0x01, 0x04, 0x01, 0x82}
	var sink bool
	allocs := testing.AllocsPerRun(1000, func() {
		d, ok := parseVP8(vp8)
		d.rewrite(vp8, d.pictureID+1, d.tl0PicIdx+1)
		sink = sink != (ok && d.keyframe)
		sink = sink != h264Keyframe([]byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x01, 0x65})
		sink = sink != vp9Keyframe(vp9)
		sink = sink != isKeyframe("video/h264", vp8)
		sink = sink != isKeyframe("video/vp8", vp8)
		sink = sink != isKeyframe("video/vp9", vp9)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
}

func FuzzParseVP8(f *testing.F) {
	for _, tc := range vp8Cases {
		f.Add(tc.payload, uint16(0x1234), uint8(7))
	}
	f.Fuzz(func(t *testing.T, payload []byte, pictureID uint16, tl0PicIdx uint8) {
		d, ok := parseVP8(payload)
		if !ok {
			return
		}
		if d.headerLen < 1 || d.headerLen >= len(payload) {
			t.Fatalf("header length %d for %d bytes", d.headerLen, len(payload))
		}
		if d.keyframe && !d.frameStart {
			t.Fatal("keyframe outside the first packet of a frame")
		}
		before := bytes.Clone(payload)
		d.rewrite(payload, pictureID, tl0PicIdx)
		again, ok := parseVP8(payload)
		if !ok {
			t.Fatal("rewritten payload does not parse")
		}
		want := d
		if d.hasPictureID {
			want.pictureID = pictureID & 0x7f
			if d.longPictureID {
				want.pictureID = pictureID & 0x7fff
			}
		}
		if d.hasTL0PicIdx {
			want.tl0PicIdx = tl0PicIdx
		}
		if again != want {
			t.Fatalf("rewritten descriptor %+v, want %+v", again, want)
		}
		if !bytes.Equal(payload[d.headerLen:], before[d.headerLen:]) {
			t.Fatal("rewrite touched the VP8 payload")
		}
	})
}

func FuzzH264Keyframe(f *testing.F) {
	for _, tc := range h264Cases {
		f.Add(tc.payload)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		h264Keyframe(payload)
	})
}

func FuzzVP9Keyframe(f *testing.F) {
	for _, tc := range vp9Cases {
		f.Add(tc.payload)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if vp9Keyframe(payload) && (payload[0]&0x08 == 0 || payload[0]&0x40 != 0) {
			t.Fatal("keyframe without B or with P")
		}
	})
}

func BenchmarkParseVP8(b *testing.B) {
	payload := []byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0xa0, 0x00, 0x9d, 0x01, 0x2a}
	for b.Loop() {
		parseVP8(payload)
	}
}

func BenchmarkVP8Rewrite(b *testing.B) {
	payload := []byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0xa0, 0x00, 0x9d, 0x01, 0x2a}
	d, _ := parseVP8(payload)
	var id uint16
	for b.Loop() {
		id++
		d.rewrite(payload, id, uint8(id))
	}
}
