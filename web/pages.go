package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// The pages, by their file name in the static folder.
const (
	indexPage    = "index.html"
	roomPage     = "room.html"
	notFoundPage = "404.html"
)

// contentTypes fixes the types of the files salon ships, whatever the
// host's mime.types says; with nosniff, a wrong type breaks the page.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webp":        "image/webp",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
	".webmanifest": "application/manifest+json",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// serveIndex answers GET /.
func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, indexPage, http.StatusOK)
}

// serveRoom answers GET /m/{slug} with the room page when the meeting
// exists.
func (s *Server) serveRoom(w http.ResponseWriter, r *http.Request) {
	if _, err := s.lookup(r, r.PathValue("slug")); err != nil {
		if ae := asAPIError(err); ae.Status == http.StatusNotFound {
			s.serveNotFound(w, r)
			return
		}
		s.log.ErrorContext(r.Context(), "room page", "path", r.URL.Path, "err", err)
		http.Error(w, "Something went wrong on the server. Try again in a moment.", http.StatusInternalServerError)
		return
	}
	s.serveFile(w, r, roomPage, http.StatusOK)
}

// serveNotFound answers with the 404 page.
func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, notFoundPage, http.StatusNotFound)
}

// serveStatic answers GET /static/{path...}. Hidden files and folders are
// not served, and folders are never listed.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	if !fs.ValidPath(name) || name == "." || hidden(name) {
		s.serveNotFound(w, r)
		return
	}
	s.serveFile(w, r, name, http.StatusOK)
}

func hidden(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

// serveFile answers with the static file name and status. Files are revalidated
// on every use (no-cache) against a content hash, so a new release is seen
// at once and an unchanged file costs a 304.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string, status int) {
	data, modTime, err := s.readStatic(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.ErrorContext(r.Context(), "read static file", "file", name, "err", err)
		}
		if name == notFoundPage || status == http.StatusNotFound {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		s.serveNotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(name))
	h.Set("Cache-Control", "no-cache")
	if status != http.StatusOK {
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			w.Write(data)
		}
		return
	}
	sum := sha256.Sum256(data)
	h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`)
	http.ServeContent(w, r, name, modTime, bytes.NewReader(data))
}

// readStatic returns a regular file of the static FS.
func (s *Server) readStatic(name string) ([]byte, time.Time, error) {
	fi, err := fs.Stat(s.static, name)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, time.Time{}, fs.ErrNotExist
	}
	data, err := fs.ReadFile(s.static, name)
	if err != nil {
		return nil, time.Time{}, err
	}
	return data, fi.ModTime(), nil
}
