package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestInvitationInBrowser follows an invitation as its recipient and an
// admin would, in Chromium: the admin reads it in the local mailbox (no
// relay configured), the attendee opens its RSVP link and answers with the
// page's own button, and the organizer's copy says so.
func TestInvitationInBrowser(t *testing.T) {
	srv := startSalon(t)
	const pass = "organizer password"
	srv.addUser("olga", "olga@example.org", pass)
	cmd := exec.Command(salonBin, "user", "add", "root", "--email", "root@example.org", "--admin", "--data", srv.data)
	cmd.Stdin = strings.NewReader(pass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("add admin: %v\n%s", err, out)
	}
	const uid = "browser-1@e2e"
	ev := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Paris:20310310T140000\r\nDTEND;TZID=Europe/Paris:20310310T150000" +
		"\r\nSUMMARY:Design <review> & lunch\r\nORGANIZER;CN=Olga:mailto:olga@example.org" +
		"\r\nATTENDEE;CN=Carol;RSVP=TRUE:mailto:carol@outside.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	resp, body := davRequest(t, "PUT", srv.base+"/dav/calendars/olga/default/browser.ics", "olga", pass, ev,
		map[string]string{"Content-Type": "text/calendar"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}

	// The admin's JSON view of the local mailbox names the links.
	var entry struct {
		State string   `json:"state"`
		Links []string `json:"links"`
	}
	waitFor(t, 10*time.Second, "the invitation in the local mailbox", func() bool {
		resp, body := davRequest(t, "GET", srv.base+"/api/v1/admin/mail/1", "root", pass, "", nil)
		return resp.StatusCode == http.StatusOK && json.Unmarshal([]byte(body), &entry) == nil
	})
	if entry.State != "local" || len(entry.Links) < 4 {
		t.Fatalf("mailbox entry: %+v", entry)
	}
	var rsvp string
	for _, l := range entry.Links {
		if strings.Contains(l, "/rsvp/") && strings.HasSuffix(l, "partstat=ACCEPTED") {
			rsvp = l
		}
	}
	if rsvp == "" {
		t.Fatalf("no Accept link among %v", entry.Links)
	}

	browser := newBrowser(t)
	dir := artifactsDir(t)

	// The admin reads the message as HTML, links clickable.
	actx, cancel := chromedp.NewContext(browser)
	defer cancel()
	admin := &participant{t: t, name: "admin", ctx: actx}
	authz := "Basic " + base64.StdEncoding.EncodeToString([]byte("root:"+pass))
	if err := chromedp.Do(actx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": authz}})
			return err
		}),
		chromedp.Navigate(srv.base+"/admin/mail/1"),
	); err != nil {
		t.Fatalf("admin mailbox page: %v", err)
	}
	admin.waitTrue(10*time.Second, "the message's HTML in its frame", `document.querySelector("iframe") !== null`)
	admin.screenshot(dir, "mailbox")
	if err := chromedp.Do(actx, chromedp.Navigate(srv.base+"/admin/mail/1/html")); err != nil {
		t.Fatalf("the invitation's HTML: %v", err)
	}
	admin.waitTrue(10*time.Second, "the invitation's join button", `[...document.links].some(a => a.href.includes("/m/"))`)
	admin.screenshot(dir, "invitation")

	// The attendee opens the link: the page shows the meeting and asks.
	pctx, cancel := chromedp.NewContext(browser)
	defer cancel()
	carol := &participant{t: t, name: "Carol", ctx: pctx}
	if err := chromedp.Do(pctx, chromedp.Navigate(rsvp)); err != nil {
		t.Fatalf("RSVP page: %v", err)
	}
	carol.waitTrue(10*time.Second, "the RSVP page", `document.querySelector("#rsvp-summary") !== null`)
	if title := carol.evalString(`document.querySelector("#rsvp-summary").textContent.trim()`); title != "Design <review> & lunch" {
		t.Errorf("RSVP page title %q", title)
	}
	carol.screenshot(dir, "rsvp-question")
	if ps := organizerPartStatOf(t, srv, "olga", pass, uid, "carol@outside.example"); ps != "NEEDS-ACTION" {
		t.Fatalf("opening the link answered already: %s", ps)
	}
	carol.click(`button[name="partstat"][value="ACCEPTED"]`)
	waitFor(t, 10*time.Second, "the answer in the organizer's copy", func() bool {
		return organizerPartStatOf(t, srv, "olga", pass, uid, "carol@outside.example") == "ACCEPTED"
	})
	carol.waitTrue(10*time.Second, "the confirmation page", `!document.querySelector("form.answers") || document.querySelector('button[value="ACCEPTED"].current') !== null`)
	carol.screenshot(dir, "rsvp-answered")
}
