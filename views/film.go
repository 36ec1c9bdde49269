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
//	    <button name="watched" value="true" aria-pressed="false">Mark watched</button>
//	      (when watched: value="false" aria-pressed="true", "Watched ✓")
//	    <button formaction=".../delete" class="danger" aria-label="Remove {title}">Remove</button>
//	  </form>
//	</li>
//
// The watched button sends the state it asks for, not a toggle, so a
// double-click, a stale page or two members at once cannot undo it.
// "Remove" comes for a viewer who may remove the film (CanRemove) or, on a
// live page, for everyone, hidden, with data-added-by for the page's
// script to reveal it to the adder and the owner. The form's one
// button pair shares it: "Remove" posts to its own URL (formaction).
//
// It is written in Go, not templ, because a list page has dozens: templ
// copies each attribute value through fmt.Sprint and escapes it, which
// was a third of the page's render, and its thirty-odd pieces are
// appended to one buffer and written once. Every value is escaped here as
// templ escapes it (html.EscapeString, through appendText). Use it as
// @movieItem{listID, live, &movie}.
type movieItem struct {
	listID string
	live   bool
	m      *Movie
}

// Render writes the row.
func (r movieItem) Render(_ context.Context, w io.Writer) error {
	return writeAppended(w, r.append)
}

func (r movieItem) append(b []byte) []byte {
	m := r.m
	if m.Watched {
		b = append(b, `<li class="movie watched" id="film-`...)
	} else {
		b = append(b, `<li class="movie" id="film-`...)
	}
	b = appendText(b, m.ID)
	if m.Next != "" {
		b = appendText(append(b, `" data-next="film-`...), m.Next)
	}
	b = appendText(append(b, `"><div class="movie-text"><span class="movie-title">`...), m.Title)
	if m.Year != 0 {
		b = append(filmYear(m.Year).append(append(b, `<span class="year">`...)), `</span>`...)
	}
	b = appendByLine(append(b, `</span> <span class="muted">`...), m.AddedBy, m.AddedAt)
	b = r.appendURL(append(b, `</span></div><form class="movie-actions" method="post" action="`...), "/watched")
	if m.Watched {
		b = append(b, `"><button name="watched" value="false" aria-pressed="true">Watched ✓</button> `...)
	} else {
		b = append(b, `"><button name="watched" value="true" aria-pressed="false">Mark watched</button> `...)
	}
	if r.live || m.CanRemove {
		b = r.appendURL(append(b, `<button formaction="`...), "/delete")
		b = appendText(append(b, `" class="danger" aria-label="Remove `...), m.Title)
		if r.live {
			b = appendText(append(b, `" hidden data-added-by="`...), m.AddedByID)
		}
		b = append(b, `">Remove</button>`...)
	}
	return append(b, `</form></li>`...)
}

// appendURL appends the address of an action on the film, escaped.
func (r movieItem) appendURL(b []byte, action string) []byte {
	b = appendText(append(b, "/l/"...), r.listID)
	return append(appendText(append(b, "/movies/"...), r.m.ID), action...)
}
