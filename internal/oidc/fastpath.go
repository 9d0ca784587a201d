package oidc

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// The two requests machines make most — a client_credentials grant and an
// introspection — are answered here without zitadel's request handling
// when they succeed. Profiled (portti-bench --profile), zitadel's router,
// CORS handler, reflection-based form decoder and JSON encoder cost about
// as much as the work itself: a grant was 3.7 and an introspection 3.2
// times the CPU of a bare net/http handler that parses the same form and
// writes as many bytes (portti-bench's floor), against the 2.5 issue 7
// asks for.
//
// The fast path does the same checks with the same functions as the slow
// one (authenticateClient, clientCredentials, introspect): client
// authentication, grant types, scopes, resource, revocation, expiry. It
// answers only when all of them pass; anything else — an error of any
// kind, a browser's cross-origin request, an unusual way of sending the
// credentials — goes to zitadel's handler unchanged, which repeats the
// work and writes the error. Errors are rare and cost twice; successes
// cost once. The form is parsed once: net/http keeps it in the request.

// serveTokenFast answers a client_credentials grant, or returns false
// having written nothing.
func (p *Provider) serveTokenFast(w http.ResponseWriter, r *http.Request) bool {
	if !p.fastRequest(r) || r.Form.Get("grant_type") != string(oidc.GrantTypeClientCredentials) {
		return false
	}
	c, ok := p.fastClient(r)
	if !ok || c.rec.Public || !c.hasGrant(GrantClientCredentials) {
		return false
	}
	var asked []string
	if r.Form.Has("scope") {
		asked = strings.Split(r.Form.Get("scope"), " ") // as zitadel's SpaceDelimitedArray
	}
	resp, err := p.clientCredentials(r.Context(), c, asked, r.Form["resource"])
	if err != nil {
		return false
	}
	b := make([]byte, 0, 128+len(resp.AccessToken))
	b = append(b, `{"access_token":`...)
	b = appendJSONString(b, resp.AccessToken)
	b = append(b, `,"token_type":`...)
	b = appendJSONString(b, resp.TokenType)
	if resp.ExpiresIn != 0 {
		b = append(b, `,"expires_in":`...)
		b = strconv.AppendUint(b, resp.ExpiresIn, 10)
	}
	if len(resp.Scope) > 0 {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, strings.Join(resp.Scope, " "))
	}
	b = append(b, "}\n"...)
	writeJSON(w, b)
	return true
}

// serveIntrospectFast answers an introspection request, or returns false
// having written nothing.
func (p *Provider) serveIntrospectFast(w http.ResponseWriter, r *http.Request) bool {
	if !p.fastRequest(r) {
		return false
	}
	token := r.Form.Get("token")
	if token == "" {
		return false
	}
	c, ok := p.fastClient(r)
	if !ok || c.rec.Public {
		return false
	}
	in, err := p.introspect(r.Context(), c, token, r.Form.Get("token_type_hint"))
	if err != nil {
		return false
	}
	writeJSON(w, in.appendJSON(make([]byte, 0, 512)))
	return true
}

// fastRequest: a POST with a form body that parsed, from a server rather
// than a browser (no Origin: CORS is zitadel's handler's).
func (p *Provider) fastRequest(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Origin") != "" {
		return false
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return false
	}
	return r.ParseForm() == nil
}

// fastClient authenticates the client by client_secret_basic or
// client_secret_post, the two ways portti offers, sent the plain way:
// anything else (an assertion, both ways at once) is left to zitadel's
// handler to refuse.
func (p *Provider) fastClient(r *http.Request) (*client, bool) {
	if r.Form.Has("client_assertion") || r.Form.Has("client_assertion_type") {
		return nil, false
	}
	id, sec, basic := r.BasicAuth()
	formID, formSecret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	switch {
	case basic && formSecret == "":
		// RFC 6749 2.3.1: the Basic credentials are form-encoded.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		sec, err2 = url.QueryUnescape(sec)
		if err1 != nil || err2 != nil {
			return nil, false
		}
	case !basic && formID != "" && formSecret != "":
		id, sec = formID, formSecret
	default:
		return nil, false
	}
	if sec == "" {
		return nil, false
	}
	c, err := p.authenticateClient(r.Context(), id, sec)
	if err != nil {
		return nil, false
	}
	return c, true
}

// writeJSON writes a 200 answer with body, with the headers zitadel's
// handler sets (its CORS handler adds Vary: Origin to every answer).
func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Vary"] = append(h["Vary"], "Origin")
	_, _ = w.Write(body)
}

// appendJSON appends the introspection answer as encoding/json writes
// the struct (fields in order, omitempty), and a newline.
func (in *introspection) appendJSON(b []byte) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, in.Active)
	str := func(name, v string) {
		if v != "" {
			b = append(b, ',', '"')
			b = append(b, name...)
			b = append(b, '"', ':')
			b = appendJSONString(b, v)
		}
	}
	num := func(name string, v int64) {
		if v != 0 {
			b = append(b, ',', '"')
			b = append(b, name...)
			b = append(b, '"', ':')
			b = strconv.AppendInt(b, v, 10)
		}
	}
	str("scope", in.Scope)
	str("client_id", in.ClientID)
	str("sub", in.Subject)
	str("token_type", in.TokenType)
	num("exp", in.Expiry)
	num("iat", in.IssuedAt)
	if len(in.Audience) > 0 {
		b = append(b, `,"aud":[`...)
		for i, a := range in.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	str("iss", in.Issuer)
	str("jti", in.JWTID)
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string the way encoding/json does:
// ", \ and control characters escaped, <, > and & as \u003c, \u003e and
// \u0026, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD
// (FuzzAppendJSONString checks it against encoding/json).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
