// Package views renders MovieDice's pages with templ. It knows nothing of
// HTTP or the database: handlers hand it plain view models from this file.
package views

// Page is what every page's layout needs.
type Page struct {
	// Title is the page's own title, shown before the site name.
	Title string
	// CSSURL and IconURL are the content-hashed static URLs.
	CSSURL  string
	IconURL string
}

// Home is the landing page for visitors.
type Home struct {
	Lists  int64
	Movies int64
	Rolls  int64
}

// ErrorPage explains a failed request without leaking internals.
type ErrorPage struct {
	Status    int
	Heading   string
	Message   string
	RequestID string
}
