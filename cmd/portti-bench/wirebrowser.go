package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// wireBrowser is the browser of the sign-in scenarios (c), (g) and (h)
// on a worker's own keep-alive connection (wire): it keeps the cookies
// of one sign-in, sends forms, and follows portti's redirects up to the
// application's address, where it stops and hands back the code.
//
// Why not http.Client with a cookie jar: on a 2-core machine shared with
// the server, that browser took 2–3 ms of CPU per sign-in (six or seven
// requests through the Transport's goroutines, the jar's public-suffix
// and path matching, redirect bookkeeping), as much as portti spends
// outside the password hash, and the scenario measures portti and the
// load generator together. A browser keeps its connection alive across
// a sign-in's requests too.
type wireBrowser struct {
	b       *bench
	w       *wire
	cookies []*http.Cookie
	req     bytes.Buffer
}

// newWireBrowser starts a sign-in with no cookies on connection w.
func (b *bench) newWireBrowser(w *wire) *wireBrowser {
	return &wireBrowser{b: b, w: w}
}

// answer is one final answer of a page request.
type answer struct {
	status   int
	location string // the Location of a redirect to the application, else ""
	body     []byte // valid until the browser's next request
	path     string // the path that answered
}

// get requests path and follows redirects.
func (c *wireBrowser) get(ctx context.Context, path string) (answer, error) {
	return c.follow(ctx, http.MethodGet, path, "")
}

// post sends form to path and follows redirects.
func (c *wireBrowser) post(ctx context.Context, path string, form url.Values) (answer, error) {
	return c.follow(ctx, http.MethodPost, path, form.Encode())
}

// follow sends one request and follows portti's redirects (with GET, as
// browsers do after 302 and 303), stopping at the application's address.
func (c *wireBrowser) follow(ctx context.Context, method, path, form string) (answer, error) {
	for range 10 {
		status, body, err := c.send(ctx, method, path, form)
		if err != nil {
			return answer{}, err
		}
		if status != http.StatusFound && status != http.StatusSeeOther {
			return answer{status: status, body: body, path: path}, nil
		}
		loc := c.w.header.Get("Location")
		if strings.HasPrefix(loc, benchRedirect) {
			return answer{status: status, location: loc, path: path}, nil
		}
		next, err := c.local(loc)
		if err != nil {
			return answer{}, err
		}
		method, path, form = http.MethodGet, next, ""
	}
	return answer{}, fmt.Errorf("%s: more than 10 redirects", path)
}

// local turns a redirect's Location into a path on the server.
func (c *wireBrowser) local(loc string) (string, error) {
	if strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
		return loc, nil
	}
	if rest, ok := strings.CutPrefix(loc, c.b.base); ok && strings.HasPrefix(rest, "/") {
		return rest, nil
	}
	return "", fmt.Errorf("redirect to %q, off the server", loc)
}

// send writes one request with the browser's cookies and keeps the
// cookies the answer sets.
func (c *wireBrowser) send(ctx context.Context, method, path, form string) (int, []byte, error) {
	r := &c.req
	r.Reset()
	r.WriteString(method)
	r.WriteByte(' ')
	r.WriteString(path)
	r.WriteString(" HTTP/1.1\r\nHost: ")
	r.WriteString(c.b.host)
	r.WriteString("\r\nUser-Agent: portti-bench\r\n")
	if len(c.cookies) > 0 {
		r.WriteString("Cookie: ")
		for i, k := range c.cookies {
			if i > 0 {
				r.WriteString("; ")
			}
			r.WriteString(k.Name)
			r.WriteByte('=')
			r.WriteString(k.Value)
		}
		r.WriteString("\r\n")
	}
	if method == http.MethodPost {
		r.WriteString("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ")
		r.WriteString(strconv.Itoa(len(form)))
		r.WriteString("\r\n")
	}
	r.WriteString("\r\n")
	r.WriteString(form)
	status, body, err := c.w.roundTrip(ctx, r.Bytes())
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if len(c.w.header["Set-Cookie"]) > 0 {
		c.keep((&http.Response{Header: c.w.header}).Cookies())
	}
	return status, body, nil
}

// keep stores set cookies, replacing those of the same name and dropping
// the ones a server expires. portti is one host and sets every cookie on
// path /, so the name alone identifies one.
func (c *wireBrowser) keep(set []*http.Cookie) {
	for _, k := range set {
		kept := c.cookies[:0]
		for _, old := range c.cookies {
			if old.Name != k.Name {
				kept = append(kept, old)
			}
		}
		c.cookies = kept
		if k.MaxAge >= 0 && k.Value != "" {
			c.cookies = append(c.cookies, k)
		}
	}
}

// exchange redeems the code in the application's callback address loc
// (checking its state) on the browser's connection, as the bench client
// with client_secret_basic, and returns the token response.
func (c *wireBrowser) exchange(ctx context.Context, loc, state, verifier string) (tokenResponse, error) {
	var tr tokenResponse
	u, err := url.Parse(loc)
	if err != nil {
		return tr, err
	}
	cb := u.Query()
	if cb.Get("state") != state || cb.Get("code") == "" {
		return tr, fmt.Errorf("callback %v", cb)
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Get("code")},
		"redirect_uri": {benchRedirect}, "code_verifier": {verifier},
	}.Encode()
	req := c.b.rawRequest(http.MethodPost, "/oauth2/token", form,
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", c.b.basicAuth())
	body, err := c.w.expect(ctx, req, "code exchange", []byte(`"id_token"`))
	if err != nil {
		return tr, err
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return tr, fmt.Errorf("code exchange: %w", err)
	}
	if tr.AccessToken == "" || tr.IDToken == "" {
		return tr, fmt.Errorf("code exchange: no access_token or id_token in %.300s", body)
	}
	return tr, nil
}
