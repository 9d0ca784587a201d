package browser

// The browser harness: one headless Chromium for the package, a tab in a
// fresh browser context for each test, and helpers that act as a person
// does (type, tick, click, follow a link from an e-mail) and fail the test
// with the page's state saved when something is off.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/mail/smtptest"
)

// testTimeout bounds everything one test does in the browser.
const testTimeout = 60 * time.Second

// chromium is the browser every test of the package shares. Each test opens
// its own browser context in it, so cookies stay apart.
var chromium struct {
	once    sync.Once
	path    string          // "" when no browser was found
	ctx     context.Context // the first tab; parent of every test's context
	cancel  func()          // closes the browser and waits for it
	dataDir string
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chromium.cancel != nil {
		chromium.cancel()
	}
	if chromium.dataDir != "" {
		_ = os.RemoveAll(chromium.dataDir)
	}
	os.Exit(code)
}

// findChromium returns the browser's path, or "" when there is none.
func findChromium() string {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// startChromium starts the shared browser on first use and returns its
// context. Without a browser the test is skipped, or fails under CI=true.
func startChromium(t testing.TB) context.Context {
	t.Helper()
	chromium.once.Do(launchChromium)
	if chromium.path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found (looked for chromium in PATH and /usr/bin/chromium); CI runs the browser tests, so install it: apt-get install chromium")
		}
		t.Skip("chromium not found; install Debian's chromium package to run the browser tests")
	}
	if chromium.err != nil {
		t.Fatalf("start chromium %s: %v", chromium.path, chromium.err)
	}
	return chromium.ctx
}

func launchChromium() {
	chromium.path = findChromium()
	if chromium.path == "" {
		return
	}
	// Not t.TempDir: the browser outlives the test that starts it.
	dir, err := os.MkdirTemp("", "portti-chromium-")
	if err != nil {
		chromium.err = err
		return
	}
	chromium.dataDir = dir
	var out lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium.path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "Translate"),
		// English unless a test picks another language with the switcher.
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US,en"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(dir),
		chromedp.CombinedOutput(&out),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Do starts the browser and binds it to ctx, so it gets no
	// deadline; a browser that hangs at start is given up on here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err = <-started:
	case <-time.After(30 * time.Second):
		err = errors.New("no answer within 30 s")
	}
	chromium.cancel = func() { cancel(); allocCancel() }
	if err != nil {
		chromium.err = fmt.Errorf("%w\nbrowser output:\n%s", err, out.String())
		return
	}
	chromium.ctx = ctx
}

// lockedBuffer collects the browser's output for an error message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tab is one browser window of a test: its own cookies, one page at a time.
type tab struct {
	t    testing.TB
	env  *apptest.Env
	ctx  context.Context // carries the test's deadline
	used map[string]bool // e-mailed links already followed

	reported map[string]bool // page problems already reported
}

// newTab opens a tab in a new browser context (like a private window) for
// the portti env. When the test fails, the page's screenshot, HTML and
// portti's log are saved to the artifacts folder.
func newTab(t testing.TB, env *apptest.Env) *tab {
	t.Helper()
	return newTabFor(t, env, testTimeout)
}

// newTabFor is newTab with its own time limit, for a test that does more
// (axe-core takes a second or two a page on a busy machine).
func newTabFor(t testing.TB, env *apptest.Env, timeout time.Duration) *tab {
	t.Helper()
	root := startChromium(t)
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	// The first Do creates the tab and binds it to ctx: no deadline here.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open a browser tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, timeout)
	b := &tab{t: t, env: env, ctx: tctx, used: map[string]bool{}, reported: map[string]bool{}}
	b.removeOldFailure()
	t.Cleanup(func() {
		if t.Failed() {
			b.saveFailure(ctx)
		}
		tcancel()
		cancel()
	})
	return b
}

// do runs actions, failing the test with what was being done.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s on %s: %v", what, b.path(), err)
	}
}

// navigate runs actions that load a page, waits for it, and checks the
// HTTP status of the page it ends on (after redirects); want 0 takes any.
func (b *tab) navigate(what string, want int, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s (from %s): %v", what, b.path(), err)
	}
	if want != 0 && int(resp.Status) != want {
		b.t.Fatalf("%s: got HTTP %d at %s, want %d; the page says:\n%s", what, resp.Status, resp.URL, want, b.mainText())
	}
	b.checkPlaceholders()
	return resp
}

var placeholderRE = regexp.MustCompile(`\{[A-Z][A-Za-z]*\}`)

// checkPlaceholders fails the test (without stopping it) when the page
// shows a catalogue text whose {Argument} was never filled in. Each page
// and placeholder is reported once.
func (b *tab) checkPlaceholders() {
	b.t.Helper()
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.title + "\n" + document.body.innerText`))
	if err != nil {
		return
	}
	page := b.path()
	if i := strings.IndexAny(page, "?#"); i >= 0 {
		page = page[:i]
	}
	for _, line := range strings.Split(text, "\n") {
		for _, ph := range placeholderRE.FindAllString(line, -1) {
			if key := page + " " + ph; !b.reported[key] {
				b.reported[key] = true
				b.t.Errorf("%s (<html lang=%s>) shows %s unfilled: %q", page, b.lang(), ph, strings.TrimSpace(line))
			}
		}
	}
}

// open loads a path on portti, or a full URL.
func (b *tab) open(pathOrURL string, want int) *network.Response {
	b.t.Helper()
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = b.env.URL + u
	}
	return b.navigate("open "+pathOrURL, want, chromedp.Navigate(u))
}

// click clicks the element sel (CSS), which loads a page: a link or a
// submit button.
func (b *tab) click(sel string, want int) *network.Response {
	b.t.Helper()
	return b.navigate("click "+sel, want, chromedp.Click(chromedp.CSS(sel)))
}

// submit clicks the submit button of the form that posts to action.
func (b *tab) submit(action string, want int) *network.Response {
	b.t.Helper()
	return b.click(fmt.Sprintf(`form[action=%q] button[type=submit]`, action), want)
}

// fill types value into the input with this id, replacing what it held
// (a field that already holds it is left alone), and checks that the
// browser took every character.
func (b *tab) fill(id, value string) {
	b.t.Helper()
	sel := chromedp.ID(id)
	switch b.value(id) {
	case value:
		return // already there, as after a failed login
	case "":
	default:
		// Select all and delete, as a person does. (chromedp.Clear only
		// resets the value attribute, not what was typed.)
		b.do("empty #"+id, chromedp.Focus(sel),
			chromedp.Evaluate[chromedp.Void](`document.activeElement.select()`),
			chromedp.KeyEvent(kb.Backspace))
	}
	b.do("type into #"+id, chromedp.SendKeys(sel, value))
	if got := b.value(id); got != value {
		b.t.Fatalf("typed %q into #%s, but it holds %q", value, id, got)
	}
}

// tick ticks the checkbox with this id by clicking it.
func (b *tab) tick(id string) {
	b.t.Helper()
	if evalJS[bool](b, fmt.Sprintf(`document.getElementById(%q).checked`, id)) {
		return
	}
	b.do("tick #"+id, chromedp.Click(chromedp.ID(id)))
	if !evalJS[bool](b, fmt.Sprintf(`document.getElementById(%q).checked`, id)) {
		b.t.Fatalf("clicked #%s, but it is not ticked", id)
	}
}

// value is the current value of the input with this id.
func (b *tab) value(id string) string {
	b.t.Helper()
	// One evaluation, not a DOM query: the page has loaded already.
	v := evalJS[*string](b, fmt.Sprintf(`(e => e ? e.value : null)(document.getElementById(%q))`, id))
	if v == nil {
		b.t.Fatalf("no #%s on %s; the page says:\n%s", id, b.path(), b.mainText())
	}
	return *v
}

// text is the visible text of the first element matching sel (CSS),
// waiting for it to be visible.
func (b *tab) text(sel string) string {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s on %s: %v", sel, b.path(), err)
	}
	return strings.TrimSpace(s)
}

// mainText is what the page's main region says (the whole body if it has
// none). It never fails: it also serves error messages.
func (b *tab) mainText() string {
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body || document.documentElement).innerText`))
	if err != nil {
		return fmt.Sprintf("(cannot read the page: %v)", err)
	}
	return s
}

// see checks that the main region shows every text in want.
func (b *tab) see(want ...string) {
	b.t.Helper()
	got := b.mainText()
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Fatalf("%s does not show %q; it says:\n%s", b.path(), w, got)
		}
	}
}

// heading checks the page's h1.
func (b *tab) heading(want string) {
	b.t.Helper()
	if got := b.text("h1"); got != want {
		b.t.Fatalf("%s: heading %q, want %q; the page says:\n%s", b.path(), got, want, b.mainText())
	}
}

// location is the page's full URL.
func (b *tab) location() string {
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(unknown location: %v)", err)
	}
	return u
}

// path is the page's URL without portti's base URL.
func (b *tab) path() string { return strings.TrimPrefix(b.location(), b.env.URL) }

// at checks the page's path (without the query).
func (b *tab) at(want string) {
	b.t.Helper()
	p := b.path()
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if p != want {
		b.t.Fatalf("at %s, want %s; the page says:\n%s", b.path(), want, b.mainText())
	}
}

// lang is the page's <html lang>.
func (b *tab) lang() string {
	b.t.Helper()
	return evalJS[string](b, `document.documentElement.lang`)
}

// evalJS evaluates a JavaScript expression in the page and decodes its
// JSON value into T.
func evalJS[T any](b *tab, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate on %s: %v\n%s", b.path(), err, expr)
	}
	return v
}

// cookies are the browser's cookies for the current page.
func (b *tab) cookies() []*network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.t.Fatalf("read cookies: %v", err)
	}
	return res.Cookies
}

// mailLink waits for an e-mail to addr with a link to path on portti that
// this tab has not followed yet, and returns the link.
func (b *tab) mailLink(addr, path string) string {
	b.t.Helper()
	prefix := b.env.URL + path
	to := smtptest.To(addr)
	var link string
	b.env.SMTP.WaitFor(b.t, func(m smtptest.Message) bool {
		if !to(m) {
			return false
		}
		for _, l := range smtptest.Links(m) {
			if strings.HasPrefix(l, prefix) && !b.used[l] {
				link = l
				return true
			}
		}
		return false
	}, 10*time.Second)
	b.used[link] = true
	return link
}

// artifactsDir is where screenshots go: $PORTTI_TEST_ARTIFACTS, or
// test-artifacts/screenshots at the repository root (ignored by git).
func artifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PORTTI_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "test-artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts folder: %v", err)
	}
	return dir
}

// repoRoot is the nearest folder upwards with a go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// screenshot saves a full-page PNG of the current page as <name>.png in
// the artifacts folder.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, fullPNG)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(artifactsDir(b.t), name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// fullPNG is chromedp.FullScreenshot(100), a PNG of the whole page, with
// the encoding optimized for speed: bigger files, a quicker suite.
func fullPNG(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		CaptureBeyondViewport: new(true),
		FromSurface:           new(true),
		OptimizeForSpeed:      new(true),
	})
	return res.Data, err
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// failureBase is where a failed test's files go, less the extension.
func (b *tab) failureBase() string {
	return filepath.Join(artifactsDir(b.t), "failures", unsafeName.ReplaceAllString(b.t.Name(), "_"))
}

// removeOldFailure removes what an earlier failed run of this test left.
func (b *tab) removeOldFailure() {
	base := b.failureBase()
	for _, ext := range []string{".png", ".html", ".log"} {
		_ = os.Remove(base + ext)
	}
}

// saveFailure keeps the page a failed test ended on, its HTML and portti's
// log, in <artifacts>/failures/. ctx is the tab's own context, alive even
// when the test's deadline has passed.
func (b *tab) saveFailure(ctx context.Context) {
	base := b.failureBase()
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		b.t.Logf("cannot save the failed page: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var saved []string
	if png, err := chromedp.Run(ctx, fullPNG); err == nil && os.WriteFile(base+".png", png, 0o644) == nil {
		saved = append(saved, base+".png")
	}
	u, _ := chromedp.Run(ctx, chromedp.Location())
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		doc := "<!-- " + strings.ReplaceAll(u, "--", "%2D%2D") + " -->\n<!doctype html>\n" + html + "\n"
		if os.WriteFile(base+".html", []byte(doc), 0o644) == nil {
			saved = append(saved, base+".html")
		}
	}
	if os.WriteFile(base+".log", []byte(b.env.Logs()), 0o644) == nil {
		saved = append(saved, base+".log")
	}
	b.t.Logf("failed at %s; saved %s", u, strings.Join(saved, ", "))
}
