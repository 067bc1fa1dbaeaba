package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// serverSample is salon's cost at one moment: CPU time used so far, memory
// resident now, and (from /metrics, when salon exports it) how many packets
// its SFU has forwarded so far.
type serverSample struct {
	CPUSeconds float64
	RSSBytes   int64
	Forwarded  float64 // -1 when unknown
}

// serverProbe reads salon's cost, from /proc when the load tester runs on
// salon's machine with --server-pid, otherwise from salon's /metrics.
type serverProbe struct {
	pid     int
	metrics string // URL of /metrics
	client  *http.Client
}

// Source says where the numbers come from, for the report.
func (p *serverProbe) Source() string {
	if p.pid > 0 {
		return fmt.Sprintf("/proc/%d", p.pid)
	}
	return p.metrics
}

func (p *serverProbe) sample(ctx context.Context) (serverSample, error) {
	s := serverSample{Forwarded: -1}
	m, merr := p.scrape(ctx)
	if merr == nil {
		if v, ok := m["salon_sfu_forwarded_packets_total"]; ok {
			s.Forwarded = v
		}
	}
	if p.pid > 0 {
		cpu, rss, err := readProc(p.pid)
		s.CPUSeconds, s.RSSBytes = cpu, rss
		return s, err
	}
	if merr != nil {
		return s, merr
	}
	cpu, ok1 := m["process_cpu_seconds_total"]
	rss, ok2 := m["process_resident_memory_bytes"]
	if !ok1 || !ok2 {
		return s, fmt.Errorf("%s has no process_cpu_seconds_total or process_resident_memory_bytes; give --server-pid", p.metrics)
	}
	s.CPUSeconds, s.RSSBytes = cpu, int64(rss)
	return s, nil
}

var wantedMetrics = []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "salon_sfu_forwarded_packets_total"}

func (p *serverProbe) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metrics, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read salon's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read salon's metrics: GET %s: HTTP %d", p.metrics, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read salon's metrics: %w", err)
	}
	return parseMetrics(data, wantedMetrics...), nil
}

// parseMetrics reads a Prometheus text exposition and returns, for each
// wanted metric that appears, the sum of its samples over all label sets.
// Lines it cannot read are skipped.
func parseMetrics(data []byte, wanted ...string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ \t")
		if end <= 0 {
			continue
		}
		name, rest := line[:end], line[end:]
		found := false
		for _, w := range wanted {
			if w == name {
				found = true
			}
		}
		if !found {
			continue
		}
		if rest[0] == '{' {
			j := labelsEnd(rest)
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out
}

// labelsEnd returns the index of the brace that closes the label set that
// s starts with, skipping quoted values and their escapes; -1 if none.
func labelsEnd(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i
		}
	}
	return -1
}

// readProc reads a process's CPU time (utime + stime) and resident memory.
func readProc(pid int) (cpuSeconds float64, rssBytes int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read salon's CPU time (--server-pid %d): %w", pid, err)
	}
	ticks, err := parseProcStat(string(stat))
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read salon's memory (--server-pid %d): %w", pid, err)
	}
	rss, err := parseVmRSS(string(status))
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return float64(ticks) / clockTicks, rss, nil
}

// parseProcStat returns utime + stime (fields 14 and 15, proc(5)) in clock
// ticks. The command name (field 2) may hold spaces and parentheses, so
// fields are counted after its last ')'.
func parseProcStat(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("only %d fields", len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || utime < 0 || stime < 0 {
		return 0, fmt.Errorf("utime %q, stime %q are not tick counts", f[11], f[12])
	}
	return utime + stime, nil
}

// parseVmRSS returns the VmRSS line of /proc/PID/status in bytes.
func parseVmRSS(status string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("VmRSS line %q", strings.TrimSpace(line))
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS line (is the process a zombie?)")
}
