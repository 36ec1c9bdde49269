package views

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A film's row, in each of its forms, with everything it shows escaped.
func TestMovieItem(t *testing.T) {
	at := time.Date(2026, 11, 24, 7, 6, 0, 0, time.UTC)
	alien := Movie{ID: "11111111-1111-1111-1111-111111111111", Title: `Alien <script>"&'`, Year: 1979, AddedBy: `Quiet <b>Otter</b>`,
		AddedByID: "u1", AddedAt: at, CanRemove: true, Next: "22222222-2222-2222-2222-222222222222"}
	heat := Movie{ID: "22222222-2222-2222-2222-222222222222", Title: "Heat", Watched: true, AddedBy: "Bold Fox", AddedByID: "u2", AddedAt: at}
	for _, tc := range []struct {
		name string
		live bool
		m    Movie
		want string
	}{
		{"removable, with a year, followed by another, HTML in the title and the name", false, alien,
			`<li class="movie" id="film-11111111-1111-1111-1111-111111111111" data-next="film-22222222-2222-2222-2222-222222222222"><div class="movie-text"><span class="movie-title">Alien &lt;script&gt;&#34;&amp;&#39;<span class="year"> (1979)</span></span> <span class="muted">added by Quiet &lt;b&gt;Otter&lt;/b&gt;, 24 Nov 2026, 07:06 UTC</span></div><form class="movie-actions" method="post" action="/l/LIST/movies/11111111-1111-1111-1111-111111111111/watched"><button name="watched" value="true" aria-pressed="false">Mark watched</button> <button formaction="/l/LIST/movies/11111111-1111-1111-1111-111111111111/delete" class="danger" aria-label="Remove Alien &lt;script&gt;&#34;&amp;&#39;">Remove</button></form></li>`},
		{"watched, not removable by this viewer", false, heat,
			`<li class="movie watched" id="film-22222222-2222-2222-2222-222222222222"><div class="movie-text"><span class="movie-title">Heat</span> <span class="muted">added by Bold Fox, 24 Nov 2026, 07:06 UTC</span></div><form class="movie-actions" method="post" action="/l/LIST/movies/22222222-2222-2222-2222-222222222222/watched"><button name="watched" value="false" aria-pressed="true">Watched ✓</button> </form></li>`},
		{"on a live page: Remove hidden, with its adder", true, alien,
			`<li class="movie" id="film-11111111-1111-1111-1111-111111111111" data-next="film-22222222-2222-2222-2222-222222222222"><div class="movie-text"><span class="movie-title">Alien &lt;script&gt;&#34;&amp;&#39;<span class="year"> (1979)</span></span> <span class="muted">added by Quiet &lt;b&gt;Otter&lt;/b&gt;, 24 Nov 2026, 07:06 UTC</span></div><form class="movie-actions" method="post" action="/l/LIST/movies/11111111-1111-1111-1111-111111111111/watched"><button name="watched" value="true" aria-pressed="false">Mark watched</button> <button formaction="/l/LIST/movies/11111111-1111-1111-1111-111111111111/delete" class="danger" aria-label="Remove Alien &lt;script&gt;&#34;&amp;&#39;" hidden data-added-by="u1">Remove</button></form></li>`},
		{"watched, on a live page", true, heat,
			`<li class="movie watched" id="film-22222222-2222-2222-2222-222222222222"><div class="movie-text"><span class="movie-title">Heat</span> <span class="muted">added by Bold Fox, 24 Nov 2026, 07:06 UTC</span></div><form class="movie-actions" method="post" action="/l/LIST/movies/22222222-2222-2222-2222-222222222222/watched"><button name="watched" value="false" aria-pressed="true">Watched ✓</button> <button formaction="/l/LIST/movies/22222222-2222-2222-2222-222222222222/delete" class="danger" aria-label="Remove Heat" hidden data-added-by="u2">Remove</button></form></li>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := (movieItem{"LIST", tc.live, &tc.m}).Render(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
