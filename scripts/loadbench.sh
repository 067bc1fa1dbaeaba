#!/usr/bin/env bash
# Load scenarios of make bench: `salon loadtest` against `salon serve`, one
# fresh server per scenario, salon on CPU 0 and the load tester on CPU 1,
# everything inside a loopback-only network namespace (../shared/TESTING.md)
# so that no media packet leaves the machine.
#
#   scripts/loadbench.sh [OUT.md]
#
# writes the "Load scenarios" section of docs/benchmarks.md to OUT.md
# (default: standard output); progress goes to standard error. bench.sh sets
# MACHINE to the machine line it prints; alone, the script computes it.
# LOADBENCH_TIMES replaces "--warmup 10s --duration 30s" for a quick try;
# LOADBENCH_RUNS (default 3) is how many times each scenario runs: the
# tables show the run with the median CPU per packet.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."

if [ "${1:-}" = "--in-namespace" ]; then
	# Second stage, inside the namespace: $2 is the work directory with the
	# salon binary; results go to $2/<scenario>.<run>.json.
	work=$2
	shift 2
	salon="$work/salon"
	password="load bench password"
	url=http://127.0.0.1:8080
	run_scenario() {
		local name=$1
		shift
		local data="$work/data-$name"
		# An admin exists, so serve hashes no password (argon2 takes 64 MiB
		# of scratch memory that would blur the memory figures); the load
		# test joins the demo meeting, so no request signs in either.
		echo "$password" | "$salon" user add bench --email bench@example.org --admin --data "$data" >/dev/null
		taskset -c 0 "$salon" serve --rtc-loopback --rtc-listen-ip 127.0.0.1 --join-rate 1000 --join-burst 1000 \
			--log-level warn --data "$data" --listen 127.0.0.1:8080 --rtc-udp-port 7882 >"$work/$name.serve.log" 2>&1 &
		local pid=$!
		local slug=""
		for _ in $(seq 1 100); do
			slug=$(grep -o '/m/[a-z0-9-]*' "$work/$name.serve.log" | head -1 | cut -d/ -f3 || true)
			[ -n "$slug" ] && curl -s -o /dev/null "$url/healthz" && break
			sleep 0.2
		done
		echo "== load scenario $name: salon loadtest $*" >&2
		if ! taskset -c 1 "$salon" loadtest --url "$url" --meeting "$slug" \
			--server-pid "$pid" --loopback --json "$@" >"$work/$name.json" 2>"$work/$name.loadtest.log"; then
			echo "scenario $name failed:" >&2
			tail -5 "$work/$name.loadtest.log" >&2
			rm -f "$work/$name.json"
		fi
		kill -TERM "$pid"
		wait "$pid" || true
	}
	while [ $# -gt 0 ]; do
		name=$1
		IFS=' ' read -r -a args <<<"$2"
		for run in $(seq 1 "${LOADBENCH_RUNS:-3}"); do
			run_scenario "$name.$run" "${args[@]}"
		done
		shift 2
	done
	# The kernel's share: plain UDP at the packet rates and sizes of
	# scenarios (2) and (1), pinned the same way, nothing else running.
	echo "== kernel floor: bench/udpfloor" >&2
	floor() {
		local n=$1 port=$2
		shift 2
		taskset -c 1 "$work/udpfloor" recv -n "$n" -port "$port" &
		local r=$!
		sleep 0.5
		taskset -c 0 "$work/udpfloor" send -n "$n" -port "$port" -for 10s "$@" >>"$work/floor.txt"
		kill "$r"
		wait "$r" 2>/dev/null || true
	}
	# An SFU sends in bursts, one packet per subscriber for each packet it
	# receives: (2) 100 packets every 1.85 ms, (1) 40 every 10.8 ms.
	floor 100 20000 -pps 54000 -size 120 -batch 100 -tick 1852us
	floor 100 20100 -pps 54000 -size 120 -batch 1 -tick 1852us
	floor 40 20200 -pps 3700 -size 1150 -batch 40 -tick 10810us
	floor 40 20300 -pps 3700 -size 1150 -batch 1 -tick 10810us
	exit 0
fi

out=${1:-/dev/stdout}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

machine=${MACHINE:-}
if [ -z "$machine" ]; then
	cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
	machine="${cpu:-unknown CPU}, $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3-4), $(uname -sr)"
fi

rev=${SALON_REV:-$(git describe --tags --always --dirty 2>/dev/null || echo unknown)}

echo "== load scenarios: build" >&2
go build -o "$work/salon" ./cmd/salon
go build -o "$work/udpfloor" ./bench/udpfloor

if [ "$(id -u)" -eq 0 ]; then
	netns=(unshare --net --)
else
	netns=(unshare --net --map-root-user --)
fi

# name, then the flags that make the scenario; every run adds --meeting
# (the demo meeting), --server-pid, --loopback and --json.
common=${LOADBENCH_TIMES:-"--warmup 10s --duration 30s"}
scenarios=(
	1 "--video-publishers 1 --audio-publishers 0 --subscribers 40 $common"
	2 "--video-publishers 0 --audio-publishers 10 --subscribers 100 $common"
	3 "--video-publishers 8 --audio-publishers 8 --subscribers 0 $common"
	4 "--video-publishers 1 --audio-publishers 0 --subscribers 50 --ramp-up 5s $common"
)
"${netns[@]}" sh -c 'ip link set lo up && exec "$@"' sh bash "$self" --in-namespace "$work" "${scenarios[@]}"

serve_cmd='taskset -c 0 salon serve --rtc-loopback --rtc-listen-ip 127.0.0.1 --join-rate 1000 --join-burst 1000 --log-level warn --data TMP --listen 127.0.0.1:8080 --rtc-udp-port 7882'
lt_cmd='taskset -c 1 salon loadtest --url http://127.0.0.1:8080 --meeting DEMO-SLUG --server-pid PID --loopback --json'
MACHINE="$machine" REV="$rev" SERVE_CMD="$serve_cmd" LT_CMD="$lt_cmd" python3 - "$work" "${scenarios[@]}" >"$out" <<'PY'
import json, math, os, sys

work, args = sys.argv[1], sys.argv[2:]
scenarios = dict(zip(args[0::2], args[1::2]))
titles = {
    "1": "one room, 1 video publisher (VP8 simulcast, full layer 640x360 30 fps 800 kbit/s) → 40 subscribers",
    "2": "one room, 10 audio publishers (Opus 20 ms, 32 kbit/s) → 100 subscribers, everyone receives all 10",
    "3": "one room of 8 participants, each publishing audio and video and receiving the 7 others",
    "4": "50 joins within 5 s into a room with 1 video publisher",
}
mem_goal = {"1": 1.0, "2": 1.0, "3": 4.0}

# The kernel's floor per scenario shape: the batched udpfloor lines, (2)
# first, then (1); scenario (4) has the shape of (1).
floor_path = os.path.join(work, "floor.txt")
floor_lines = [l.strip() for l in open(floor_path)] if os.path.exists(floor_path) else []
def floor_us(i):
    try:
        return float(floor_lines[i].split(": ")[1].split(" µs")[0])
    except (IndexError, ValueError):
        return None
floor_of = {"2": floor_us(0), "1": floor_us(2), "4": floor_us(2)}

def num(v, fmt="{:.0f}"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return fmt.format(v)

def met(ok):
    return "yes" if ok else "**no**"

print("## Load scenarios")
print()
print("`salon loadtest` ([docs/loadtest.md](loadtest.md)) against `salon serve`, a fresh server and data")
print("directory per scenario, inside a loopback-only network namespace (`unshare --net`): salon on CPU 0,")
print("the load tester on CPU 1; after the last join a warm-up, then the measurement window (`--warmup`,")
print("`--duration` in FLAGS).")
print("Subscribers report 640x360 tiles, all visible; one audio publisher per room speaks.")
print()
print("- machine: " + os.environ["MACHINE"])
print("- salon built from: " + os.environ["REV"])
print("- salon: `" + os.environ["SERVE_CMD"] + "`")
print("- load tester: `" + os.environ["LT_CMD"] + " FLAGS`, FLAGS per scenario below")
print("- server CPU is utime + stime of the salon process over the window, divided by the RTP packets")
print("  the simulated participants received in it; memory is VmRSS at the window's end minus VmRSS")
print("  before the first join, divided by the participants.")
print()
for name, flags in scenarios.items():
    print(f"### ({name}) {titles.get(name, '')}")
    print()
    print(f"- FLAGS: `{flags}`")
    print()
    runs = []
    for k in range(1, 100):
        path = os.path.join(work, f"{name}.{k}.json")
        if os.path.exists(path):
            runs.append(json.load(open(path)))
    if not runs:
        print("The scenario did not run to the end; `make bench` printed why.")
        print()
        continue
    # The run with the median CPU per packet stands for the scenario.
    def cpu_of(run):
        s = run.get("server") or {}
        return s.get("microsecondsPerPacket") if not s.get("error") else None
    measured = sorted((x for x in runs if cpu_of(x) is not None), key=cpu_of)
    r = measured[len(measured) // 2] if measured else runs[0]
    print(f"- runs: {len(runs)}; the table shows the one with the median CPU per packet")
    print()
    j, ff, rc, fr, sv, lt = r["joins"], r["joinToFirstFrame"], r["received"], r["freezes"], r["server"] or {}, r["loadTester"]
    rows = []
    fail = "".join(f"; {n} × {k}" for k, n in sorted((j.get("failures") or {}).items()))
    drop = "".join(f"; dropped {n} × {k}" for k, n in sorted((j.get("dropped") or {}).items()))
    rows.append(("joins", f"{j['joined']} of {j['attempted']} joined, {j['failed']} failed{fail}{drop}", "none failed", met(j["failed"] == 0)))
    if name == "2":
        aj, ar = j.get("allJoinedSeconds"), j.get("allReceivingSeconds")
        rows.append(("all joined (first token request → last `joined`)", num(aj, "{:.2f} s"), "≤ 2 s", met(aj is not None and aj <= 2)))
        rows.append(("all receiving (→ last receiver's first packet)", num(ar, "{:.2f} s"), "", ""))
    p95 = ff.get("p95Ms")
    goal, ok = "", ""
    if name == "4":
        goal, ok = "p95 < 500 ms", met(p95 is not None and p95 < 500 and ff["missing"] == 0)
    missing = f", {ff['missing']} receivers never got one" if ff["missing"] else ""
    rows.append(("join → first frame p50 / p95 / p99",
                 f"{num(ff.get('p50Ms'))} / {num(p95)} / {num(ff.get('p99Ms'))} ms over {ff['count']}{missing}", goal, ok))
    rows.append(("packets/s received by subscribers", f"{rc['packetsPerSecond']:.0f} (video {rc['videoPacketsPerSecond']:.0f}, audio {rc['audioPacketsPerSecond']:.0f}), {rc['mbitPerSecond']:.1f} Mbit/s", "", ""))
    if rc.get("videoFramesPerSecond"):
        rows.append(("frames/s per video track", f"{rc['videoFramesPerSecond']:.1f}", "", ""))
    rows.append(("tracks received", f"{rc['tracks']} of {rc['expectedTracks']}", "", ""))
    loss = rc["loss"]
    rows.append(("receiver loss", f"{rc['lostPackets']} of {loss['expected']} ({100 * rc['lossFraction']:.3f} %), {loss['late']} late, {loss['duplicates']} duplicates", "none", met(rc["lostPackets"] == 0)))
    if fr["videoTracks"]:
        rows.append(("freezes", f"{fr['count']} ({fr['totalSeconds']:.2f} s in all) over {fr['videoTracks']} video tracks", "", ""))
    if sv.get("error"):
        rows.append(("server", sv["error"], "", ""))
    else:
        us = sv["microsecondsPerPacket"]
        rows.append(("server CPU", f"{sv['cpuPercent']:.0f} % of a core; {sv['cpuSecondsPerMillionPackets']:.2f} s per million packets = {us:.2f} µs/packet", "≤ 5 µs/packet", met(us <= 5)))
        if len(measured) > 1:
            rows.append(("server CPU, every run", " / ".join(f"{cpu_of(x):.2f}" for x in measured) + " µs/packet", "", ""))
        if floor_of.get(name) is not None:
            fl = floor_of[name]
            rows.append(("salon's own part: above the kernel's floor", f"{us - fl:.2f} µs/packet (plain UDP sent in the same bursts: {fl:.2f} µs, see below)", "", ""))
        mib = sv["mibPerParticipant"]
        g = mem_goal.get(name)
        rows.append(("server memory per participant", f"{mib:.2f} MiB ({sv['rssBeforeBytes'] / 2**20:.0f} → {sv['rssEndBytes'] / 2**20:.0f} MiB)",
                     f"< {g:g} MiB" if g else "", met(mib < g) if g else ""))
    lt_note = " (saturated)" if lt["cpuPercent"] > 90 * lt["cores"] else ""
    rows.append(("load tester CPU", f"{lt['cpuPercent']:.0f} % of a core{lt_note}", "", ""))
    m = r["messages"]
    paused = ", ".join(f"{k} × {n}" for k, n in sorted((m.get("pausedInWindow") or {}).items()))
    rows.append(("salon's messages", f"{m['layers']} layers, {m['speakers']} speakers, {m['paused']} paused" + (f" (in the window: {paused})" if paused else ""), "", ""))
    print("| measure | result | goal | met |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()

if floor_lines:
    print("### The kernel's floor")
    print()
    print("`bench/udpfloor` sends plain UDP (no WebRTC, no SRTP) from one process pinned to CPU 0 to")
    print("sockets that another process, pinned to CPU 1, reads; it prints the sender's CPU time per")
    print("packet, the way the scenarios measure salon. Over loopback the sender also pays for")
    print("delivering each packet into the receiver's socket and waking its reader. The packets go")
    print("out in bursts, one per receiving socket, the way an SFU forwards: the first two lines have")
    print("the shape of scenario (2), the last two that of scenario (1). salon's CPU per packet minus")
    print("this floor is what salon itself costs.")
    print()
    for line in floor_lines:
        if line:
            print("- " + line)
    print()
PY
echo "== load scenarios: done" >&2
