package mail

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCompose measures one invitation; salon must compose at least
// 500 a second on two cores.
func BenchmarkCompose(b *testing.B) {
	c := newTestComposer()
	inv := goldenCases()[0].inv
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compose(inv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComposeParallel(b *testing.B) {
	c := newTestComposer()
	inv := goldenCases()[1].inv
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Compose(inv); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkParseIMIP(b *testing.B) {
	for _, name := range []string{"outlook-reply", "gmail-reply"} {
		data, err := os.ReadFile(filepath.Join("testdata", "inbound", name+".eml"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ParseIMIP(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
