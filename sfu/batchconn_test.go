package sfu

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestBatchConnDelivers sends packets through a batchConn to two
// receivers, with a destination the socket cannot reach in between, and
// checks that every other packet arrives whole and in order.
func TestBatchConnDelivers(t *testing.T) {
	for _, tc := range []struct{ name, listen, to string }{
		{"ipv4", "127.0.0.1:0", "127.0.0.1"},
		{"dual-stack to ipv4", "[::]:0", "127.0.0.1"},
		{"ipv6", "[::1]:0", "::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.listen)))
			if err != nil {
				t.Fatalf("open a %s socket on %s (the test needs IPv4 and IPv6 on loopback): %v", tc.name, tc.listen, err)
			}
			b := newBatchConn(uc, 0)
			defer b.Close()
			var rx [2]*net.UDPConn
			for i := range rx {
				rx[i], err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(tc.to)})
				if err != nil {
					t.Fatal(err)
				}
				defer rx[i].Close()
			}
			const n = 300
			for i := 0; i < n; i++ {
				r := rx[i%2].LocalAddr().(*net.UDPAddr).AddrPort()
				if i == n/2 {
					// Unreachable from an IPv4 socket, refused by the
					// kernel on the others: either way, skipped.
					bad := netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), 9)
					if tc.name != "ipv4" {
						bad = netip.AddrPortFrom(netip.MustParseAddr("255.255.255.255"), 9)
					}
					if _, err := b.WriteToAddrPort([]byte("bad"), bad); err != nil {
						t.Fatalf("queue to %v: %v", bad, err)
					}
				}
				if _, err := b.WriteToAddrPort([]byte(fmt.Sprintf("packet %03d", i)), r); err != nil {
					t.Fatal(err)
				}
			}
			buf := make([]byte, 1500)
			for i := range rx {
				_ = rx[i].SetReadDeadline(time.Now().Add(10 * time.Second))
				for k := i; k < n; k += 2 {
					m, _, err := rx[i].ReadFromUDPAddrPort(buf)
					if err != nil {
						t.Fatalf("receiver %d, waiting for packet %d: %v", i, k, err)
					}
					if want := fmt.Sprintf("packet %03d", k); !bytes.Equal(buf[:m], []byte(want)) {
						t.Fatalf("receiver %d got %q, want %q", i, buf[:m], want)
					}
				}
			}
		})
	}
}

// TestBatchConnSimulatedLoss: --rtc-simulate-loss drops about its share
// of the media packets and never a STUN or DTLS one.
func TestBatchConnSimulatedLoss(t *testing.T) {
	b := &batchConn{loss: 6554} // 10 %
	media, dropped := 0, 0
	for i := 0; i < 20000; i++ {
		first := byte(i % 256)
		p := []byte{first, 0, 0, 0}
		if b.drop(p) {
			if first < 128 || first > 191 {
				t.Fatalf("dropped a non-media packet (first byte %d)", first)
			}
			dropped++
		}
		if first >= 128 && first <= 191 {
			media++
		}
	}
	if share := float64(dropped) / float64(media); share < 0.08 || share > 0.12 {
		t.Errorf("dropped %d of %d media packets (%.1f %%), want about 10 %%", dropped, media, 100*share)
	}
	if (&batchConn{}).drop([]byte{128}) || (&batchConn{loss: 65535}).drop(nil) {
		t.Error("dropped with no loss set, or an empty packet")
	}
}
