// Command davbench measures a CalDAV server on the workload of salon's
// benchmarks (docs/benchmarks.md): filling one calendar, an initial full
// sync, a sync-collection delta, month views with expand, and a mixed load
// of month views and conditional PUTs. It speaks plain CalDAV, so the same
// run can be pointed at salon and at another server (Radicale) on the same
// machine. It only ever talks to the URL it is given.
package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "davbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	client    *http.Client
	home      string // calendar home URL, ending in /
	cal       string // calendar URL, ending in /
	user, pw  string
	events    int
	workers   int
	mixedTime time.Duration
}

func run() error {
	b := &bench{client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	name := flag.String("name", "server", "label for the results")
	flag.StringVar(&b.home, "home", "", "calendar home URL, e.g. http://127.0.0.1:8080/dav/calendars/ada/")
	flag.StringVar(&b.user, "user", "", "user name")
	flag.StringVar(&b.pw, "password", "", "password")
	flag.IntVar(&b.events, "events", 10000, "events to put in the calendar")
	flag.IntVar(&b.workers, "workers", 4, "concurrent clients")
	flag.DurationVar(&b.mixedTime, "mixed", 20*time.Second, "duration of the mixed load")
	years := flag.Int("years", 5, "years the events spread over")
	flag.Parse()
	spanDays = max(31, *years*365)
	if b.home == "" || !strings.HasSuffix(b.home, "/") {
		return errors.New("-home must be a calendar home URL ending in /")
	}
	b.cal = fmt.Sprintf("%sbench-%d/", b.home, time.Now().UnixNano())
	if err := b.expect("MKCALENDAR", b.cal, "", nil, 201); err != nil {
		return fmt.Errorf("create the calendar: %w", err)
	}
	defer b.do("DELETE", b.cal, "", nil) //nolint:errcheck

	res := []string{fmt.Sprintf("%s, %d events over %d years, %d clients", *name, b.events, *years, b.workers)}
	putRate, p50, p99, err := b.fill()
	if err != nil {
		return err
	}
	res = append(res, fmt.Sprintf("PUT: %.0f/s, p50 %s, p99 %s", putRate, ms(p50), ms(p99)))

	full, err := b.fullSync()
	if err != nil {
		return err
	}
	res = append(res, fmt.Sprintf("initial full sync (PROPFIND Depth 1 + multiget by 100): %s", ms(full)))

	delta, err := b.syncDelta()
	if err != nil {
		res = append(res, "sync-collection delta: "+err.Error())
	} else {
		res = append(res, fmt.Sprintf("sync-collection delta (1 change), median of 20: %s", ms(delta)))
	}
	month, n, err := b.monthViews(20)
	if err != nil {
		return err
	}
	res = append(res, fmt.Sprintf("month calendar-query with expand, median of 20: %s (%d objects returned)", ms(month), n))

	rps, mp99, err := b.mixed()
	if err != nil {
		return err
	}
	res = append(res, fmt.Sprintf("mixed load (80%% month views, 20%% PUT If-Match), %s: %.0f requests/s, p99 %s", b.mixedTime, rps, ms(mp99)))
	for _, l := range res {
		fmt.Println("- " + l)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (b *bench) do(method, url, body string, hdr map[string]string) (int, []byte, http.Header, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.SetBasicAuth(b.user, b.pw)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header, err
}

func (b *bench) expect(method, url, body string, hdr map[string]string, want ...int) error {
	code, data, _, err := b.do(method, url, body, hdr)
	if err != nil {
		return err
	}
	if !slices.Contains(want, code) {
		return fmt.Errorf("%s %s: status %d (want %v): %.300s", method, url, code, want, data)
	}
	return nil
}

// spanDays is how many days the events spread over (set from -years).
var spanDays = 5 * 365

// firstDay is the day the calendar starts.
var firstDay = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

// event makes the i-th event of a realistic mix spread evenly over the
// span (10,000 events over five years is about five a day): most are single
// meetings, 15 % weekly series of 20 with an exception, 10 % all-day, 15 %
// with attendees.
func event(i int) string {
	day := firstDay.AddDate(0, 0, i%spanDays)
	start := day.Add(time.Duration(8+i%10) * time.Hour)
	uid := fmt.Sprintf("bench-%d@davbench", i)
	var body strings.Builder
	body.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//salon//davbench//EN\r\nBEGIN:VEVENT\r\n")
	fmt.Fprintf(&body, "UID:%s\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:Event %d\r\n", uid, i)
	switch {
	case i%20 < 3: // weekly series with an exception
		fmt.Fprintf(&body, "DTSTART:%s\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;COUNT=20\r\nEXDATE:%s\r\n",
			start.Format("20060102T150405Z"), start.AddDate(0, 0, 14).Format("20060102T150405Z"))
	case i%20 < 5: // all-day
		fmt.Fprintf(&body, "DTSTART;VALUE=DATE:%s\r\nDTEND;VALUE=DATE:%s\r\n", day.Format("20060102"), day.AddDate(0, 0, 1).Format("20060102"))
	default:
		fmt.Fprintf(&body, "DTSTART:%s\r\nDTEND:%s\r\n", start.Format("20060102T150405Z"), start.Add(time.Hour).Format("20060102T150405Z"))
		if i%20 < 8 {
			body.WriteString("ORGANIZER:mailto:ada@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@example.org\r\n")
		}
	}
	body.WriteString("DESCRIPTION:Agenda: review\\, decide\\, plan.\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	return body.String()
}

// edited is event i with a changed summary, as a client's edit.
func edited(i, rev int) string {
	return strings.Replace(event(i), "SUMMARY:Event", fmt.Sprintf("SUMMARY:Edit %d of event", rev), 1)
}

// parallel runs fn(i) for i in [0, n) on the workers and returns each
// call's latency.
func (b *bench) parallel(n int, fn func(i int) error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < b.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return lat, firstErr
}

func pct(lat []time.Duration, p float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func (b *bench) fill() (float64, time.Duration, time.Duration, error) {
	t0 := time.Now()
	lat, err := b.parallel(b.events, func(i int) error {
		return b.expect("PUT", fmt.Sprintf("%sev-%d.ics", b.cal, i), event(i),
			map[string]string{"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}, 201, 204)
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("fill: %w", err)
	}
	return float64(b.events) / time.Since(t0).Seconds(), pct(lat, 0.5), pct(lat, 0.99), nil
}

type multistatus struct {
	Responses []struct {
		Href     string `xml:"href"`
		Propstat []struct {
			Prop struct {
				ETag string `xml:"getetag"`
				Data string `xml:"calendar-data"`
			} `xml:"prop"`
		} `xml:"propstat"`
	} `xml:"response"`
	SyncToken string `xml:"sync-token"`
}

func (b *bench) report(method, url, depth, body string) (*multistatus, error) {
	code, data, _, err := b.do(method, url, body, map[string]string{"Depth": depth, "Content-Type": "application/xml; charset=utf-8"})
	if err != nil {
		return nil, err
	}
	if code != 207 {
		return nil, fmt.Errorf("%s: status %d: %.300s", method, code, data)
	}
	var ms multistatus
	if err := xml.Unmarshal(data, &ms); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return &ms, nil
}

var hrefPath = regexp.MustCompile(`^https?://[^/]+`)

func (b *bench) fullSync() (time.Duration, error) {
	t0 := time.Now()
	ms, err := b.report("PROPFIND", b.cal, "1", `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`)
	if err != nil {
		return 0, err
	}
	var hrefs []string
	for _, r := range ms.Responses {
		if strings.HasSuffix(r.Href, ".ics") {
			hrefs = append(hrefs, hrefPath.ReplaceAllString(r.Href, ""))
		}
	}
	if len(hrefs) != b.events {
		return 0, fmt.Errorf("PROPFIND listed %d objects, want %d", len(hrefs), b.events)
	}
	got := 0
	for i := 0; i < len(hrefs); i += 100 {
		var q bytes.Buffer
		q.WriteString(`<?xml version="1.0"?><c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>`)
		for _, h := range hrefs[i:min(i+100, len(hrefs))] {
			q.WriteString("<d:href>" + h + "</d:href>")
		}
		q.WriteString("</c:calendar-multiget>")
		ms, err := b.report("REPORT", b.cal, "1", q.String())
		if err != nil {
			return 0, err
		}
		for _, r := range ms.Responses {
			for _, ps := range r.Propstat {
				if strings.Contains(ps.Prop.Data, "BEGIN:VCALENDAR") {
					got++
				}
			}
		}
	}
	if got != b.events {
		return 0, fmt.Errorf("multiget returned %d objects, want %d", got, b.events)
	}
	return time.Since(t0), nil
}

const syncQuery = `<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>%s</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`

func (b *bench) syncDelta() (time.Duration, error) {
	ms, err := b.report("REPORT", b.cal, "0", fmt.Sprintf(syncQuery, ""))
	if err != nil {
		return 0, err
	}
	token := ms.SyncToken
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		if err := b.expect("PUT", fmt.Sprintf("%sev-%d.ics", b.cal, i), edited(i, i), map[string]string{"Content-Type": "text/calendar"}, 201, 204); err != nil {
			return 0, err
		}
		t0 := time.Now()
		ms, err := b.report("REPORT", b.cal, "0", fmt.Sprintf(syncQuery, token))
		if err != nil {
			return 0, err
		}
		lat = append(lat, time.Since(t0))
		if len(ms.Responses) != 1 {
			return 0, fmt.Errorf("delta after one change has %d entries", len(ms.Responses))
		}
		token = ms.SyncToken
	}
	return pct(lat, 0.5), nil
}

// months is how many whole months the span covers.
func months() int { return spanDays / 31 }

// monthQuery asks for the month-th month of the span, expanded.
func monthQuery(month int) string {
	start := firstDay.AddDate(0, month, 0)
	end := start.AddDate(0, 1, 0)
	s, e := start.Format("20060102T150405Z"), end.Format("20060102T150405Z")
	return `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data><c:expand start="` +
		s + `" end="` + e + `"/></c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="` +
		s + `" end="` + e + `"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
}

// monthView runs one month query and returns how many objects came back.
// The answer is not parsed as XML: the client's parsing would be measured
// instead of the server.
func (b *bench) monthView(month int) (int, error) {
	code, data, _, err := b.do("REPORT", b.cal, monthQuery(month), map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
	if err != nil {
		return 0, err
	}
	if code != 207 {
		return 0, fmt.Errorf("month view: status %d: %.300s", code, data)
	}
	return bytes.Count(data, []byte("BEGIN:VCALENDAR")), nil
}

func (b *bench) monthViews(n int) (time.Duration, int, error) {
	var lat []time.Duration
	objs := 0
	for i := 0; i < n; i++ {
		t0 := time.Now()
		got, err := b.monthView(i % months())
		if err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(t0))
		objs = got
	}
	return pct(lat, 0.5), objs, nil
}

func (b *bench) mixed() (float64, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.mixedTime)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var failed error
	var wg sync.WaitGroup
	for w := 0; w < b.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				var err error
				if rng.IntN(10) < 8 {
					_, err = b.monthView(rng.IntN(months()))
				} else {
					i := rng.IntN(b.events)
					url := fmt.Sprintf("%sev-%d.ics", b.cal, i)
					var hdr http.Header
					if _, _, hdr, err = b.do("HEAD", url, "", nil); err == nil && hdr.Get("ETag") == "" {
						err = fmt.Errorf("HEAD %s: no ETag", url)
					}
					if err == nil {
						// Some servers answer 201 to every PUT; 412 means
						// another client won the race.
						err = b.expect("PUT", url, edited(i, rng.IntN(1000)), map[string]string{"Content-Type": "text/calendar", "If-Match": hdr.Get("ETag")}, 201, 204, 412)
					}
				}
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	if failed != nil {
		return 0, 0, failed
	}
	if len(lat) == 0 {
		return 0, 0, errors.New("no request finished")
	}
	return float64(len(lat)) / b.mixedTime.Seconds(), pct(lat, 0.99), nil
}
