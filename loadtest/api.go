package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// httpAPI is salon's JSON API as the room page and the scheduling page use
// it: JSON bodies and salon's own Origin.
type httpAPI struct {
	base   string
	client *http.Client
}

// apiError is a refusal from salon's API: the status and salon's error
// code ({"error": {"code", "message"}}).
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s", e.Status, e.Code)
}

func (a *httpAPI) post(ctx context.Context, path string, body any, out any, auth func(*http.Request)) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", a.base)
	if auth != nil {
		auth(req)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		var v struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &v) == nil {
			e.Code, e.Message = v.Error.Code, v.Error.Message
		}
		return e
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("answer of POST %s is not the expected JSON: %w", path, err)
	}
	return nil
}

// joinToken asks for a join token as the room page does; wsURL is where
// the signalling socket is.
func (a *httpAPI) joinToken(ctx context.Context, slug, name string) (token, wsURL string, err error) {
	var v struct {
		Token string `json:"token"`
		WS    string `json:"ws"`
	}
	if err := a.post(ctx, "/api/v1/meetings/"+url.PathEscape(slug)+"/join", map[string]string{"name": name}, &v, nil); err != nil {
		return "", "", err
	}
	if v.Token == "" {
		return "", "", fmt.Errorf("salon answered without a token")
	}
	ws, err := a.wsURL(v.WS)
	return v.Token, ws, err
}

// wsURL resolves the socket path of a join answer against the base URL.
func (a *httpAPI) wsURL(path string) (string, error) {
	if path == "" {
		path = "/ws"
	}
	base, err := url.Parse(a.base + "/")
	if err != nil {
		return "", err
	}
	u, err := base.Parse(path)
	if err != nil {
		return "", fmt.Errorf("salon's socket address %q: %w", path, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	return u.String(), nil
}

// createMeeting schedules a meeting an hour long, starting now, as user,
// and returns its slug.
func (a *httpAPI) createMeeting(ctx context.Context, user, password, title string) (string, error) {
	now := time.Now().UTC()
	body := map[string]any{
		"title": title, "start": now.Format("2006-01-02T15:04"), "end": now.Add(time.Hour).Format("2006-01-02T15:04"),
		"timeZone": "UTC", // no attendees: nobody is invited, the meeting still gets its room
	}
	var v struct {
		JoinURL string `json:"joinUrl"`
	}
	err := a.post(ctx, "/api/v1/meetings", body, &v, func(r *http.Request) { r.SetBasicAuth(user, password) })
	if err != nil {
		return "", err
	}
	_, slug, ok := strings.Cut(v.JoinURL, "/m/")
	if !ok || slug == "" {
		return "", fmt.Errorf("salon made the meeting but answered no join link (joinUrl %q)", v.JoinURL)
	}
	return slug, nil
}
