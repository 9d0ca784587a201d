package web

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/refcode"
)

func TestLocalPath(t *testing.T) {
	const fb = "/fallback"
	for _, tc := range []struct{ in, want string }{
		{"", fb},
		{"/", "/"},
		{"/account", "/account"},
		{"/account?account=abc&notice=x#top", "/account?account=abc&notice=x#top"},
		{"/register?email=a%40example.fi", "/register?email=a%40example.fi"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"}, // an encoded slash is a path character
		{"/ä/ö", "/ä/ö"},
		{"account", fb},
		{"evil.example", fb},
		{"//evil.example", fb},
		{"//evil.example/login", fb},
		{"///evil.example", fb},
		{"////evil.example", fb},
		{`/\evil.example`, fb},
		{`\\evil.example`, fb},
		{`\/evil.example`, fb},
		{`/\/evil.example`, fb},
		{"/\t/evil.example", fb},
		{"/\n/evil.example", fb},
		{"/\r/evil.example", fb},
		{"/\x00/evil.example", fb},
		{"/\x0c/evil.example", fb},
		{"/\x7f", fb},
		{"/login\r\nSet-Cookie: a=b", fb},
		{"https://evil.example", fb},
		{"http://evil.example/", fb},
		{"HTTPS://evil.example", fb},
		{"https:/evil.example", fb},
		{"https:evil.example", fb},
		{"javascript:alert(1)", fb},
		{"data:text/html,<script>", fb},
		{" /account", fb},
		{" //evil.example", fb},
		{"/%zz", fb},
	} {
		if got := localPath(tc.in, fb); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("2001:db8:1::/48"),
	}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"direct", nil, "203.0.113.7:51000", nil, "203.0.113.7"},
		{"XFF from a client, no proxies configured", nil, "203.0.113.7:51000", []string{"198.51.100.20"}, "203.0.113.7"},
		{"XFF from an untrusted peer", trusted, "203.0.113.7:51000", []string{"10.0.0.5"}, "203.0.113.7"},
		{"trusted proxy, no XFF", trusted, "10.0.0.1:443", nil, "10.0.0.1"},
		{"trusted proxy, empty XFF", trusted, "10.0.0.1:443", []string{""}, "10.0.0.1"},
		{"trusted proxy", trusted, "10.0.0.1:443", []string{"198.51.100.20"}, "198.51.100.20"},
		{"spoofed entry left of the real one", trusted, "10.0.0.1:443", []string{"6.6.6.6, 198.51.100.20"}, "198.51.100.20"},
		{"spoofed trusted entry", trusted, "10.0.0.1:443", []string{"10.9.9.9, 198.51.100.20"}, "198.51.100.20"},
		{"two proxies", trusted, "10.0.0.1:443", []string{"6.6.6.6, 198.51.100.20, 10.0.0.2"}, "198.51.100.20"},
		{"several headers", trusted, "10.0.0.1:443", []string{"6.6.6.6", "198.51.100.20"}, "198.51.100.20"},
		{"garbage from the client", trusted, "10.0.0.1:443", []string{"garbage, <script>, 198.51.100.20"}, "198.51.100.20"},
		{"garbage from the proxy", trusted, "10.0.0.1:443", []string{"198.51.100.20, garbage"}, "10.0.0.1"},
		{"only proxies", trusted, "10.0.0.1:443", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"spaces", trusted, "10.0.0.1:443", []string{"  198.51.100.20  ,10.0.0.2 "}, "198.51.100.20"},
		{"IPv6 peer", nil, "[2001:db8::7]:443", nil, "2001:db8::7"},
		{"IPv6 peer, XFF ignored", nil, "[2001:db8::7]:443", []string{"::1"}, "2001:db8::7"},
		{"IPv6 proxy", trusted, "[2001:db8:1::1]:443", []string{"2001:db8:2::9"}, "2001:db8:2::9"},
		{"IPv6 client through IPv4 proxy", trusted, "10.0.0.1:443", []string{"2001:db8:2::9"}, "2001:db8:2::9"},
		{"IPv4-mapped peer", nil, "[::ffff:203.0.113.7]:80", nil, "203.0.113.7"},
		{"IPv4-mapped trusted proxy", trusted, "[::ffff:10.0.0.1]:80", []string{"198.51.100.20"}, "198.51.100.20"},
		{"IPv4-mapped XFF entry", trusted, "10.0.0.1:80", []string{"::ffff:198.51.100.20"}, "198.51.100.20"},
		{"IPv4-mapped spoofed proxy in XFF", trusted, "10.0.0.1:80", []string{"198.51.100.20, ::ffff:10.0.0.2"}, "198.51.100.20"},
		{"loopback proxy", trusted, "127.0.0.1:8080", []string{"198.51.100.20"}, "198.51.100.20"},
		{"no port", nil, "203.0.113.7", nil, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, tc.trusted); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBrowserName(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                         "Firefox, Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                                "Chrome, Windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86":              "Edge, Windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0":                  "Opera, Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15":                          "Safari, macOS",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0":                                                            "Firefox, macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1":        "Safari, iPhone",
		"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1":                 "Safari, iPad",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1": "Chrome, iPhone",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15":      "Firefox, iPhone",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) EdgiOS/131.0 Mobile/15E148 Safari/605.1.15":     "Edge, iPhone",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                                "Chrome, Android",
		"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0":                                                                           "Firefox, Android",
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                                 "Chrome, ChromeOS",
		"curl/8.5.0":                "curl",
		"":                          "?",
		"Go-http-client/1.1":        "?",
		"<script>alert(1)</script>": "?",
	} {
		if got := browserName(ua); got != want {
			t.Errorf("browserName(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestRef(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		ref := newRef()
		if !refcode.Valid(ref) || strings.ContainsAny(ref, "01OILl") {
			t.Fatalf("reference code %q", ref)
		}
		seen[ref] = true
	}
	if len(seen) < 990 {
		t.Errorf("only %d different codes in 1000", len(seen))
	}
}

// newTestServer is a Server with no accounts or sessions behind it: enough
// for the middleware and the error pages, which must work without them.
func newTestServer(t *testing.T) *Server {
	t.Helper()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRenderError(t *testing.T) {
	s := newTestServer(t)
	for _, tc := range []struct {
		err        error
		status     int
		key        string
		retryAfter bool
	}{
		{errNotFound, 404, "error.not_found", false},
		{fmt.Errorf("parse: %w", &httpError{Status: 400, Key: "error.bad_request"}), 400, "error.bad_request", false},
		{&http.MaxBytesError{Limit: 10}, 413, "error.too_large", false},
		{errors.New("sqlstore: begin transaction: database is locked (5) (SQLITE_BUSY)"), 503, "error.busy", true},
		{errors.New("boom"), 500, "error.internal", false},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("Accept-Language", "sv")
		s.renderError(rec, req, tc.err)
		if rec.Code != tc.status {
			t.Errorf("%v: status %d, want %d", tc.err, rec.Code, tc.status)
		}
		body := html.UnescapeString(rec.Body.String())
		if want := s.cfg.Catalog.T("sv", tc.key, nil); !strings.Contains(body, want) {
			t.Errorf("%v: page lacks %q", tc.err, want)
		}
		if strings.Contains(body, "boom") || strings.Contains(body, "SQLITE") {
			t.Errorf("%v: the cause is shown to the person", tc.err)
		}
		if got := rec.Header().Get("Retry-After") != ""; got != tc.retryAfter {
			t.Errorf("%v: Retry-After %q", tc.err, rec.Header().Get("Retry-After"))
		}
		refText, _, _ := strings.Cut(s.cfg.Catalog.T("sv", "error.ref", map[string]any{"Ref": "\x00"}), "\x00")
		if tc.status >= 500 && !strings.Contains(body, refText) {
			t.Errorf("%v: no reference code on a server error page", tc.err)
		}
	}
}

// TestMiddleware drives the whole handler of a Server with nothing behind
// it: what the middleware refuses never reaches a handler.
func TestMiddleware(t *testing.T) {
	h := newTestServer(t).Handler()
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	form := func(path, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}

	r := form("/login", "email=a%40example.fi")
	r.Header.Set("Origin", "https://evil.example")
	if rec := serve(r); rec.Code != http.StatusForbidden {
		t.Errorf("cross-origin post: %d", rec.Code)
	}
	r = form("/register", "a=b")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if rec := serve(r); rec.Code != http.StatusForbidden {
		t.Errorf("cross-site post: %d", rec.Code)
	}
	if rec := serve(form("/login", "password="+strings.Repeat("x", maxFormBytes))); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized post: %d", rec.Code)
	}
	if rec := serve(form("/login", "email=%zz")); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed post: %d", rec.Code)
	}
	rec := serve(httptest.NewRequest(http.MethodGet, "/nowhere", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown path: %d", rec.Code)
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if rec.Header().Get(k) != v {
			t.Errorf("%s = %q", k, rec.Header().Get(k))
		}
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("CSP %q", rec.Header().Get("Content-Security-Policy"))
	}
	// A handler that panics (here: no account service behind the page)
	// gives the error page with a reference code, not a dropped connection.
	rec = serve(form("/login", "email=a%40example.fi&password=x"))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Reference code") {
		t.Errorf("panicking handler: %d\n%s", rec.Code, rec.Body)
	}
}

func TestSwitchURL(t *testing.T) {
	s := newTestServer(t)
	r := httptest.NewRequest(http.MethodGet, "/register?email=a%40example.fi", nil)
	p := s.newPage(r, "register.title")
	u, err := url.Parse(p.SwitchURL("sv"))
	if err != nil || u.Path != "/lang/sv" {
		t.Fatalf("SwitchURL = %q", p.SwitchURL("sv"))
	}
	if ret := u.Query().Get("return"); localPath(ret, "") != "/register?email=a%40example.fi" {
		t.Errorf("return %q does not come back to the page", ret)
	}
}

func TestAddPages(t *testing.T) {
	s := newTestServer(t)
	fsys := fstest.MapFS{
		"pages/extra_page.html": {Data: []byte(`{{define "content"}}<p id="extra">{{.Data.Word}}</p>{{end}}`)},
	}
	if err := s.AddPages(fsys, "pages"); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x", nil)
	s.RenderPage(w, r, http.StatusOK, "extra_page", "error.title", map[string]any{"Word": "<hello>"})
	if body := w.Body.String(); w.Code != 200 || !strings.Contains(body, `<p id="extra">&lt;hello&gt;</p>`) || !strings.Contains(body, "<html") {
		t.Fatalf("added page not rendered in the layout: %d %s", w.Code, body)
	}
	if err := s.AddPages(fstest.MapFS{"p/login.html": {Data: []byte(`{{define "content"}}x{{end}}`)}}, "p"); err == nil {
		t.Fatal("a package's page replaced web's login page")
	}
}
