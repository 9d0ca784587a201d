package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

// narrow makes the tab a 320 CSS px wide phone screen (WCAG 2.1 1.4.10
// Reflow: 320 px is 1280 px at 400 % zoom).
func (b *tab) narrow() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 320, Height: 640, DeviceScaleFactor: 1, Mobile: true,
	}); err != nil {
		b.t.Fatalf("320 px viewport: %v", err)
	}
}

// noSidewaysScroll fails the test (without stopping it) when the page is
// wider than the viewport, and saves a screenshot as name.
func (b *tab) noSidewaysScroll(name string) {
	b.t.Helper()
	got := evalJS[[]int](b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)
	if got[0] > got[1] {
		wide := evalJS[[]string](b, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).slice(0, 5).map(e => e.tagName + "." + e.className + ": " + (e.textContent || "").trim().slice(0, 60))`)
		b.t.Errorf("%s (%s) scrolls sideways at 320 px: scrollWidth %d > clientWidth %d; too wide: %v", name, b.path(), got[0], got[1], wide)
	}
	b.screenshot("320-" + name)
	b.checkAxe(name)
}

// longEmail is a real-looking address longer than a phone is wide.
const longEmail = "maija-liisa.meikalainen-virtanen.tutkimusavustaja@opiskelijat.esimerkkiyliopisto.example.fi"

// TestBrowserReflow320 (issue 7 point 9): no page reachable in the tests
// needs sideways scrolling at 320 CSS px, with a long e-mail address on
// it: the login, registration and reset pages, the account area (its
// browsers and applications as cards, each "sign out" button on screen),
// the account chooser, the campus-only page, the new-address confirmation
// and an error page. The dates on the account page stay on at most two
// lines.
func TestBrowserReflow320(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, map[string]string{"PORTTI_TRUSTED_PROXIES": "127.0.0.1"})
	addPerson(t, env, longEmail, "Maija-Liisa", "Meikäläinen-Virtanen")
	addPerson(t, env, "eero@example.fi", "Eero", "Korhonen")
	app := newApplication(t, env, oidc.ClientSpec{ID: "moodle", Name: "Moodle learning environment of the university"})
	campus := newApplication(t, env, oidc.ClientSpec{ID: "hr", Name: "Human resources and payroll system", AllowedNetworks: []string{"10.0.0.0/8"}})
	b := newTabFor(t, env, 3*testTimeout) // axe-core on every page
	b.narrow()

	for _, p := range []string{"/login?email=" + longEmail, "/register", "/password/forgot", "/no-such-page"} {
		want := 200
		if p == "/no-such-page" {
			want = 404
		}
		b.open(p, want)
		b.noSidewaysScroll(strings.ReplaceAll(strings.Trim(strings.SplitN(p, "?", 2)[0], "/"), "/", "-"))
	}

	// Signed in to an application with the long address, then Eero too:
	// the chooser.
	v := oauth2.GenerateVerifier()
	b.open(app.authorizeURL(v), 200)
	b.logIn(longEmail, ssoPassword, false, 200)
	app.arrivedAt(b, "/callback")
	env.Clock.Advance(time.Minute)
	b.open(app.authorizeURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("login_hint", "eero@example.fi")), 200)
	b.logIn("eero@example.fi", ssoPassword, false, 200)
	env.Clock.Advance(time.Minute)
	b.open(app.authorizeURL(oauth2.GenerateVerifier()), 200)
	b.at(oidc.PathContinue)
	b.noSidewaysScroll("chooser")

	// The account area of the long address, in every language.
	b.open("/account", 200)
	b.click(`a[href^="/account?account="]`, 200) // the other account: the long address
	for _, lang := range []string{"fi", "sv", "en"} {
		b.switchTo(lang, 200)
		b.see(longEmail)
		b.noSidewaysScroll(lang + "-account")
	}
	// Every card's sign-out button is on screen, horizontally.
	if off := evalJS[int](b, `[...document.querySelectorAll(".card button")].filter(e => { const r = e.getBoundingClientRect(); return r.left < 0 || r.right > document.documentElement.clientWidth }).length`); off != 0 {
		t.Errorf("%d card buttons are off screen at 320 px", off)
	}
	if n := evalJS[int](b, `document.querySelectorAll(".card button").length`); n < 2 {
		t.Errorf("%d card buttons, want one per browser and application", n)
	}
	// A date is at most two lines tall.
	lines := evalJS[[]float64](b, `[...document.querySelectorAll(".card time")].map(e => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))`)
	if len(lines) == 0 {
		t.Error("no dates on the account page")
	}
	for _, l := range lines {
		if l > 2.1 {
			t.Errorf("a date wraps into %.1f lines", l)
		}
	}

	// The new-address confirmation, with a long new address.
	b.fill("email-new_email", "uusi."+longEmail)
	b.fill("email-current_password", ssoPassword)
	b.submit("/account/email", 200)
	b.open(b.mailLink("uusi."+longEmail, "/email/confirm"), 200)
	b.noSidewaysScroll("email-confirm")

	// The campus-only page.
	if _, err := chromedp.Call(b.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"X-Forwarded-For": "203.0.113.9"},
	}); err != nil {
		t.Fatal(err)
	}
	b.open(campus.authorizeURL(oauth2.GenerateVerifier()), 403)
	b.noSidewaysScroll("restricted")
}
