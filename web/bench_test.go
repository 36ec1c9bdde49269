package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moviedice/moviedice/web/identity"
)

// benchRPS runs send from 32 concurrent clients over keep-alive connections
// to the test server on 127.0.0.1 and reports requests per second.
func benchRPS(b *testing.B, send func(c *http.Client) (*http.Response, error), want int) {
	b.SetParallelism(16) // 16 × GOMAXPROCS(2) = 32 clients
	var failures atomic.Int64
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for pb.Next() {
			res, err := send(c)
			if err != nil || res.StatusCode != want {
				failures.Add(1)
				continue
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}

// BenchmarkFirstContribution is a visitor's first POST /lists: mint a user
// and a device, create the list, set the cookie.
func BenchmarkFirstContribution(b *testing.B) {
	a := mustAppWith(b, identity.Config{MintsPerMinute: 100_000_000})
	form := url.Values{"name": {"Friday films"}}.Encode()
	benchRPS(b, func(c *http.Client) (*http.Response, error) {
		return c.Post(a.URL+"/lists", "application/x-www-form-urlencoded", strings.NewReader(form))
	}, http.StatusSeeOther)
	if n := a.db.MustCount(b, "SELECT count(*) FROM users"); n < int64(b.N) {
		b.Fatalf("%d users for %d requests", n, b.N)
	}
}

// BenchmarkAccountPage is a signed-in GET /account with three devices.
func BenchmarkAccountPage(b *testing.B) {
	a := mustApp(b)
	br := a.browser(b)
	br.mustStartList("Mine")
	code := br.mustGetCode()
	for range 2 {
		a.browser(b).post("/claim", "code", code)
	}
	u, _ := url.Parse(a.URL)
	cookies := br.client.Jar.Cookies(u)
	benchRPS(b, func(c *http.Client) (*http.Response, error) {
		req, _ := http.NewRequest("GET", a.URL+"/account", nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		return c.Do(req)
	}, http.StatusOK)
}

// BenchmarkListPageHandler is the Go side of a member's GET /l/{id} with 50
// films and 5 members, as cmd/loadtest's page: the handler called
// directly, PostgreSQL's round trip included but no HTTP on the wire, so
// what one page costs the server (with -benchmem, its allocations).
func BenchmarkListPageHandler(b *testing.B) {
	a := mustApp(b)
	owner := a.browser(b)
	list := owner.mustStartList("Friday films")
	var token string
	if err := a.db.Super(b).QueryRow(context.Background(), "SELECT invite_token FROM lists").Scan(&token); err != nil {
		b.Fatal(err)
	}
	members := []*browser{owner}
	for range 4 {
		m := a.browser(b)
		m.post("/join/" + token)
		members = append(members, m)
	}
	for i := range 50 {
		members[i%5].post(list+"/movies", "title", fmt.Sprintf("Film number %d", i+1), "year", strconv.Itoa(1950+i))
	}
	if n := a.db.MustCount(b, "SELECT count(*) FROM movies"); n != 50 {
		b.Fatalf("%d films", n)
	}
	u, _ := url.Parse(a.URL)
	cookies := owner.client.Jar.Cookies(u)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", list, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		a.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
