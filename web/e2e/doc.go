// Package e2e holds end-to-end tests that drive the whole app in headless Chromium.
package e2e
