package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

const exposition = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# HELP process_resident_memory_bytes Resident memory size in bytes.
process_resident_memory_bytes 9.4371840e+07
salon_sfu_forwarded_packets_total{kind="audio"} 100
salon_sfu_forwarded_packets_total{kind="video",note="a \"}\" brace"} 23 1700000000000
salon_sfu_forwarded_packets_total_other 7
go_goroutines 42
broken{ 5
process_cpu_seconds_totalx 3
`

func TestParseMetrics(t *testing.T) {
	got := parseMetrics([]byte(exposition), wantedMetrics...)
	want := map[string]float64{
		"process_cpu_seconds_total":         12.5,
		"process_resident_memory_bytes":     94371840,
		"salon_sfu_forwarded_packets_total": 123,
	}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestServerProbeFromMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(exposition))
	}))
	defer srv.Close()
	p := &serverProbe{metrics: srv.URL + "/metrics", client: srv.Client()}
	s, err := p.sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUSeconds != 12.5 || s.RSSBytes != 94371840 || s.Forwarded != 123 {
		t.Errorf("%+v", s)
	}
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer empty.Close()
	p = &serverProbe{metrics: empty.URL + "/metrics", client: empty.Client()}
	if _, err := p.sample(context.Background()); err == nil || !strings.Contains(err.Error(), "--server-pid") {
		t.Errorf("metrics without process figures: err = %v, want advice to give --server-pid", err)
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (salon (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 75 0 0 20 0 12 0 100 1000000 2000 18446744073709551615"
	ticks, err := parseProcStat(stat)
	if err != nil || ticks != 225 {
		t.Errorf("ticks %d, err %v; want 150 + 75", ticks, err)
	}
	for _, bad := range []string{"", "4242 salon S 1", "4242 (salon) S 1 2 3", "1 (a) S 1 1 1 0 -1 0 0 0 0 0 x 1 0"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("%q was read", bad)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	rss, err := parseVmRSS("Name:\tsalon\nVmPeak:\t  999 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n")
	if err != nil || rss != 12345*1024 {
		t.Errorf("rss %d, err %v", rss, err)
	}
	for _, bad := range []string{"Name: salon\n", "VmRSS: 12 MB\n", "VmRSS: x kB\n"} {
		if _, err := parseVmRSS(bad); err == nil {
			t.Errorf("%q was read", bad)
		}
	}
}

func TestReadProcOfSelf(t *testing.T) {
	cpu, rss, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu < 0 || rss <= 0 {
		t.Errorf("cpu %v s, rss %d bytes", cpu, rss)
	}
	if _, _, err := readProc(1 << 30); err == nil || !strings.Contains(err.Error(), "--server-pid") {
		t.Errorf("a process that does not exist: err = %v, want one naming --server-pid", err)
	}
}
