#!/usr/bin/env bash
# make bench: run the benchmarks and write docs/benchmarks.md with the
# command, the machine and the results.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=(go test -run '^$' -bench . -benchmem -count 5 ./sfu/)
echo "running: ${cmd[*]}"
out=$("${cmd[@]}")
echo "$out"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
{
	echo "# salon benchmarks"
	echo
	echo "Written by \`make bench\` ($(date -u +%Y-%m-%d)). Numbers are from one run on the machine"
	echo "below; compare runs on the same machine only (benchstat helps)."
	echo
	echo "- command: \`${cmd[*]}\`"
	echo "- machine: ${cpu:-unknown CPU}, $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3-4), $(uname -sr)"
	echo
	echo "## Forwarding path (\`sfu\`)"
	echo
	echo "\`BenchmarkForwardPacket\` feeds one RTP packet (1,100-byte payload, one header"
	echo "extension) through salon's own forwarding work — parse the header once, store it in the"
	echo "track's packet cache, strip extensions, rewrite SSRC and payload type and hand it to each"
	echo "subscriber's writer — with a stand-in writer, so SRTP encryption and the socket are not"
	echo "counted. \`ns/forwarded\` is the cost per packet delivered to one subscriber;"
	echo "\`allocs/op\` must stay 0 (\`TestForwardPathDoesNotAllocate\` enforces it in \`make test\`)."
	echo
	echo "\`BenchmarkForwardThroughPion\` sends packets through the whole write path of one real"
	echo "subscriber: salon's forwarding, the RTCP-report and transport-wide-sequence interceptors,"
	echo "SRTP (AES-GCM) encryption and the UDP socket, to a pion subscriber on loopback in the same"
	echo "process. Its time and allocations are process-wide, so they also include the subscriber"
	echo "receiving and decrypting each packet: an upper bound on the server's cost per packet."
	echo
	echo '```'
	echo "$out" | grep -E '^(Benchmark|goos|goarch|cpu|pkg)'
	echo '```'
} > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
