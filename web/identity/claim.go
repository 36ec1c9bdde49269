package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/securecookie"
	"github.com/jackc/pgx/v5"

	"github.com/moviedice/moviedice/queries"
)

// claimTokenTTL is how long a merge preview can be confirmed.
const claimTokenTTL = 15 * time.Minute

var (
	errMalformed = queries.FieldError("code", CodeFormatHint)
	errWrongCode = queries.FieldError("code", "That code does not match any account. Check it and try again.")
	errTooMany   = &queries.Error{Code: queries.ETOOMANY,
		Message: "Too many attempts to paste a code just now. Please wait a minute and try again."}
	errStaleToken = &queries.Error{Code: queries.EINVALID,
		Message: "This confirmation has expired or belongs to another browser. Paste your recovery code again."}
	errBusy = &queries.Error{Code: queries.ETOOMANY,
		Message: "The server is busy checking codes just now. Please try again in a moment."}
	errTooManyCodes = &queries.Error{Code: queries.ETOOMANY,
		Message: "You asked for several new codes just now. Please wait a minute before asking again."}
)

// argonWait is how long a request waits for a free argon2id slot before
// it is told the server is busy.
const argonWait = 2 * time.Second

// NewRecoveryCode creates or replaces the recovery code of the request's
// user and returns it, grouped for display. This is the only time the
// code exists in clear. It is stored as a write (ActAs): for the user the
// device belongs to when it commits, and not at all for a device a claim
// retired meanwhile, whose guest a merge is about to delete.
func (s *Service) NewRecoveryCode(r *http.Request) (string, error) {
	ctx := r.Context()
	sess := FromContext(ctx)
	if sess == nil {
		return "", queries.Errorf(queries.ENOTFOUND, "Not found.")
	}
	if !s.newCodes.allow(sess.UserID.String()) {
		s.metrics.rateLimited.WithLabelValues("new_code").Inc()
		return "", errTooManyCodes
	}
	for range 3 {
		code := NewCode()
		var verifier string
		if err := s.withArgon(ctx, func() { verifier = s.argon.hash(code) }); err != nil {
			return "", err
		}
		userID, err := s.ActAs(r, func(ctx context.Context, q *queries.Queries, userID uuid.UUID) error {
			return q.UpsertRecoveryCode(ctx, queries.UpsertRecoveryCodeParams{
				UserID: userID, Selector: selector(s.pepper, code), Verifier: verifier,
			})
		})
		var known *queries.Error
		switch {
		case errors.As(err, &known):
			return "", err // signed out or replaced meanwhile
		case queries.ErrorCode(queries.Translate(err)) == queries.ECONFLICT:
			continue // another user's code shares the selector: draw again
		case err != nil:
			return "", fmt.Errorf("recovery code: store: %w", err)
		}
		s.cached.forgetUser(userID) // now secured
		return GroupCode(code), nil
	}
	return "", errors.New("recovery code: selector collisions")
}

// withArgon runs fn holding one of the argon2id slots, waiting at most
// argonWait for one.
func (s *Service) withArgon(ctx context.Context, fn func()) error {
	wait := time.NewTimer(argonWait)
	defer wait.Stop()
	select {
	case s.argonSlots <- struct{}{}:
	case <-wait.C:
		s.metrics.rateLimited.WithLabelValues("argon_busy").Inc()
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.argonSlots }()
	fn()
	return nil
}

// verifyCode returns the user a normalized code belongs to, and when that
// code was made: one indexed lookup and one argon2id verification, also
// when the lookup misses. The lookup runs as moviedice_system: finding
// out whose code it is comes before acting as anyone.
func (s *Service) verifyCode(ctx context.Context, code string) (uuid.UUID, time.Time, error) {
	verifier, userID := s.dummyVerifier, uuid.Nil
	var row queries.GetRecoveryCodeBySelectorRow
	err := queries.InSystemTx(ctx, s.pool, func(q *queries.Queries) (err error) {
		row, err = q.GetRecoveryCodeBySelector(ctx, selector(s.pepper, code))
		return err
	})
	switch {
	case err == nil:
		verifier, userID = row.Verifier, row.UserID
	case !errors.Is(err, pgx.ErrNoRows):
		return uuid.Nil, time.Time{}, fmt.Errorf("claim: lookup selector: %w", err)
	}
	var ok bool
	var verr error
	if err := s.withArgon(ctx, func() { ok, verr = verifyHash(verifier, code) }); err != nil {
		return uuid.Nil, time.Time{}, err
	}
	if verr != nil {
		return uuid.Nil, time.Time{}, fmt.Errorf("claim: verify: %w", verr)
	}
	if !ok || userID == uuid.Nil {
		return uuid.Nil, time.Time{}, errWrongCode
	}
	return userID, row.CreatedAt, nil
}

// ClaimOutcome is what pasting a code led to.
type ClaimOutcome int

const (
	// SignedIn: this browser is now signed in to the code's account.
	SignedIn ClaimOutcome = iota
	// AlreadySignedIn: the code is this browser's own account.
	AlreadySignedIn
	// NeedsConfirmation: this browser's guest data would move (or the
	// browser would switch accounts); show the preview and ask.
	NeedsConfirmation
)

// Preview says what confirming a claim would do.
type Preview struct {
	// IntoName is the display name of the account the code belongs to.
	IntoName                          string
	Lists, Memberships, Movies, Rolls int64
	// Switch: the current account has its own recovery code, so nothing
	// moves; the browser switches accounts and the current one stays
	// reachable with its code.
	Switch bool
}

// ClaimResult is Claim's answer; Token is set with NeedsConfirmation and
// goes back in the confirm form.
type ClaimResult struct {
	Outcome ClaimOutcome
	Preview Preview
	Token   string
}

// claimToken carries a previewed claim to its confirmation, sealed with the
// cookie keys so it cannot be forged or moved to another browser. It names
// the code it was made with (by when that was made): a code replaced since
// the preview no longer confirms anything.
type claimToken struct {
	From, Into, Device uuid.UUID
	Switch             bool
	CodeMade           int64 // unix microseconds
	Expires            int64
	// What a merge would move, as the preview counted it.
	Lists, Memberships, Movies, Rolls int64
}

// previewResult seals t, for a preview p, into the answer to a claim that
// needs confirming.
func (s *Service) previewResult(t claimToken, p Preview) (*ClaimResult, error) {
	t.Lists, t.Memberships, t.Movies, t.Rolls, t.Switch = p.Lists, p.Memberships, p.Movies, p.Rolls, p.Switch
	t.Expires = time.Now().Add(claimTokenTTL).Unix()
	tok, err := securecookie.EncodeMulti("claim", t, s.store.Codecs...)
	if err != nil {
		return nil, fmt.Errorf("claim: token: %w", err)
	}
	s.metrics.claims.WithLabelValues("preview").Inc()
	return &ClaimResult{Outcome: NeedsConfirmation, Preview: p, Token: tok}, nil
}

// Claim verifies a pasted recovery code (rate-limited per address and
// globally) and signs the browser in to its account, or says what
// confirming would do when the browser's current identity has data.
func (s *Service) Claim(w http.ResponseWriter, r *http.Request, input string) (*ClaimResult, error) {
	ctx := r.Context()
	code, err := NormalizeCode(input)
	if err != nil {
		s.metrics.claims.WithLabelValues("malformed").Inc()
		return nil, errMalformed
	}
	if !s.claims.allow(clientAddr(r)) || !s.claimsGlobal.allow("") {
		s.metrics.rateLimited.WithLabelValues("claim").Inc()
		return nil, errTooMany
	}
	into, codeMade, err := s.verifyCode(ctx, code)
	if err != nil {
		if err == errWrongCode {
			s.metrics.claims.WithLabelValues("wrong").Inc()
		}
		return nil, err
	}
	sess := FromContext(ctx)
	switch {
	case sess == nil:
		err = s.signIn(w, r, into, codeMade)
	case sess.UserID == into:
		s.metrics.claims.WithLabelValues("already").Inc()
		return &ClaimResult{Outcome: AlreadySignedIn}, nil
	default:
		var preview *Preview
		if preview, err = s.signInIfEmpty(w, r, sess, into, codeMade); preview != nil {
			return s.previewResult(claimToken{From: sess.UserID, Into: into, Device: sess.DeviceID, CodeMade: codeMade.UnixMicro()}, *preview)
		}
	}
	if err != nil {
		return nil, err
	}
	s.metrics.claims.WithLabelValues("signed_in").Inc()
	return &ClaimResult{Outcome: SignedIn}, nil
}

// signInIfEmpty signs the browser in to into, whose code made at
// codeMade was pasted, when its current user has no data, deleting that
// user unless it has its own code. Otherwise it changes nothing and
// returns the preview of what would move. It works across the two users,
// as moviedice_system.
func (s *Service) signInIfEmpty(w http.ResponseWriter, r *http.Request, sess *Session, into uuid.UUID, codeMade time.Time) (*Preview, error) {
	ctx := r.Context()
	var preview *Preview
	var deviceID uuid.UUID
	err := queries.InSystemTx(ctx, s.pool, func(q *queries.Queries) error {
		if _, err := q.LockMergeUsers(ctx, queries.LockMergeUsersParams{FromUser: sess.UserID, IntoUser: into}); err != nil {
			return fmt.Errorf("claim: lock: %w", err)
		}
		data, err := q.CountUserData(ctx, sess.UserID)
		if err != nil {
			return fmt.Errorf("claim: count: %w", err)
		}
		if data.Lists+data.Memberships+data.Movies+data.Rolls > 0 {
			if preview, err = previewOf(ctx, q, data, into); err == nil {
				err = errNoChange
			}
			return err
		}
		if data.Secured {
			_, err = q.DeleteDeviceForUser(ctx, queries.DeleteDeviceForUserParams{ID: sess.DeviceID, UserID: sess.UserID})
		} else {
			_, err = q.DeleteUser(ctx, sess.UserID) // an empty guest: nothing to keep
		}
		if err != nil {
			return fmt.Errorf("claim: retire current identity: %w", err)
		}
		if err := recordReplaced(ctx, q, sess.DeviceID); err != nil {
			return err
		}
		deviceID, err = s.addDevice(ctx, q, r, into, codeMade)
		return err
	})
	if err == errNoChange {
		return preview, nil
	}
	if err != nil {
		return nil, err
	}
	s.cached.forgetDevice(sess.DeviceID)
	return nil, s.setCookie(w, r, deviceID)
}

// previewOf is the preview of a claim of into by a user who has data.
func previewOf(ctx context.Context, q *queries.Queries, data queries.CountUserDataRow, into uuid.UUID) (*Preview, error) {
	name, err := q.GetDisplayName(ctx, into)
	if err != nil {
		return nil, fmt.Errorf("claim: account name: %w", err)
	}
	return &Preview{IntoName: name, Lists: data.Lists, Memberships: data.Memberships, Movies: data.Movies, Rolls: data.Rolls,
		Switch: data.Secured}, nil
}

// errNoChange rolls back a transaction that decided to change nothing.
var errNoChange = errors.New("no change")

// addDevice creates a new device for userID, whose code made at codeMade
// was pasted, and marks that code used. A code replaced since it was
// checked signs no one in (errWrongCode): the code stays locked from here
// to the end of the transaction. The user is locked first (the device's
// reference to it), then the code, the order of every claim and write.
func (s *Service) addDevice(ctx context.Context, q *queries.Queries, r *http.Request, userID uuid.UUID, codeMade time.Time) (uuid.UUID, error) {
	deviceID, err := q.CreateDevice(ctx, queries.CreateDeviceParams{UserID: userID, UserAgent: userAgent(r)})
	if err != nil {
		if queries.IsForeignKeyViolation(err) {
			return uuid.Nil, errWrongCode // the account was removed meanwhile
		}
		return uuid.Nil, fmt.Errorf("claim: device: %w", err)
	}
	switch made, err := q.LockRecoveryCode(ctx, userID); {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && made.UnixMicro() != codeMade.UnixMicro()):
		return uuid.Nil, errWrongCode
	case err != nil:
		return uuid.Nil, fmt.Errorf("claim: lock code: %w", err)
	}
	if err := q.MarkRecoveryCodeUsed(ctx, userID); err != nil {
		return uuid.Nil, fmt.Errorf("claim: mark used: %w", err)
	}
	return deviceID, nil
}

// signIn gives a browser without a session a new device of userID and a
// fresh cookie, acting as userID: the browser has just shown its code,
// made at codeMade.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request, userID uuid.UUID, codeMade time.Time) error {
	ctx := r.Context()
	var deviceID uuid.UUID
	err := queries.InTxAsUser(ctx, s.pool, userID, func(q *queries.Queries) error {
		var err error
		deviceID, err = s.addDevice(ctx, q, r, userID, codeMade)
		return err
	})
	if err != nil {
		return err
	}
	return s.setCookie(w, r, deviceID)
}

// retireDevice deletes the browser's current device row, which a claim
// replaces. It must exist: a confirmation is good for one use.
func retireDevice(ctx context.Context, q *queries.Queries, sess *Session) error {
	n, err := q.DeleteDeviceForUser(ctx, queries.DeleteDeviceForUserParams{ID: sess.DeviceID, UserID: sess.UserID})
	if err != nil {
		return fmt.Errorf("claim: retire device: %w", err)
	}
	if n != 1 {
		return errStaleToken
	}
	return recordReplaced(ctx, q, sess.DeviceID)
}

// recordReplaced notes that a claim gave the browser on deviceID a new
// device, so that its requests still in flight are told so (Replaced).
func recordReplaced(ctx context.Context, q *queries.Queries, deviceID uuid.UUID) error {
	if err := q.RecordReplacedDevice(ctx, deviceID); err != nil {
		return fmt.Errorf("claim: record replaced device: %w", err)
	}
	return nil
}

// PreviewChanged answers a confirmation whose guest data changed since
// its preview (another tab added a list, say): nothing happened, and
// Result is the preview to show instead, with its own token.
type PreviewChanged struct{ Result ClaimResult }

func (e *PreviewChanged) Error() string { return "claim: the preview is out of date" }

// checkToken verifies, inside the confirming transaction, that nothing a
// preview showed has changed: both users are there (and locked, users
// first, as everywhere), the guest has (or has not) a code of its own as
// the preview said, and for a merge, it has what the preview counted, or
// nothing any more (else *PreviewChanged). That the account's code is
// still the one pasted, addDevice checks.
func (s *Service) checkToken(ctx context.Context, q *queries.Queries, t claimToken) error {
	locked, err := q.LockMergeUsers(ctx, queries.LockMergeUsersParams{FromUser: t.From, IntoUser: t.Into})
	if err != nil {
		return fmt.Errorf("claim: lock: %w", err)
	}
	if len(locked) != 2 {
		return errStaleToken
	}
	data, err := q.CountUserData(ctx, t.From)
	if err != nil {
		return fmt.Errorf("claim: count: %w", err)
	}
	if data.Secured != t.Switch {
		return errStaleToken
	}
	same := data.Lists == t.Lists && data.Memberships == t.Memberships && data.Movies == t.Movies && data.Rolls == t.Rolls
	if t.Switch || same || data.Lists+data.Memberships+data.Movies+data.Rolls == 0 {
		return nil // (nothing left to move: the empty guest goes, as without a preview)
	}
	p, err := previewOf(ctx, q, data, t.Into)
	if err != nil {
		return err
	}
	res, err := s.previewResult(t, *p)
	if err != nil {
		return err
	}
	return &PreviewChanged{Result: *res}
}

// ConfirmOutcome is what confirming a previewed claim did.
type ConfirmOutcome int

const (
	// Merged: the guest's data now belongs to the account.
	Merged ConfirmOutcome = iota
	// MergePending: signed in, but the merge failed for now and is retried
	// in the background; the guest's data is intact meanwhile.
	MergePending
	// Switched: signed in to the other account; nothing moved.
	Switched
	// AlreadyConfirmed: a second click; the first already signed the
	// browser in (with a new device), and this one changed nothing.
	AlreadyConfirmed
)

// ConfirmClaim carries out a claim the user saw the preview of. The
// browser is signed in to the account first, with a new device; then the
// guest's data is merged in one transaction. If that fails, the merge is
// recorded and retried later, and the sign-in stands. Both transactions
// work across the two users, as moviedice_system.
func (s *Service) ConfirmClaim(w http.ResponseWriter, r *http.Request, token string) (ConfirmOutcome, error) {
	ctx := r.Context()
	var t claimToken
	sess := FromContext(ctx)
	if securecookie.DecodeMulti("claim", token, &t, s.store.Codecs...) != nil || time.Now().Unix() > t.Expires ||
		sess == nil || sess.UserID != t.From || sess.DeviceID != t.Device {
		return 0, errStaleToken
	}
	var mergeID int64
	var deviceID uuid.UUID
	err := queries.InSystemTx(ctx, s.pool, func(q *queries.Queries) error {
		// Users first, as everywhere; a second click then finds the
		// guest gone, or its device retired by the first.
		if err := s.checkToken(ctx, q, t); err != nil {
			return err
		}
		if err := retireDevice(ctx, q, sess); err != nil {
			return err
		}
		var err error
		if deviceID, err = s.addDevice(ctx, q, r, t.Into, time.UnixMicro(t.CodeMade)); err == errWrongCode {
			return errStaleToken // the code was replaced, or the account removed
		} else if err != nil || t.Switch {
			return err
		}
		mergeID, err = q.CreateMerge(ctx, queries.CreateMergeParams{FromUser: t.From, IntoUser: t.Into})
		return err
	})
	if err == errStaleToken && s.replacedLately(ctx, sess.DeviceID) {
		return AlreadyConfirmed, nil // sent with the first, or before its answer came
	}
	if err != nil {
		return 0, err
	}
	s.cached.forgetDevice(sess.DeviceID)
	if t.Switch {
		s.metrics.claims.WithLabelValues("switched").Inc()
		return Switched, s.setCookie(w, r, deviceID)
	}
	if err := s.setCookie(w, r, deviceID); err != nil {
		return 0, err
	}
	s.metrics.claims.WithLabelValues("merged").Inc()
	if err := s.runMerge(context.WithoutCancel(ctx), mergeID); err == errMergeBusy {
		return MergePending, nil
	} else if err != nil {
		s.log.WarnContext(ctx, "merge failed; will retry", "merge", mergeID, "err", err)
		return MergePending, nil
	}
	s.cached.forgetUser(t.From) // its other devices moved to the account
	return Merged, nil
}
