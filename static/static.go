// Package static holds the stylesheet, icons and vendored scripts, embedded
// into the binary and served by web at content-hashed URLs.
package static

import "embed"

// FS is every static file, by its logical path ("css/app.css").
//
//go:embed css icons js vendor/*.js
var FS embed.FS
