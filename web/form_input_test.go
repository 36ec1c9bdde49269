package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// What someone typed comes back in its field with a message next to it,
// whatever bytes it held; a field nobody types in, a field name, or a body
// that is not a form at all is refused whole. None of it changes anything.
func TestFormsShowBackWhatWasTyped(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("Films")
	res, _ := b.post(list+"/movies", "title", "Alien", "year", "1979")
	mustRedirect(t, res, list)

	refused := []struct {
		name, path, body string
		status           int
		wants            []string
	}{
		{"a title that is not UTF-8", list + "/movies", "title=Ali%FFen", 422, []string{
			`id="movie-title-error" role="alert">The title contains bytes that are not text.<`,
			`name="title" type="text" maxlength="200" required value="Ali` + "\ufffd" + `en"`}},
		{"a title with a NUL byte", list + "/movies", "title=Ali%00en", 422, []string{
			`id="movie-title-error" role="alert">A title cannot contain control characters or line breaks.<`,
			`value="Ali` + "\ufffd" + `en"`}},
		{"a year that is not UTF-8", list + "/movies", "title=Heat&year=19%FE5", 422, []string{
			`A year is four digits, like 1994.`, `value="19` + "\ufffd" + `5"`, `value="Heat"`}},
		{"a list name with a direction override", "/lists", "name=" + "Mine%E2%80%AE2+days+ago", 422, []string{
			`id="list-name-error" role="alert">A list name cannot contain characters that change the direction of text.<`,
			`value="Mine` + "\ufffd" + `2 days ago"`}},
		{"a rename that is not UTF-8", list + "/rename", "name=%C3%28", 422, []string{
			`id="list-rename-error" role="alert">The list name contains bytes that are not text.<`, `value="` + "\ufffd" + `("`}},
		{"a display name with a line break", "/account/name", "display_name=Quiet%0D%0AOtter", 422, []string{
			`id="display-name-error" role="alert">A name cannot contain control characters or line breaks.<`,
			`value="Quiet` + "\ufffd\ufffd" + `Otter"`}},
		{"a recovery code that is not UTF-8", "/claim", "code=%FF%FE", 422, []string{
			`24 letters and digits`, `value="` + "\ufffd\ufffd" + `"`}},
		{"a watched value that is not UTF-8", list + "/movies/00000000-0000-4000-8000-000000000000/watched", "watched=%FF", 400, []string{
			`contained bytes that are not text`}},
		{"a field name that is not UTF-8", list + "/movies", "title=Heat&%FF=1", 400, []string{`contained bytes that are not text`}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := a.snapshot(t)
			res, body := b.postRaw(tt.path, tt.body)
			mustSee(t, res, body, tt.status, tt.wants...)
			for _, bad := range []string{"\x00", "\r", "\u202e", "\xff", "\xfe"} {
				if strings.Contains(body, bad) {
					t.Errorf("the page carries %+q", bad)
				}
			}
			if a.snapshot(t) != before {
				t.Errorf("a refused form changed the database")
			}
		})
	}

	send := func(t *testing.T, path, contentType string, body []byte) (*http.Response, string) {
		req, _ := http.NewRequest("POST", a.URL+path, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		return b.do(req)
	}
	for _, tt := range []struct{ name, contentType, body string }{
		{"a JSON body", "application/json", `{"title":"Heat"}`},
		{"a plain text body", "text/plain", "title=Heat"},
		{"a body without a type", "", "title=Heat"},
		{"a multipart body without its boundary", "multipart/form-data", "title=Heat"},
	} {
		t.Run(tt.name+" is not read as an empty form", func(t *testing.T) {
			before := a.snapshot(t)
			res, body := send(t, list+"/movies", tt.contentType, []byte(tt.body))
			if tt.contentType == "multipart/form-data" {
				mustSee(t, res, body, 400, "could not be read")
			} else {
				mustSee(t, res, body, 415, "not sent as a web form")
			}
			if strings.Contains(body, "Please enter a title") {
				t.Errorf("told to enter a title it never read")
			}
			if a.snapshot(t) != before {
				t.Errorf("the database changed")
			}
		})
	}
	t.Run("a multipart form adds its film", func(t *testing.T) {
		var body bytes.Buffer
		m := multipart.NewWriter(&body)
		m.WriteField("title", "Heat")
		m.WriteField("year", "1995")
		m.Close()
		res, _ := send(t, list+"/movies", m.FormDataContentType(), body.Bytes())
		mustRedirect(t, res, list)
		if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE title = 'Heat' AND year = 1995"); n != 1 {
			t.Errorf("%d films called Heat (1995), want 1", n)
		}
	})
	t.Run("an oversize multipart form is refused as too large", func(t *testing.T) {
		var body bytes.Buffer
		m := multipart.NewWriter(&body)
		m.WriteField("title", strings.Repeat("x", maxFormBytes))
		m.Close()
		before := a.snapshot(t)
		res, page := send(t, list+"/movies", m.FormDataContentType(), body.Bytes())
		mustSee(t, res, page, 413, "far larger")
		if a.snapshot(t) != before {
			t.Errorf("the database changed")
		}
	})
	t.Run("a post without a body is a form without fields", func(t *testing.T) {
		res, body := send(t, "/lists", "", nil)
		mustSee(t, res, body, 422, `id="list-name-error" role="alert">Please enter a list name.<`)
	})
}

// TestEveryPostTakesOnlyAForm: each POST route of the route table, sent
// by the owner with their own ids, refuses a body that is not a form
// (415) and a form repeating a field (400), changing nothing. (Their
// proper forms, the IDOR sweep sends.)
func TestEveryPostTakesOnlyAForm(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t)
	table := a.sweepTable()
	for _, pattern := range a.srv.patterns {
		method, _, _ := strings.Cut(pattern, " ")
		if method != http.MethodPost {
			continue
		}
		t.Run(pattern, func(t *testing.T) {
			path := table[pattern].path(w, w.o, ownIDs)
			form := table[pattern].form
			if len(form) == 0 {
				form = []string{"confirm", "no"}
			}
			body := url.Values{}
			for i := 0; i+1 < len(form); i += 2 {
				body.Add(form[i], form[i+1])
			}
			plain := body.Encode()
			body.Add(form[0], form[1]) // the first field twice
			for _, tt := range []struct {
				contentType, body string
				status            int
				says              string
			}{
				{"text/plain", plain, http.StatusUnsupportedMediaType, "not sent as a web form"},
				{"application/json", `{"confirm":"yes"}`, http.StatusUnsupportedMediaType, "not sent as a web form"},
				{"application/x-www-form-urlencoded", body.Encode(), http.StatusBadRequest, "sent one of its fields more than once"},
			} {
				before := a.snapshot(t)
				req, _ := http.NewRequest("POST", a.URL+path, strings.NewReader(tt.body))
				req.Header.Set("Content-Type", tt.contentType)
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				res, page := w.o.do(req)
				mustSee(t, res, page, tt.status, tt.says)
				if a.snapshot(t) != before {
					t.Errorf("%s body: the database changed", tt.contentType)
				}
			}
		})
	}
}
