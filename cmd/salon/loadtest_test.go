package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// loadtestAgainstServe starts `salon serve` with serveArgs and runs
// `salon loadtest` against it, in one meeting it makes as the admin, with
// loadtestArgs; it returns the JSON report, the load tester's progress
// and salon's log.
func loadtestAgainstServe(t *testing.T, serveArgs []string, loadtestArgs ...string) (report, progress *bytes.Buffer, logs *syncBuffer) {
	t.Helper()
	report, progress = &bytes.Buffer{}, &bytes.Buffer{}
	out, serveLogs, _ := startServe(t, append([]string{"--log-level", "warn"}, serveArgs...)...)
	ready := regexp.MustCompile(`(?s)password: (\S+).*(http://\S+)/m/[a-z0-9-]+`)
	waitUntil(t, 20*time.Second, "the admin password and demo link", func() bool { return ready.MatchString(out.String()) }, serveLogs)
	m := ready.FindStringSubmatch(out.String())
	args := append([]string{"loadtest", "--url", m[2], "--rooms", "1", "--user", "admin", "--password", m[1], "--loopback", "--json"},
		loadtestArgs...)
	if err := run(context.Background(), args, env(nil), nil, report, progress); err != nil {
		t.Fatalf("loadtest: %v\n%s", err, progress.String())
	}
	return report, progress, serveLogs
}

// TestLoadtestAgainstServe runs `salon loadtest` briefly against `salon
// serve` in the same process: it creates a meeting with the admin account,
// one participant publishes video and audio, three receive, and the report
// must show media at every receiver and no failed join. Like every media
// test it runs in a loopback-only network namespace (make test).
func TestLoadtestAgainstServe(t *testing.T) {
	report, progress, logs := loadtestAgainstServe(t, nil,
		"--video-publishers", "1", "--audio-publishers", "1", "--subscribers", "3", "--warmup", "1s", "--duration", "3s")
	var rep struct {
		Joins struct {
			Attempted, Joined, Failed int
			Failures                  map[string]int
		}
		JoinToFirstFrame struct{ Count, Missing int }
		Received         struct {
			Packets, Tracks, ExpectedTracks int
			Loss                            struct{ Expected int }
		}
		Sent   struct{ Packets int }
		Server struct {
			Error       string
			RSSEndBytes int64
		}
	}
	if err := json.Unmarshal(report.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, report.String())
	}
	if rep.Joins.Attempted != 4 || rep.Joins.Joined != 4 || rep.Joins.Failed != 0 {
		t.Errorf("joins %+v, want 4 joined and none failed", rep.Joins)
	}
	if rep.JoinToFirstFrame.Count != 3 || rep.JoinToFirstFrame.Missing != 0 {
		t.Errorf("first frames at %d receivers, %d without: want all 3", rep.JoinToFirstFrame.Count, rep.JoinToFirstFrame.Missing)
	}
	if rep.Received.ExpectedTracks != 6 || rep.Received.Tracks != 6 || rep.Received.Packets == 0 || rep.Sent.Packets == 0 {
		t.Errorf("received %+v, sent %+v: want 6 tracks with packets", rep.Received, rep.Sent)
	}
	if rep.Server.Error != "" || rep.Server.RSSEndBytes == 0 {
		t.Errorf("no server figures from /metrics: %+v", rep.Server)
	}
	if t.Failed() {
		t.Logf("report:\n%s\nprogress:\n%s\nsalon:\n%s", report.String(), progress.String(), logs.String())
	}
}

func TestLoadtestFlagErrors(t *testing.T) {
	var errOut bytes.Buffer
	err := run(context.Background(), []string{"loadtest", "--meeting", "abc", "--loss", "2"}, env(nil), nil, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--loss") {
		t.Errorf("err = %v, want one naming --loss", err)
	}
	err = run(context.Background(), []string{"loadtest", "--meeting", "abc", "--fps", "fast"}, env(nil), nil, io.Discard, &errOut)
	if _, ok := err.(usageError); !ok || !strings.Contains(errOut.String(), "-fps") {
		t.Errorf("err = %v and stderr %q: want a usage error after the flag package named -fps", err, errOut.String())
	}
	var help bytes.Buffer
	if err := run(context.Background(), []string{"loadtest", "--help"}, env(nil), nil, io.Discard, &help); err != nil ||
		!strings.Contains(help.String(), "--meeting") && !strings.Contains(help.String(), "-meeting") {
		t.Errorf("--help: err %v, printed %q", err, help.String())
	}
}

// TestLoadtestRepairsLoss: salon drops 10 % of the media packets it
// receives and 10 % of those it sends (--rtc-simulate-loss). Video is
// repaired on both links: salon's NACKs to the load tester's publisher,
// which answers from its buffer as a browser does, and the receivers'
// NACKs to salon, answered from salon's cache. Unrepaired, a tenth or more
// of the packets would be missing.
func TestLoadtestRepairsLoss(t *testing.T) {
	report, _, logs := loadtestAgainstServe(t, []string{"--rtc-simulate-loss", "10"},
		"--video-publishers", "1", "--audio-publishers", "0", "--subscribers", "2", "--warmup", "2s", "--duration", "5s")
	var rep struct {
		Received struct {
			Packets     int
			LostPackets int `json:"lostPackets"`
			Loss        struct{ Expected int }
		}
	}
	if err := json.Unmarshal(report.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, report.String())
	}
	r := rep.Received
	t.Logf("video: %d of %d packets lost after repair, with 10 %% dropped on each link", r.LostPackets, r.Loss.Expected)
	if r.Loss.Expected < 500 || r.LostPackets*100 > r.Loss.Expected {
		t.Errorf("%d of %d video packets lost after repair, want under 1 %%\nreport:\n%s", r.LostPackets, r.Loss.Expected, report.String())
	}
	if strings.Count(logs.String(), "rtc-simulate-loss") == 0 {
		t.Errorf("salon did not warn that it drops packets on purpose:\n%s", logs.String())
	}
}
