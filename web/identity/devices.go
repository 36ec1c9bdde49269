package identity

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/mileusna/useragent"

	"github.com/moviedice/moviedice/queries"
)

// Device is one signed-in browser of a user.
type Device struct {
	ID         uuid.UUID
	CreatedAt  time.Time
	LastSeenAt time.Time
	// Browser is a readable name from the user agent ("Firefox on Linux").
	Browser string
	// Current marks the device making the request.
	Current bool
}

// Account is what the account page shows of the session user besides
// the session itself: their devices, most recently seen first, and how
// many merges into them are still running or were given up on.
type Account struct {
	Devices                     []Device
	PendingMerges, FailedMerges int
}

// Account reads the session user's Account, in one query.
func (s *Service) Account(ctx context.Context, sess *Session) (Account, error) {
	var rows []queries.ListDevicesForUserRow
	err := queries.ReadAsUser(ctx, s.pool, sess.UserID, func(q *queries.Queries) (err error) {
		rows, err = q.ListDevicesForUser(ctx, sess.UserID)
		return err
	})
	if err != nil {
		return Account{}, fmt.Errorf("account: %w", err)
	}
	var a Account
	for _, r := range rows {
		a.Devices = append(a.Devices, Device{ID: r.ID, CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt,
			Browser: browserName(r.UserAgent), Current: r.ID == sess.DeviceID})
		a.PendingMerges, a.FailedMerges = int(r.PendingMerges), int(r.FailedMerges)
	}
	return a, nil
}

func browserName(ua string) string {
	p := useragent.Parse(ua)
	name, os := p.Name, p.OS
	switch {
	case name == "" && os == "":
		return "Unknown browser"
	case os == "":
		return name
	case name == "":
		return "A browser on " + os
	}
	return name + " on " + os
}

// SignOutDevice deletes one of the session user's devices; another user's
// device (or none) is ENOTFOUND.
func (s *Service) SignOutDevice(ctx context.Context, sess *Session, deviceID uuid.UUID) error {
	var n int64
	err := queries.ReadAsUser(ctx, s.pool, sess.UserID, func(q *queries.Queries) (err error) {
		n, err = q.DeleteDeviceForUser(ctx, queries.DeleteDeviceForUserParams{ID: deviceID, UserID: sess.UserID})
		return err
	})
	if err != nil {
		return fmt.Errorf("sign out device: %w", err)
	}
	if n == 0 {
		return queries.Errorf(queries.ENOTFOUND, "Not found.")
	}
	s.cached.forgetDevice(deviceID)
	return nil
}

// SignOutOthers deletes every device of the session user but this one.
func (s *Service) SignOutOthers(ctx context.Context, sess *Session) (int64, error) {
	var n int64
	err := queries.ReadAsUser(ctx, s.pool, sess.UserID, func(q *queries.Queries) (err error) {
		n, err = q.DeleteOtherDevicesForUser(ctx, queries.DeleteOtherDevicesForUserParams{UserID: sess.UserID, KeepID: sess.DeviceID})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sign out others: %w", err)
	}
	s.cached.forgetUser(sess.UserID)
	return n, nil
}

// Stranded is what signing a browser out would put out of its user's
// reach: the lists it started and joined, and the films it added.
type Stranded struct {
	Lists, Memberships, Movies int64
}

// SignOut deletes this browser's device and clears its cookie. The user
// and its data stay, reachable with its recovery code. Unless confirmed,
// it first asks whether the user has no code (then this browser is its
// only device: any other signed in with the code) and has made or joined
// anything: then it changes nothing and returns what would be out of
// reach, for the user to confirm or to get a code first.
func (s *Service) SignOut(w http.ResponseWriter, r *http.Request, confirmed bool) (*Stranded, error) {
	sess := FromContext(r.Context())
	if sess != nil && !confirmed && sess.SecuredAt == nil {
		var st *Stranded
		_, err := s.ActAs(r, func(ctx context.Context, q *queries.Queries, userID uuid.UUID) error {
			data, err := q.CountUserData(ctx, userID)
			if err == nil && !data.Secured && data.Lists+data.Memberships+data.Movies > 0 {
				st = &Stranded{Lists: data.Lists, Memberships: data.Memberships, Movies: data.Movies}
			}
			return err
		})
		if err != nil && queries.ErrorCode(err) != queries.ENOTFOUND {
			return nil, fmt.Errorf("sign out: %w", err)
		}
		if st != nil {
			return st, nil
		}
	}
	if sess != nil {
		if err := s.SignOutDevice(r.Context(), sess, sess.DeviceID); err != nil && queries.ErrorCode(err) != queries.ENOTFOUND {
			return nil, err
		}
	}
	s.clearCookie(w)
	return nil, nil
}
