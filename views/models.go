// Package views renders MovieDice's pages with templ. It knows nothing of
// HTTP or the database: handlers hand it plain view models from this file.
package views

import "time"

// Page is what every page's layout needs.
type Page struct {
	// Title is the page's own title, shown before the site name.
	Title string
	// CSSURL, IconURL and JSURL are the content-hashed static URLs.
	CSSURL  string
	IconURL string
	JSURL   string
	// Viewer is the signed-in user's name, ViewerID their id; empty for a
	// visitor. The page's script compares ViewerID with live fragments'
	// data attributes.
	Viewer   string
	ViewerID string
	// HtmxURL and WsURL are the vendored htmx and its websocket extension.
	HtmxURL string
	WsURL   string
}

// Home is the start page: the viewer's lists, or the landing text.
type Home struct {
	Stats Stats
	// SignedIn shows the viewer's lists instead of the landing text.
	SignedIn bool
	Lists    []ListSummary
	Form     TextForm
	Notice   string
}

// Stats are the server-wide counts on the landing page.
type Stats struct {
	Lists, Movies, Rolls int64
}

// ListSummary is one of the viewer's lists on the start page.
type ListSummary struct {
	ID           string
	Name         string
	Movies       int64
	Members      int64
	Owner        bool
	LastActivity time.Time
}

// TextForm is a one-field form: what was typed, and what is wrong with it.
type TextForm struct {
	Value string
	Error string
}

// ListPage is one list as a member sees it.
type ListPage struct {
	ID        string
	Name      string
	OwnerName string
	Created   time.Time
	// Owner: the viewer owns the list (rename, invite, remove, delete).
	Owner   bool
	OwnerID string
	// Live: rendered once for every member (a live fragment), not for one
	// viewer: per-viewer controls come hidden with data attributes.
	Live bool
	// Version is the list's version this page shows.
	Version int64
	// InviteURL is the invitation link, shown to the owner only.
	InviteURL string
	Members   []Member
	Movies    []Movie
	// Unwatched counts the films still in the running for a roll.
	Unwatched int64
	// Rolls are the latest rolls, newest first.
	Rolls []Roll
	// JustRolled animates the newest roll: the viewer just rolled it.
	JustRolled bool
	Notice     string
	Add        MovieForm
	Rename     TextForm
}

// LiveParts says which parts of a list a live fragment carries.
type LiveParts struct {
	Name, Roll, Movies, EarlierRolls, Members bool
	// Count is the roll section's count of unwatched films alone.
	Count bool
	// Films are single films for the page's script to put in their place
	// (each with Next set), Gone the ids of films to take out.
	Films []Movie
	Gone  []string
}

// Viewer is someone looking at a list right now.
type Viewer struct {
	ID   string
	Name string
}

// Member is one person on a list.
type Member struct {
	ID    string
	Name  string
	Owner bool
	// You marks the viewer.
	You bool
}

// Movie is one film on a list.
type Movie struct {
	ID        string
	Title     string
	Year      int32 // 0 when unknown
	Watched   bool
	AddedBy   string
	AddedByID string
	AddedAt   time.Time
	// CanRemove: the viewer added it or owns the list.
	CanRemove bool
	// Next, in a live update of single films, is the id of the film that
	// follows this one on the page ("" for the last).
	Next string
}

// Roll is one throw of the die.
type Roll struct {
	ID    string
	Title string
	Year  int32
	By    string // the roller's name
	ByID  string // and id
	At    time.Time
}

// MovieForm is the add-a-film form with its per-field messages.
type MovieForm struct {
	Title      string
	Year       string
	TitleError string
	YearError  string
}

// Invite is the invitation page of a list.
type Invite struct {
	Token   string
	Name    string
	Members int64
	// AlreadyMember links straight to the list instead of offering to join.
	AlreadyMember bool
	ListID        string
}

// DeleteList asks the owner to confirm deleting a list.
type DeleteList struct {
	ID     string
	Name   string
	Movies int
	Others int
}

// SignOut is what signing this browser out would put out of reach, shown
// for the user to confirm: the lists it started and joined, its films.
type SignOut struct {
	Lists, Memberships, Movies int64
}

// Account is the account page.
type Account struct {
	Name TextForm
	// SecuredAt is when the recovery code was made; zero if none.
	SecuredAt time.Time
	Devices   []Device
	// PendingMerges are merges still being retried; FailedMerges gave up.
	PendingMerges int
	FailedMerges  int
	Notice        string
}

// Device is one signed-in browser on the account page.
type Device struct {
	ID       string
	Browser  string
	Created  time.Time
	LastSeen time.Time
	Current  bool
}

// RecoveryCode is the page that shows a new code, once.
type RecoveryCode struct {
	// Code is grouped for reading: XXXX-XXXX-…
	Code string
}

// Claim is the paste-your-code form.
type Claim struct {
	Form   TextForm
	Notice string
	// SignedInAs names the current account, if the browser has one.
	SignedInAs string
}

// ClaimPreview asks before a guest's data moves (or the browser switches).
type ClaimPreview struct {
	// IntoName names the account being signed in to.
	IntoName                          string
	Lists, Memberships, Movies, Rolls int64
	Switch                            bool
	Token                             string
	// Changed: shown again, as what the browser holds changed since the
	// preview before.
	Changed bool
}

// ErrorPage explains a failed request without leaking internals.
type ErrorPage struct {
	Status    int
	Heading   string
	Message   string
	RequestID string
	// SignedOut offers a recovery code: the browser was signed out.
	SignedOut bool
}
