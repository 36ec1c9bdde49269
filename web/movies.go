package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
)

const (
	maxTitle  = 200
	firstYear = 1870 // the oldest surviving motion pictures
)

// checkMovie validates the add-a-film form, filling in its messages.
func checkMovie(f *views.MovieForm) (title string, year *int32, ok bool) {
	title, err := queries.CleanLine("title", f.Title, maxTitle, "title")
	if err != nil {
		f.TitleError = queries.ErrorMessage(err)
	}
	if y := strings.TrimSpace(f.Year); y != "" {
		last := time.Now().Year() + 1
		n, err := strconv.Atoi(y)
		switch {
		case err != nil || len(y) != 4:
			f.YearError = "A year is four digits, like 1994."
		case n < firstYear || n > last:
			f.YearError = fmt.Sprintf("The year must be between %d and %d.", firstYear, last)
		default:
			v := int32(n)
			year = &v
		}
	}
	return title, year, f.TitleError == "" && f.YearError == ""
}

// sameMovieMessage names the film a duplicate clashes with.
func sameMovieMessage(same queries.FindSameMovieForMemberRow) string {
	name := "“" + same.Title + "”"
	if same.Year != nil {
		name += fmt.Sprintf(" (%d)", *same.Year)
	}
	return name + " is already on this list, added by " + same.AddedByName + "."
}

// maxFilmsPerList bounds a list: every page view and every live
// (re)connect renders all of its films, and anyone with its invitation
// link may add them.
const maxFilmsPerList = 1000

// fullListMessage says so, with maxFilmsPerList written out.
const fullListMessage = "This list has 1,000 films, as many as a list can hold. Remove some (watched ones, say) before adding more."

// addMovie adds a film to a list the viewer is on. Bad input, duplicates
// and a full list re-render the page with the input and a message.
func (s *Server) addMovie(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil || !s.parseForm(w, r, "title", "year") {
		s.failUnlessAnswered(w, r, err)
		return
	}
	form := views.MovieForm{Title: r.PostFormValue("title"), Year: r.PostFormValue("year")}
	title, year, valid := checkMovie(&form)
	if !valid { // renderList answers 404 to anyone not on the list
		s.renderList(w, r, id, http.StatusUnprocessableEntity, func(l *views.ListPage) { l.Add = form })
		return
	}
	err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
		ctx := r.Context()
		same, err := q.FindSameMovieForMember(ctx, queries.FindSameMovieForMemberParams{ListID: id, UserID: userID, Title: title, Year: year})
		if err == nil {
			form.TitleError = sameMovieMessage(same)
			return queries.Errorf(queries.ECONFLICT, "%s", form.TitleError)
		}
		if err := q.LockFilmsOfList(ctx, id.String()); err != nil {
			return err
		}
		if n, err := q.CountFilmsForMember(ctx, queries.CountFilmsForMemberParams{ListID: id, UserID: userID}); err != nil {
			return err
		} else if n >= maxFilmsPerList {
			form.TitleError = fullListMessage
			return queries.Errorf(queries.ECONFLICT, "%s", form.TitleError)
		}
		_, err = q.AddMovieForMember(ctx, queries.AddMovieForMemberParams{ListID: id, UserID: userID, Title: title, Year: year})
		if err := queries.Translate(err); queries.ErrorCode(err) == queries.ECONFLICT {
			form.TitleError = "That film is already on this list."
			return err
		}
		return queries.Translate(err) // no row: not a member
	})
	switch queries.ErrorCode(err) {
	case queries.ECONFLICT:
		s.renderList(w, r, id, http.StatusConflict, func(l *views.ListPage) { l.Add = form })
	default:
		s.done(w, r, err, "/l/"+id.String()+"#films-heading")
	}
}

// movieAction reads the list and film ids of an action on a film.
func movieAction(r *http.Request) (list, movie uuid.UUID, err error) {
	if list, err = pathID(r, "id"); err == nil {
		movie, err = pathID(r, "movieID")
	}
	return list, movie, err
}

// deleteMovie removes a film; only whoever added it, or the list's owner.
func (s *Server) deleteMovie(w http.ResponseWriter, r *http.Request) {
	list, movie, err := movieAction(r)
	if err == nil {
		err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
			return notFoundUnless(q.DeleteMovieForAdderOrOwner(r.Context(), queries.DeleteMovieForAdderOrOwnerParams{ID: movie, ListID: list, UserID: userID}))
		})
	}
	s.done(w, r, err, "/l/"+list.String()+"#films-heading")
}

// watchedUnread answers a watched form that does not say which state it
// wants: guessing, or flipping, would undo a click sent twice.
const watchedUnread = "That form did not say whether to mark the film watched or unwatched, so nothing was changed."

// wantWatched reads the state a film's button asks for: watched=true or
// watched=false, exactly once.
func wantWatched(r *http.Request) (watched, ok bool) {
	if v := r.PostForm["watched"]; len(v) == 1 && (v[0] == "true" || v[0] == "false") {
		return v[0] == "true", true
	}
	return false, false
}

// setWatched marks a film watched or unwatched, as its button says
// (never flipping it, so a repeated or concurrent post ends in the state
// asked for); any member may.
func (s *Server) setWatched(w http.ResponseWriter, r *http.Request) {
	list, movie, err := movieAction(r)
	if err != nil || !s.parseForm(w, r) {
		s.failUnlessAnswered(w, r, err)
		return
	}
	watched, ok := wantWatched(r)
	if !ok {
		s.renderErrorMessage(w, r, http.StatusBadRequest, watchedUnread)
		return
	}
	err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
		return notFoundUnless(q.SetWatchedForMember(r.Context(), queries.SetWatchedForMemberParams{Watched: watched, ID: movie, ListID: list, UserID: userID}))
	})
	s.done(w, r, err, "/l/"+list.String()+"#films-heading")
}
