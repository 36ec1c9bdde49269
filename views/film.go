package views

import (
	"context"
	"io"
)

// movieItem is one film's row on a list page:
//
//	<li class="movie[ watched]" id="film-{id}"[ data-next="film-{next}"]>
//	  <div class="movie-text">
//	    <span class="movie-title">{title}[<span class="year"> ({year})</span>]</span>
//	    <span class="muted">added by {name}, {when}</span>
//	  </div>
//	  <form class="movie-actions" method="post" action="/l/{list}/movies/{id}/watched">
//	    <button aria-pressed="false">Mark watched</button>  (or "true", "Watched ✓")
//	    <button formaction=".../delete" class="danger" aria-label="Remove {title}">Remove</button>
//	  </form>
//	</li>
//
// "Remove" comes for a viewer who may remove the film (CanRemove) or, on a
// live page, for everyone, hidden, with data-added-by for the page's
// script to reveal it to the adder and the owner. The form's one
// button pair shares it: "Remove" posts to its own URL (formaction).
//
// It is written in Go, not templ, because a list page has dozens: templ
// copies each attribute value through fmt.Sprint and escapes it, which
// was a third of the page's render. Every value is escaped here as templ
// escapes it (html.EscapeString, through text). Use it as
// @movieItem{listID, live, &movie}.
type movieItem struct {
	listID string
	live   bool
	m      *Movie
}

// Render writes the row.
func (r movieItem) Render(ctx context.Context, w io.Writer) error {
	m := r.m
	class := `<li class="movie" id="film-`
	if m.Watched {
		class = `<li class="movie watched" id="film-`
	}
	ew := errWriter{w: w}
	ew.raw(class).text(m.ID)
	if m.Next != "" {
		ew.raw(`" data-next="film-`).text(m.Next)
	}
	ew.raw(`"><div class="movie-text"><span class="movie-title">`).text(m.Title)
	if m.Year != 0 {
		ew.raw(`<span class="year">`).year(ctx, filmYear(m.Year)).raw(`</span>`)
	}
	ew.raw(`</span> <span class="muted">`).byLine(ctx, byLine{m.AddedBy, m.AddedAt})
	ew.raw(`</span></div><form class="movie-actions" method="post" action="`).movieURL(r.listID, m.ID, "/watched")
	if m.Watched {
		ew.raw(`"><button aria-pressed="true">Watched ✓</button> `)
	} else {
		ew.raw(`"><button aria-pressed="false">Mark watched</button> `)
	}
	if r.live || m.CanRemove {
		ew.raw(`<button formaction="`).movieURL(r.listID, m.ID, "/delete").
			raw(`" class="danger" aria-label="Remove `).text(m.Title)
		if r.live {
			ew.raw(`" hidden data-added-by="`).text(m.AddedByID)
		}
		ew.raw(`">Remove</button>`)
	}
	ew.raw(`</form></li>`)
	return ew.err
}

// errWriter writes until the first error, which it keeps.
type errWriter struct {
	w   io.Writer
	err error
}

// raw writes s as it is: markup.
func (e *errWriter) raw(s string) *errWriter {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
	return e
}

// text writes s escaped, in text or in a quoted attribute value.
func (e *errWriter) text(s string) *errWriter {
	if e.err == nil {
		e.err = text(s).Render(context.Background(), e.w)
	}
	return e
}

func (e *errWriter) year(ctx context.Context, y filmYear) *errWriter {
	if e.err == nil {
		e.err = y.Render(ctx, e.w)
	}
	return e
}

func (e *errWriter) byLine(ctx context.Context, b byLine) *errWriter {
	if e.err == nil {
		e.err = b.Render(ctx, e.w)
	}
	return e
}

// movieURL writes the address of an action on a film, escaped.
func (e *errWriter) movieURL(listID, movieID, action string) *errWriter {
	return e.raw("/l/").text(listID).raw("/movies/").text(movieID).raw(action)
}
