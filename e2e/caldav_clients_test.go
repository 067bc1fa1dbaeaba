package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const python3 = "/usr/bin/python3" // Debian's, where python3-caldav is installed

// runClient runs a third-party client and fails the test with its output
// when it fails.
func runClient(t *testing.T, timeout time.Duration, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
		}
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not finish in %s\n%s", name, timeout, out.String())
	}
	return out.String()
}

func TestPythonCalDAVClient(t *testing.T) {
	if _, err := os.Stat(python3); err != nil {
		t.Fatalf("%s not found: install the Debian package python3-caldav (make test does)", python3)
	}
	if err := exec.Command(python3, "-c", "import caldav").Run(); err != nil {
		t.Fatal("python3 cannot import caldav: install the Debian package python3-caldav (make test does)")
	}
	srv := startSalon(t)
	srv.addUser("ada", "ada@example.org", "correct horse battery")
	out := runClient(t, 2*time.Minute, "", python3, "clients/python_caldav.py", srv.base+"/dav/", "ada", "correct horse battery")
	t.Log(out)
	if !strings.Contains(out, "all steps passed") {
		t.Fatalf("python-caldav did not finish:\n%s", out)
	}
}

// davRequest sends one authenticated request to salon.
func davRequest(t *testing.T, method, url, user, pass, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestVdirsyncer(t *testing.T) {
	if _, err := exec.LookPath("vdirsyncer"); err != nil {
		t.Fatal("vdirsyncer not found: install the Debian package vdirsyncer (make test does)")
	}
	srv := startSalon(t)
	const user, pass = "bea", "vdirsyncer secret"
	srv.addUser(user, "bea@example.org", pass)
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	localCal := filepath.Join(local, "travel")
	if err := os.MkdirAll(localCal, 0o755); err != nil {
		t.Fatal(err)
	}
	event := func(uid, summary string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
			"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270301T080000Z\r\nDTEND:20270301T090000Z\r\nSUMMARY:" +
			summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(localCal, "flight.ics"), event("flight@e2e", "Flight"))
	write(filepath.Join(localCal, "displayname"), "Travel")
	write(filepath.Join(localCal, "color"), "#ff8800")
	config := filepath.Join(dir, "config")
	write(config, fmt.Sprintf(`[general]
status_path = %q

[pair cal]
a = "local"
b = "salon"
collections = ["from a", "from b"]
metadata = ["color", "displayname"]
conflict_resolution = "a wins"

[storage local]
type = "filesystem"
path = %q
fileext = ".ics"

[storage salon]
type = "caldav"
url = %q
username = %q
password = %q
`, filepath.Join(dir, "status")+"/", local+"/", srv.base+"/dav/", user, pass))
	vdir := func(args ...string) string {
		t.Helper()
		return runClient(t, 2*time.Minute, "y\ny\ny\ny\n", "vdirsyncer", append([]string{"-c", config}, args...)...)
	}

	t.Log(vdir("discover"))
	t.Log(vdir("sync"))
	t.Log(vdir("metasync"))

	calURL := srv.base + "/dav/calendars/" + user + "/travel/"
	resp, body := davRequest(t, "PROPFIND", calURL, user, pass,
		`<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/"><d:prop><d:displayname/><a:calendar-color/></d:prop></d:propfind>`,
		map[string]string{"Depth": "0", "Content-Type": "application/xml"})
	if resp.StatusCode != http.StatusMultiStatus || !strings.Contains(body, "Travel") || !strings.Contains(strings.ToLower(body), "#ff8800") {
		t.Fatalf("metasync did not reach salon: %d\n%s", resp.StatusCode, body)
	}
	serverData := func() string {
		t.Helper()
		resp, body := davRequest(t, "REPORT", calURL, user, pass,
			`<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>`,
			map[string]string{"Depth": "1", "Content-Type": "application/xml"})
		if resp.StatusCode != http.StatusMultiStatus {
			t.Fatalf("calendar-query: %d\n%s", resp.StatusCode, body)
		}
		return body
	}
	// localData is every local file of the collection, concatenated.
	localData := func() string {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(localCal, "*.ics"))
		var all strings.Builder
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
		return all.String()
	}
	if body := serverData(); !strings.Contains(body, "SUMMARY:Flight") {
		t.Fatalf("the local event is not on salon:\n%s", body)
	}

	// Edits on both sides, then a sync brings each to the other.
	write(filepath.Join(localCal, "flight.ics"), event("flight@e2e", "Flight (rebooked)"))
	resp, _ = davRequest(t, "PUT", calURL+"hotel.ics", user, pass, event("hotel@e2e", "Hotel"),
		map[string]string{"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT hotel.ics: %d", resp.StatusCode)
	}
	t.Log(vdir("sync"))
	if body := serverData(); !strings.Contains(body, "SUMMARY:Flight (rebooked)") {
		t.Fatalf("the local edit did not reach salon:\n%s", body)
	}
	if local := localData(); !strings.Contains(local, "SUMMARY:Hotel") {
		t.Fatalf("the server-side event did not reach the local side:\n%s", local)
	}

	// Deletes on both sides.
	if err := os.Remove(filepath.Join(localCal, "flight.ics")); err != nil {
		t.Fatal(err)
	}
	resp, _ = davRequest(t, "DELETE", calURL+"hotel.ics", user, pass, "", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE hotel.ics: %d", resp.StatusCode)
	}
	t.Log(vdir("sync"))
	if body := serverData(); strings.Contains(body, "SUMMARY:Flight") {
		t.Fatalf("the local delete did not reach salon:\n%s", body)
	}
	if local := localData(); strings.Contains(local, "SUMMARY:Hotel") {
		t.Fatalf("the server-side delete did not reach the local side:\n%s", local)
	}
}
