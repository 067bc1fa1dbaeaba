package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/meeting"
)

// maxJoinBody bounds a join request body; a name needs far less.
const maxJoinBody = 4 << 10

// meetingInfo is the public view of a meeting: what anyone holding its link
// may see.
type meetingInfo struct {
	Slug  string `json:"slug"`
	Title string `json:"title"`
}

// serveMeeting answers GET /api/v1/meetings/{slug}.
func (s *Server) serveMeeting(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookup(r, r.PathValue("slug"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meetingInfo{Slug: m.Slug, Title: m.Title})
}

type joinRequest struct {
	Name *string `json:"name"`
}

type joinResponse struct {
	Token      string      `json:"token"`
	ExpiresAt  time.Time   `json:"expiresAt"`
	WS         string      `json:"ws"`
	ICEServers []iceServer `json:"iceServers"`
}

// iceServer is one RTCIceServer entry for the browser. salon announces
// none yet: media reaches salon directly on its one UDP/TCP port.
type iceServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// serveJoin answers POST /api/v1/meetings/{slug}/join with a join token for
// the WebSocket (docs/protocol.md, "Getting in").
func (s *Server) serveJoin(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	if !s.joinLimit.allow(r) {
		s.metrics.joinRefused(errRateLimited)
		w.Header().Set("Retry-After", "2")
		s.writeError(w, r, errRateLimited)
		return
	}
	name, err := s.readJoinRequest(w, r)
	if err != nil {
		s.metrics.joinRefused(err)
		s.writeError(w, r, err)
		return
	}
	if _, err := s.lookup(r, slug); err != nil {
		s.metrics.joinRefused(err)
		s.writeError(w, r, err)
		return
	}
	expires := s.now().Add(s.ttl).Truncate(time.Second)
	token, err := s.tokens.SignJoin(auth.JoinClaims{Room: slug, Name: name, Expires: expires})
	if err != nil {
		s.metrics.joinRefused(err)
		s.writeError(w, r, fmt.Errorf("sign join token: %w", err))
		return
	}
	s.metrics.joinIssued()
	writeJSON(w, http.StatusOK, joinResponse{
		Token:      token,
		ExpiresAt:  expires.UTC(),
		WS:         "/ws",
		ICEServers: []iceServer{},
	})
}

// readJoinRequest checks where a join request comes from and what it
// carries, and returns the display name.
func (s *Server) readJoinRequest(w http.ResponseWriter, r *http.Request) (string, error) {
	// Requiring JSON keeps out cross-site HTML forms, which can only send
	// form encodings and text/plain; the Origin check keeps out scripts on
	// other sites.
	if err := s.checkOrigin(r); err != nil {
		return "", err
	}
	if err := requireJSON(r); err != nil {
		return "", err
	}
	var req joinRequest
	if err := decodeJSON(w, r, maxJoinBody, &req); err != nil {
		return "", err
	}
	if req.Name == nil {
		return "", errBadName.withCause(errors.New("no name field"))
	}
	name, err := meeting.CleanDisplayName(*req.Name)
	if err != nil {
		return "", errBadName.withCause(err)
	}
	return name, nil
}

// lookup returns the meeting named slug; an invalid slug is simply not found.
func (s *Server) lookup(r *http.Request, slug string) (meeting.Meeting, error) {
	if !meeting.ValidSlug(slug) {
		return meeting.Meeting{}, errMeetingNotFound.withCause(fmt.Errorf("invalid slug %q", slug))
	}
	return s.meetings.Get(r.Context(), slug)
}

// checkOrigin accepts requests without an Origin header (not from a
// browser script) and those whose Origin is this server's, as seen in the
// Host header or configured as the public URL.
func (s *Server) checkOrigin(r *http.Request) error {
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	got, ok := origin(o)
	if !ok {
		return errCrossOrigin.withCause(fmt.Errorf("origin %q", o))
	}
	if s.publicOrigin != "" && got == s.publicOrigin {
		return nil
	}
	// The scheme is not compared: behind a TLS-terminating proxy salon sees
	// http while the browser says https.
	_, host, _ := strings.Cut(got, "://")
	if strings.EqualFold(host, r.Host) || strings.EqualFold(host, stripDefaultPort(r.Host)) {
		return nil
	}
	return errCrossOrigin.withCause(fmt.Errorf("origin %q, host %q", o, r.Host))
}

func stripDefaultPort(host string) string {
	if h, ok := strings.CutSuffix(host, ":443"); ok {
		return h
	}
	h, _ := strings.CutSuffix(host, ":80")
	return h
}

// requireJSON accepts application/json, with at most a UTF-8 charset.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errNotJSON.withCause(fmt.Errorf("content type %q", ct))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errNotJSON.withCause(fmt.Errorf("charset %q", cs))
	}
	return nil
}

// decodeJSON reads exactly one JSON value of at most limit bytes into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	err := dec.Decode(v)
	if err == nil {
		// Anything after the value is a mistake, or a second value.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON value")
		}
	}
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return errTooLarge.withCause(err)
	}
	return errBadJSON.withCause(err)
}
