package sfu

import (
	"bytes"
	"slices"
	"testing"
)

// redBlock is one block of a RED payload as redBlocks reports it.
type redBlock struct {
	pt       uint8
	tsOffset uint16
	data     string
}

var redCases = []struct {
	name    string
	payload []byte
	ok      bool
	blocks  []redBlock // the last is the primary
}{
	{name: "empty", payload: nil},
	{
		name:    "primary only",
		payload: []byte{111, 'p', 'r', 'i'},
		ok:      true,
		blocks:  []redBlock{{111, 0, "pri"}},
	},
	{
		name:    "empty primary",
		payload: []byte{111},
		ok:      true,
		blocks:  []redBlock{{111, 0, ""}},
	},
	{
		// What Chrome sends: one redundant Opus frame 20 ms (960 ticks) old.
		name:    "one redundant",
		payload: []byte{0x80 | 111, 960 >> 6, (960 & 0x3f) << 2, 3, 111, 'o', 'l', 'd', 'n', 'e', 'w'},
		ok:      true,
		blocks:  []redBlock{{111, 960, "old"}, {111, 0, "new"}},
	},
	{
		name: "two redundant, maximum offset and length",
		payload: append([]byte{
			0x80 | 100, 0xff, 0xfc | 0x03, 0xff, // offset 16383, length 1023
			0x80 | 101, 0x00, 0x04, 0x01, // offset 1, length 1
			102,
		}, append(bytes.Repeat([]byte{'x'}, 1023), 'y', 'z')...),
		ok: true,
		blocks: []redBlock{
			{100, 16383, string(bytes.Repeat([]byte{'x'}, 1023))},
			{101, 1, "y"},
			{102, 0, "z"},
		},
	},
	{
		name:    "empty redundant block",
		payload: []byte{0x80 | 111, 0x0f, 0x00, 0x00, 111, 'n'},
		ok:      true,
		blocks:  []redBlock{{111, 960, ""}, {111, 0, "n"}},
	},
	{name: "redundant header only", payload: []byte{0x80 | 111, 0x0f, 0x00, 0x00}},
	{name: "truncated redundant header", payload: []byte{0x80 | 111, 0x0f, 0x00}},
	{name: "one byte, F set", payload: []byte{0x80}},
	{name: "block past the end", payload: []byte{0x80 | 111, 0x0f, 0x00, 0x04, 111, 'o', 'l', 'd'}},
	{name: "blocks together past the end", payload: []byte{
		0x80 | 111, 0x0f, 0x00, 0x02,
		0x80 | 111, 0x07, 0x80, 0x02,
		111, 'a', 'b', 'c'}},
	{
		name:    "blocks fill the payload: empty primary",
		payload: []byte{0x80 | 111, 0x0f, 0x00, 0x03, 111, 'o', 'l', 'd'},
		ok:      true,
		blocks:  []redBlock{{111, 960, "old"}, {111, 0, ""}},
	},
}

func TestREDPrimary(t *testing.T) {
	for _, tc := range redCases {
		t.Run(tc.name, func(t *testing.T) {
			primary, ok := redPrimary(tc.payload)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if want := tc.blocks[len(tc.blocks)-1].data; string(primary) != want {
				t.Errorf("primary %q, want %q", primary, want)
			}
			if len(primary) > 0 && &primary[len(primary)-1] != &tc.payload[len(tc.payload)-1] {
				t.Error("primary is a copy, want a subslice of the payload")
			}
		})
	}
}

func TestREDBlocks(t *testing.T) {
	for _, tc := range redCases {
		t.Run(tc.name, func(t *testing.T) {
			var got []redBlock
			ok := redBlocks(tc.payload, func(pt uint8, tsOffset uint16, block []byte) bool {
				got = append(got, redBlock{pt, tsOffset, string(block)})
				return true
			})
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !slices.Equal(got, tc.blocks) {
				t.Errorf("blocks %v, want %v", got, tc.blocks)
			}
		})
	}
}

func TestREDBlocksStops(t *testing.T) {
	payload := []byte{0x80 | 111, 0x0f, 0x00, 0x03, 111, 'o', 'l', 'd', 'n', 'e', 'w'}
	calls := 0
	ok := redBlocks(payload, func(uint8, uint16, []byte) bool {
		calls++
		return false
	})
	if !ok || calls != 1 {
		t.Errorf("ok %v after %d calls, want true after 1", ok, calls)
	}
}

func TestREDDoesNotAllocate(t *testing.T) {
	payload := []byte{0x80 | 111, 960 >> 6, (960 & 0x3f) << 2, 3, 111, 'o', 'l', 'd', 'n', 'e', 'w'}
	var n int
	allocs := testing.AllocsPerRun(1000, func() {
		p, _ := redPrimary(payload)
		n += len(p)
		redBlocks(payload, func(_ uint8, _ uint16, b []byte) bool {
			n += len(b)
			return true
		})
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
}

func FuzzRED(f *testing.F) {
	for _, tc := range redCases {
		f.Add(tc.payload)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		primary, ok := redPrimary(payload)
		var blocks [][]byte
		okBlocks := redBlocks(payload, func(pt uint8, tsOffset uint16, block []byte) bool {
			if pt > 127 || tsOffset >= 1<<14 {
				t.Fatalf("block pt %d, offset %d", pt, tsOffset)
			}
			blocks = append(blocks, block)
			return true
		})
		if ok != okBlocks {
			t.Fatalf("redPrimary ok %v, redBlocks ok %v", ok, okBlocks)
		}
		if !ok {
			if len(blocks) > 0 {
				t.Fatal("redBlocks called fn on a malformed payload")
			}
			return
		}
		for _, b := range blocks[:len(blocks)-1] {
			if len(b) > 1023 {
				t.Fatalf("redundant block of %d bytes", len(b))
			}
		}
		// The headers and the blocks make up the whole payload.
		headers := len(blocks)*4 - 3
		if got := bytes.Join(blocks, nil); !bytes.Equal(got, payload[headers:]) {
			t.Fatalf("blocks % x do not make up the payload after %d header bytes", got, headers)
		}
		if !bytes.Equal(blocks[len(blocks)-1], primary) {
			t.Fatal("the last block is not the primary")
		}
	})
}

func BenchmarkREDPrimary(b *testing.B) {
	payload := []byte{0x80 | 111, 960 >> 6, (960 & 0x3f) << 2, 3, 111, 'o', 'l', 'd', 'n', 'e', 'w'}
	for b.Loop() {
		redPrimary(payload)
	}
}
