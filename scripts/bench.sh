#!/usr/bin/env bash
# make bench: run the benchmarks and write docs/benchmarks.md with the
# commands, the machine and the results. Everything talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

out=docs/benchmarks.md
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; return 1; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="${cpu:-unknown CPU}, $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3-4), $(uname -sr)"

echo "== Go benchmarks"
gocmd=(go test -run '^$' -bench . -benchmem -count 3 ./sfu/ ./calendar/ ./calendar/ical/ ./calendar/sqlstore/ ./mail/ ./internal/roomstate/ ./signaling/)
gobench=$("${gocmd[@]}" | grep -E '^(Benchmark|pkg:)')
echo "$gobench"

echo "== CalDAV workload: salon"
go build -o "$work/salon" ./cmd/salon
go build -o "$work/davbench" ./bench/davbench
echo "bench password" | "$work/salon" user add ada --email ada@example.org --data "$work/data" >/dev/null
port=$(free_port)
"$work/salon" serve --data "$work/data" --listen "127.0.0.1:$port" --rtc-listen-ip 127.0.0.1 --rtc-loopback \
	--rtc-udp-port "$(free_port)" --log-level warn >"$work/salon.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/healthz"
davcmd=("$work/davbench" -home "http://127.0.0.1:$port/dav/calendars/ada/" -user ada -password "bench password" -mixed 20s)
salon10k=$("${davcmd[@]}" -name salon -events 10000)
echo "$salon10k"
salon1k=$("${davcmd[@]}" -name salon -events 1000)
echo "$salon1k"

echo "== CalDAV workload: Radicale"
if ! python3 -c 'import radicale' 2>/dev/null && ! /usr/bin/python3 -c 'import radicale' 2>/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq radicale >/dev/null
	fi
fi
radicale="Radicale not installed (Debian package radicale); not measured."
if /usr/bin/python3 -c 'import radicale' 2>/dev/null; then
	rport=$(free_port)
	mkdir -p "$work/radicale"
	echo "ada:bench password" >"$work/radicale/users"
	cat >"$work/radicale/config" <<CONF
[server]
hosts = 127.0.0.1:$rport
[auth]
type = htpasswd
htpasswd_filename = $work/radicale/users
htpasswd_encryption = plain
[storage]
filesystem_folder = $work/radicale/collections
[logging]
level = warning
CONF
	/usr/bin/python3 -m radicale --config "$work/radicale/config" >"$work/radicale.log" 2>&1 &
	pids+=($!)
	wait_http "http://127.0.0.1:$rport/"
	version=$(/usr/bin/python3 -m radicale --version)
	# Radicale slows down sharply as a calendar grows (about 15 PUTs per
	# second at 1,000 events), so it is measured at 1,000 events.
	radicale=$("$work/davbench" -home "http://127.0.0.1:$rport/ada/" -user ada -password "bench password" -mixed 20s -name "Radicale $version" -events 1000)
fi
echo "$radicale"

echo "== Load scenarios (salon loadtest in a loopback-only network namespace)"
if ! MACHINE="$machine" ./scripts/loadbench.sh "$work/load.md"; then
	printf '## Load scenarios\n\nscripts/loadbench.sh failed in this run; `make bench` printed why.\n\n' >"$work/load.md"
fi

{
	echo "# salon benchmarks"
	echo
	echo "Written by \`make bench\` ($(date -u +%Y-%m-%d)). One run on the machine below; compare"
	echo "runs on the same machine only. The benchmark clients run on the same two cores as the"
	echo "servers."
	echo
	echo "- machine: $machine"
	echo
	echo "## Forwarding path (\`sfu\`)"
	echo
	echo "- \`BenchmarkForwardPacket\` feeds one RTP packet (1,100-byte payload, one header extension)"
	echo "  through salon's own forwarding work: parse the header once, store it in the track's packet"
	echo "  cache, strip extensions, rewrite SSRC and payload type and hand it to each subscriber's"
	echo "  writer, with a stand-in writer, so SRTP and the socket are not counted. \`ns/forwarded\` is the"
	echo "  cost per packet delivered to one subscriber; \`allocs/op\` must stay 0"
	echo "  (\`TestForwardPathDoesNotAllocate\` enforces it in \`make test\`)."
	echo "- \`BenchmarkForwardThroughPion\` sends packets through the whole write path of one real"
	echo "  subscriber: salon's forwarding, the RTCP-report and transport-wide-sequence interceptors,"
	echo "  SRTP encryption and the UDP socket, to a pion subscriber on loopback in the same process."
	echo "  Its allocations are process-wide (they include the subscriber receiving and decrypting"
	echo "  each packet). Its time is wall-clock time: the socket's batched sends (sendmmsg) and the"
	echo "  subscriber run on the other core meanwhile, so it is not CPU per packet; the load"
	echo "  scenarios below measure that."
	echo
	echo "## CalDAV"
	echo
	echo "\`bench/davbench\` plays CalDAV clients (4 at once) against a server: it fills one calendar"
	echo "with PUTs (If-None-Match: *), then does an initial full sync (PROPFIND Depth 1 for ETags, then"
	echo "calendar-multiget in batches of 100), 20 sync-collection deltas after one change each, 20"
	echo "one-month calendar-queries with \`expand\`, and a mixed load (80 % month views, 20 % HEAD + PUT"
	echo "with If-Match) for 20 s. The events spread over five years (about five a day): 70 % single"
	echo "meetings (a fifth with attendees), 15 % weekly series of 20 with an EXDATE, 10 % all-day."
	echo
	echo "- command: \`go run ./bench/davbench -home http://127.0.0.1:PORT/dav/calendars/ada/ -user ada -password '…' -mixed 20s -events N\`"
	echo "  against \`salon serve\` with its defaults (SQLite), and against Radicale (Debian package, file"
	echo "  storage, htpasswd) with \`-home http://127.0.0.1:PORT/ada/\`. Radicale is measured at 1,000"
	echo "  events: it slows down sharply as a calendar grows."
	echo
	echo '```'
	echo "$salon10k"
	echo
	echo "$salon1k"
	echo
	echo "$radicale"
	echo '```'
	echo
	echo "## Scheduling and mail"
	echo
	echo "- \`BenchmarkSaveWith50Attendees\` (\`calendar\`): an organizer PUTs one event with 50 outside"
	echo "  attendees through the CalDAV handler; salon gives it a meeting room, composes 50 invitations and"
	echo "  queues them in the same SQLite transaction; the outbox worker hands them to a go-smtp server on"
	echo "  127.0.0.1. \`ms/50-accepted\` is the time from the PUT until that server has accepted all 50"
	echo "  (goal: under 2,000 ms)."
	echo "- \`BenchmarkCompose\` (\`mail\`): one invitation (text, HTML, text/calendar and the .ics"
	echo "  attachment) per op; 1 s / ns per op is invitations per second on one core (goal: 500 or more)."
	echo "- \`BenchmarkOutboxBurst\` (\`mail\`): 50 messages queued in one transaction until a local SMTP"
	echo "  server has accepted them all."
	echo
	echo "## Live room state and joins"
	echo
	echo "- \`BenchmarkJoin\` (\`internal/roomstate\`): the state a join touches (HostRoom, Join and"
	echo "  Participants of a 10-person room), in memory and on a redis-server on 127.0.0.1;"
	echo "  \`roundtrips/join\` counts what the go-redis client sends."
	echo "- \`BenchmarkRedisMemoryPerParticipant\`: Redis \`used_memory\` growth for 10,000 participants"
	echo "  in 1,000 rooms of 10."
	echo "- \`BenchmarkJoin\` (\`signaling\`): a whole join through the signalling server (token check,"
	echo "  routing to the room's node, the live state, the SFU peer, \`joined\`), over a WebSocket on"
	echo "  loopback, rooms of ten; for Redis, every round trip of the join (goal: at most 5)."
	echo
	cat "$work/load.md"
	echo "## Go benchmarks"
	echo
	echo "- command: \`${gocmd[*]}\`"
	echo
	echo '```'
	echo "$gobench"
	echo '```'
} >"$out"
echo "wrote $out"
