package web

import (
	"context"
	"crypto/rand"
	"math/big"
	"net/http"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
)

// roll throws the die for a list and shows the result.
func (s *Server) roll(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	var rollID uuid.UUID
	if err == nil {
		err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
			var err error
			rollID, err = rollDie(r.Context(), q, id, userID)
			return err
		})
	}
	switch {
	case err == errNothingToRoll:
		seeOther(w, r, "/l/"+id.String()+"?done=nothing-to-roll#roll")
	case err == errAllWatched:
		seeOther(w, r, "/l/"+id.String()+"?done=all-watched#roll")
	default:
		s.done(w, r, err, "/l/"+id.String()+"?rolled="+rollID.String()+"#roll")
	}
}

var (
	errNothingToRoll = queries.Errorf(queries.EINVALID, "There is nothing to roll yet.")
	errAllWatched    = queries.Errorf(queries.EINVALID, "Every film is watched.")
)

// rollDie picks one of the list's unwatched films uniformly at random
// (crypto/rand) and records the roll. With nothing to pick it records
// nothing and says why.
func rollDie(ctx context.Context, q *queries.Queries, list, user uuid.UUID) (uuid.UUID, error) {
	ids, err := q.ListUnwatchedMovieIDsForMember(ctx, queries.ListUnwatchedMovieIDsForMemberParams{ListID: list, UserID: user})
	if err != nil {
		return uuid.Nil, err
	}
	if len(ids) == 0 {
		if _, err := q.GetListForMember(ctx, queries.GetListForMemberParams{ID: list, UserID: user}); err != nil {
			return uuid.Nil, queries.Translate(err) // not on the list: 404
		}
		n, err := q.CountMoviesForMember(ctx, queries.CountMoviesForMemberParams{ListID: list, UserID: user})
		if err != nil {
			return uuid.Nil, err
		}
		if n == 0 {
			return uuid.Nil, errNothingToRoll
		}
		return uuid.Nil, errAllWatched
	}
	i, err := rand.Int(rand.Reader, big.NewInt(int64(len(ids))))
	if err != nil {
		return uuid.Nil, err
	}
	rollID, err := q.CreateRollForMember(ctx, queries.CreateRollForMemberParams{ListID: list, MovieID: ids[i.Int64()], UserID: user})
	return rollID, queries.Translate(err)
}
