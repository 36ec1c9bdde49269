package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// assets serves the embedded static files at content-hashed URLs
// (/static/css/app.3f2a9c1b0d4e.css), so they can be cached for a year and a
// new release is fetched at once.
type assets struct {
	urls  map[string]string // logical path -> hashed URL
	files map[string]asset  // hashed path (after /static/) -> file
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

func newAssets(fsys fs.FS) (*assets, error) {
	a := &assets{urls: map[string]string{}, files: map[string]asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) == ".go" {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		a.urls[name] = "/static/" + hashed
		a.files[hashed] = asset{body: body, ctype: ctype, etag: strconv.Quote(hash)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	return a, nil
}

// url returns the hashed URL of a logical path; it panics on a name that
// is not embedded, which is a programming error caught by any test.
func (a *assets) url(name string) string {
	u, ok := a.urls[name]
	if !ok {
		panic("static asset not embedded: " + name)
	}
	return u
}

// serve answers GET /static/{path...} and reports true, or false for a
// stale or unknown hash, having written nothing.
func (a *assets) serve(w http.ResponseWriter, r *http.Request) bool {
	f, ok := a.files[r.PathValue("path")]
	if !ok {
		return false
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h.Set("Content-Type", f.ctype)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.Write(f.body)
	return true
}

// static serves the embedded files; an unknown one gets the styled 404.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	if !s.assets.serve(w, r) {
		s.renderError(w, r, http.StatusNotFound)
	}
}
