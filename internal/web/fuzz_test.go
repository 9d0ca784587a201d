package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzLocalPath: whatever a return address says, where a browser ends up
// is on this site.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{
		"", "/", "/account", "//evil.example", `/\evil`, "https://evil.example", "/\t/evil", "/%2F%2Fevil",
		"/a/../..//evil", "/.//evil", "/?//evil", "/#//evil", "http:/evil", "/\u3000/evil", "/\uff0f/evil",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://portti.example/lang/fi")
	f.Fuzz(func(t *testing.T, p string) {
		const fb = "/"
		got := localPath(p, fb)
		if got != p && got != fb {
			t.Fatalf("localPath(%q) = %q: neither the input nor the fallback", p, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("localPath(%q) = %q", p, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
			t.Fatalf("localPath(%q) = %q parses as %#v, %v", p, got, u, err)
		}
		// What a browser does with it: drop tabs and newlines, read "\" as
		// "/" (WHATWG URL), then resolve against the page.
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(got)
		if strings.HasPrefix(browser, "//") {
			t.Fatalf("localPath(%q) = %q, which a browser reads as %q", p, got, browser)
		}
		// And what http.Redirect makes of it.
		rec := httptest.NewRecorder()
		http.Redirect(rec, httptest.NewRequest(http.MethodGet, "/lang/fi", nil), got, http.StatusSeeOther)
		loc := rec.Header().Get("Location")
		lu, err := url.Parse(loc)
		if err != nil {
			return // not a URL a browser can follow anywhere
		}
		if r := base.ResolveReference(lu); r.Host != base.Host || r.Scheme != base.Scheme {
			t.Fatalf("localPath(%q) = %q redirects to %q, off this site", p, got, r)
		}
	})
}

// FuzzClientIP: the address is never one a client can choose when it
// talks to portti directly, and with proxies it is always the peer or an
// X-Forwarded-For entry with only trusted proxies to its right.
func FuzzClientIP(f *testing.F) {
	f.Add("203.0.113.7:1234", "198.51.100.20")
	f.Add("10.0.0.1:443", "6.6.6.6, 198.51.100.20, 10.0.0.2")
	f.Add("[::ffff:10.0.0.1]:80", "::ffff:198.51.100.20")
	f.Add("[2001:db8:1::1]:443", "garbage,2001:db8:2::9")
	f.Add("10.0.0.1:443", "198.51.100.20,")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	isTrustedAddr := func(s string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		return err == nil && isTrusted(a.Unmap(), trusted)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := ClientIP(r, trusted)
		peer := ClientIP(r, nil) // the peer itself, XFF never believed
		if ap, err := netip.ParseAddrPort(remote); err == nil && peer != ap.Addr().Unmap().String() {
			t.Fatalf("ClientIP(%q, no proxies) = %q", remote, peer)
		}
		if !isTrustedAddr(peer) {
			if got != peer {
				t.Fatalf("untrusted peer %q: ClientIP = %q from XFF %q", remote, got, xff)
			}
			return
		}
		if got == peer {
			return
		}
		hops := strings.Split(xff, ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			if a.Unmap().String() == got {
				return
			}
			if !isTrusted(a.Unmap(), trusted) {
				break
			}
		}
		t.Fatalf("ClientIP(%q, XFF %q) = %q: not the peer nor the nearest untrusted hop", remote, xff, got)
	})
}
