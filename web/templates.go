package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"golang.org/x/text/language"
)

// The server-rendered pages (RSVP, admin mailbox, their errors). Unlike
// the room UI they need no script: each is one form or one listing, and
// mail scanners and locked-down browsers must see them whole.
//
//go:embed templates
var templateFiles embed.FS

// Page templates, by the file that holds their "content".
const (
	rsvpTemplate      = "rsvp.html"
	errorTemplate     = "error.html"
	mailListTemplate  = "admin_mail_list.html"
	mailEntryTemplate = "admin_mail_entry.html"
)

// pageTemplates holds one template set per page, each with the layout.
var pageTemplates = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range []string{rsvpTemplate, errorTemplate, mailListTemplate, mailEntryTemplate} {
		m[name] = template.Must(template.New(name).ParseFS(templateFiles, "templates/layout.html", "templates/"+name))
	}
	return m
}()

// page is what the layout needs, plus the page's own data.
type page struct {
	Lang   string
	T      map[string]string // the page's strings in Lang; see catalog
	Title  string
	Styles []string // stylesheets after site.css
	Class  string   // of <main>, for the page's own layout
	Data   any
}

// Tr returns the page's string for key, formatted with args when given.
// A key missing from the catalog shows as such rather than as nothing, so
// that TestPagesHaveEveryString catches it.
func (p page) Tr(key string, args ...any) string {
	t, ok := p.T[key]
	if !ok {
		return "[missing " + key + "]"
	}
	if len(args) > 0 {
		return fmt.Sprintf(t, args...)
	}
	return t
}

// newPage returns a page in lang (en when salon does not speak it).
func newPage(lang, titleKey string, data any) page {
	if _, ok := catalog[lang]; !ok {
		lang = "en"
	}
	t := catalog[lang]
	return page{Lang: lang, T: t, Title: t[titleKey], Data: data}
}

// renderPage answers with the template name filled with p. It renders to a
// buffer first, so that a template error becomes a clean 500 rather than
// half a page.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := pageTemplates[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "template", name, "path", r.URL.Path, "err", err)
		http.Error(w, catalog[p.Lang]["err.internal.text"], http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// pageLanguages are the languages of the catalog, the first the default.
var pageLanguages = language.NewMatcher([]language.Tag{language.English, language.French})

// maxAcceptLanguage bounds the header given to the matcher.
const maxAcceptLanguage = 512

// preferredLang returns the page language for r from Accept-Language, for
// pages that have no better source (the RSVP pages use the organizer's).
func preferredLang(r *http.Request) string {
	al := r.Header.Get("Accept-Language")
	if al == "" || len(al) > maxAcceptLanguage {
		return "en"
	}
	_, i := language.MatchStrings(pageLanguages, al)
	if i == 1 {
		return "fr"
	}
	return "en"
}
