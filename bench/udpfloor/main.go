// Command udpfloor measures what the kernel charges a sender for each UDP
// packet over loopback, with and without batching, while another process
// reads every packet: the floor under salon's CPU per forwarded packet in
// the load scenarios of make bench.
//
//	udpfloor recv -n 100 -port 20000           # one socket per receiver
//	udpfloor send -n 100 -port 20000 -pps 50000 -size 120 -batch 64 -for 20s
//	udpfloor send -n 40 -port 20000 -pps 3700 -size 1150 -batch 40 -tick 10.8ms
//
// send prints its own CPU time (user + system) per packet.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: udpfloor recv|send [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	n := fs.Int("n", 100, "receiving sockets")
	port := fs.Int("port", 20000, "first receiving port")
	pps := fs.Int("pps", 50000, "packets per second to send")
	size := fs.Int("size", 120, "bytes per packet")
	batch := fs.Int("batch", 64, "packets per sendmmsg; 1 sends each with sendto")
	dur := fs.Duration("for", 20*time.Second, "how long to send")
	every := fs.Duration("tick", time.Millisecond, "send what is due this often: an SFU sends one burst per packet it forwards")
	_ = fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "recv":
		for i := 0; i < *n; i++ {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: *port + i})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			_ = c.SetReadBuffer(1 << 20)
			go func() {
				buf := make([]byte, 1500)
				for {
					if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
				}
			}()
		}
		select {}
	case "send":
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = c.SetWriteBuffer(4 << 20)
		pc := ipv4.NewPacketConn(c)
		addrs := make([]*net.UDPAddr, *n)
		for i := range addrs {
			addrs[i] = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: *port + i}
		}
		payload := make([]byte, *size)
		msgs := make([]ipv4.Message, *batch)
		for i := range msgs {
			msgs[i].Buffers = [][]byte{payload}
		}
		var before, after syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		start := time.Now()
		sent, k := 0, 0
		tick := time.NewTicker(*every)
		defer tick.Stop()
		for time.Since(start) < *dur {
			<-tick.C
			due := int(time.Since(start).Seconds()*float64(*pps)) - sent
			for due > 0 {
				m := min(due, *batch)
				for i := 0; i < m; i++ {
					msgs[i].Addr = addrs[k%*n]
					k++
				}
				if *batch == 1 {
					_, _ = c.WriteToUDP(payload, msgs[0].Addr.(*net.UDPAddr))
				} else {
					_, _ = pc.WriteBatch(msgs[:m], 0)
				}
				sent += m
				due -= m
			}
		}
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		cpu := time.Duration(after.Utime.Nano()-before.Utime.Nano()) + time.Duration(after.Stime.Nano()-before.Stime.Nano())
		how := fmt.Sprintf("in batches of %d", *batch)
		if *batch == 1 {
			how = "one at a time"
		}
		fmt.Printf("%d packets of %d bytes to %d sockets, sent every %s %s: %.2f µs CPU per packet (%.0f %% of a core)\n",
			sent, *size, *n, *every, how, float64(cpu.Nanoseconds())/float64(sent)/1000, 100*cpu.Seconds()/dur.Seconds())
	}
}
