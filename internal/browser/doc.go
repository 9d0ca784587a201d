// Package browser holds portti's end-to-end tests in a real Chromium.
//
// The tests drive headless Chromium (Debian's chromium package) with
// chromedp against a whole portti started by package apptest: the real App
// on a loopback HTTP server, SQLite, and an SMTP server whose messages the
// tests open to follow their links, as a person would. They type and click
// through the pages and check what a person sees and what assistive
// technology is told (aria-invalid, aria-describedby, focus order).
//
// One Chromium serves the whole package; each test works in a browser
// context of its own (like a private window), so no cookie leaks between
// tests. Without Chromium the tests skip, except with CI=true, where a
// missing browser fails the run.
//
// TestBrowserScreenshots saves a full-page screenshot of every page in each
// language, as <lang>-<page>.png, to $PORTTI_TEST_ARTIFACTS, or else to
// test-artifacts/screenshots/ at the repository root (ignored by git). A
// failed test leaves the page it stopped on there too, in failures/: its
// screenshot, its HTML and portti's log.
package browser
