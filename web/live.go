package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
	"github.com/moviedice/moviedice/web/live"
)

// liveRollWindow: a roll this recent animates in the live fragment, so
// everyone watching sees the die tumble.
const liveRollWindow = 5 * time.Second

// liveList is GET /l/{id}/live: the list's websocket. Membership is checked
// before the upgrade; anyone else gets the 404 a missing list gets. The
// hub checks again, with mayFollow, once the connection is registered.
func (s *Server) liveList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	sess := identity.FromContext(r.Context())
	switch {
	case err != nil:
	case sess == nil:
		err = errNotFound
	default:
		err = s.onList(r.Context(), id, sess.UserID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The websocket library compares an Origin's host only, and answers
	// in plain text: the scheme counts too, and a refusal is a page.
	switch origin := r.Header.Get("Origin"); {
	case origin != "" && !s.ownOrigin(r, origin):
		s.renderErrorMessage(w, r, http.StatusForbidden, "A live connection to this list can only be opened from the list's own page.")
		return
	case !upgradesToWebsocket(r.Header):
		w.Header().Set("Upgrade", "websocket")
		s.renderErrorMessage(w, r, http.StatusUpgradeRequired, "This address is the list's live connection, which the list page opens by itself. Open the list instead.")
		return
	}
	sub := live.Subscriber{List: id, Device: sess.DeviceID, User: sess.UserID}
	switch err := s.hub.Serve(w, r, sub, s.mayFollow, []string{s.baseURL.Host}); {
	case errors.Is(err, live.ErrTooMany):
		s.renderErrorMessage(w, r, http.StatusTooManyRequests, "This browser has too many live connections open. Close a few tabs.")
	case errors.Is(err, live.ErrClosed):
		s.renderErrorMessage(w, r, http.StatusServiceUnavailable, "MovieDice is restarting. The list page reconnects by itself in a moment.")
	case err != nil:
		s.log.DebugContext(r.Context(), "live: not upgraded", "err", err)
	}
}

// ownOrigin: origin (a browser's Origin header) is this site's: the base
// URL's scheme, and its host or the one the request was sent to.
func (s *Server) ownOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Scheme, s.baseURL.Scheme) && u.Path == "" &&
		(strings.EqualFold(u.Host, s.baseURL.Host) || strings.EqualFold(u.Host, r.Host))
}

// upgradesToWebsocket: the request asks to become a websocket (Upgrade
// names it among its tokens).
func upgradesToWebsocket(h http.Header) bool {
	for _, v := range h.Values("Upgrade") {
		for token := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "websocket") {
				return true
			}
		}
	}
	return false
}

// onList reads, acting as user, whether user is on list: ENOTFOUND if not.
func (s *Server) onList(ctx context.Context, list, user uuid.UUID) error {
	return queries.ReadAsUser(ctx, s.pool, user, func(q *queries.Queries) error {
		member, err := q.IsListMember(ctx, queries.IsListMemberParams{ListID: list, UserID: user})
		if err == nil && !member {
			err = errNotFound
		}
		return err
	})
}

// mayFollow is the hub's live.Check: the subscriber's device is still
// signed in, as its user, and that user still on the list. A device a
// claim replaced lately, or merged into another user, is not signed out:
// the browser uses another account now (live.ErrSwitched).
func (s *Server) mayFollow(ctx context.Context, sub live.Subscriber) error {
	dev, err := s.q.GetSessionForDevice(ctx, sub.Device)
	switch err = queries.Translate(err); {
	case err == nil && dev.UserID != sub.User:
		return live.ErrSwitched
	case queries.ErrorCode(err) == queries.ENOTFOUND:
		replaced, err := s.q.WasDeviceReplaced(ctx, sub.Device)
		switch {
		case err != nil:
			return err
		case replaced:
			return live.ErrSwitched
		}
		return live.ErrSignedOut
	case err != nil:
		return err
	}
	err = s.onList(ctx, sub.List, sub.User)
	if queries.ErrorCode(err) == queries.ENOTFOUND {
		return live.ErrRemoved
	}
	return err
}

// renderLive is the hub's Renderer: the list's live fragment, read acting
// as one of its subscribers and rendered the same for every member.
func (s *Server) renderLive(ctx context.Context, list, asUser uuid.UUID, u live.Update) ([]byte, int64, bool, error) {
	page := &views.ListPage{ID: list.String()}
	which := views.LiveParts{Name: u.Parts&live.PartName != 0, Roll: u.Parts&live.PartRoll != 0, Movies: u.Parts&live.PartMovies != 0,
		EarlierRolls: u.Parts&live.PartEarlierRolls != 0, Members: u.Parts&live.PartMembers != 0, Count: u.Parts&live.PartCount != 0}
	parts := u.Parts
	if len(u.Films) > 0 {
		parts &^= live.PartCount // loadFilms counts them
	}
	// One statement reads in the act-as round trip; parts and single
	// films together (the rolled film removed) take a transaction, read
	// committed: its two reads may see different commits, the later one's
	// version goes out, and the next change's update shows both.
	read := queries.ReadAsUser
	if parts != 0 && len(u.Films) > 0 {
		read = queries.InTxAsUser
	}
	err := read(ctx, s.pool, asUser, func(q *queries.Queries) error {
		var err error
		if parts != 0 {
			if page, err = s.loadList(ctx, q, asUser, list, parts); err != nil {
				return err
			}
		}
		if len(u.Films) > 0 {
			err = s.loadFilms(ctx, q, asUser, list, u.Films, page, &which)
		}
		return err
	})
	if queries.ErrorCode(err) == queries.ENOTFOUND {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	page.Live, page.Owner = true, false
	for i := range page.Members {
		page.Members[i].You = false
	}
	page.JustRolled = len(page.Rolls) > 0 && time.Since(page.Rolls[0].At) < liveRollWindow
	var buf bytes.Buffer
	if err := views.LiveFragment(*page, which).Render(ctx, &buf); err != nil {
		return nil, 0, false, err
	}
	return buf.Bytes(), page.Version, true, nil
}

// loadFilms reads the given films of a list as they are now, for a
// live update of single films: those that still exist go to which.Films,
// each naming the film after it, the others to which.Gone. The list's
// version and unwatched count come along.
func (s *Server) loadFilms(ctx context.Context, q *queries.Queries, viewer, list uuid.UUID, films []uuid.UUID, page *views.ListPage, which *views.LiveParts) error {
	f, err := q.GetListFilmsForMember(ctx, queries.GetListFilmsForMemberParams{ID: list, UserID: viewer, Films: films})
	if err != nil {
		return queries.Translate(err)
	}
	page.Version, page.Unwatched = max(page.Version, f.Version), f.Unwatched
	found := make(map[uuid.UUID]bool, len(f.MovieIds))
	for i, id := range f.MovieIds {
		found[id] = true
		m := views.Movie{ID: id.String(), Title: f.MovieTitles[i], Year: f.MovieYears[i], Watched: f.MovieWatched[i],
			AddedBy: f.MovieAddedByNames[i], AddedByID: f.MovieAddedBy[i].String(), AddedAt: f.MovieCreated[i]}
		if next := f.MovieNextIds[i]; next != uuid.Nil {
			m.Next = next.String()
		}
		which.Films = append(which.Films, m)
	}
	for _, id := range films {
		if !found[id] {
			which.Gone = append(which.Gone, id.String())
		}
	}
	return nil
}

// renderPresence is the hub's presence renderer: the names of the users
// looking at a list now (display names are shown to everyone on a list).
func (s *Server) renderPresence(ctx context.Context, _ uuid.UUID, users []uuid.UUID) ([]byte, error) {
	rows, err := s.q.ListDisplayNames(ctx, users)
	if err != nil {
		return nil, err
	}
	names := make([]views.Viewer, len(rows))
	for i, r := range rows {
		names[i] = views.Viewer{ID: r.ID.String(), Name: r.DisplayName}
	}
	var buf bytes.Buffer
	if err := views.PresenceList(names).Render(ctx, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// notify sends a notification through the pool, for the hub.
func (s *Server) notify(ctx context.Context, channel, payload string) error {
	return s.q.Announce(ctx, queries.AnnounceParams{Channel: channel, Payload: payload})
}
