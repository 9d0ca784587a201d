package web

import "net/http"

// StrictTransportSecurity wraps the whole service (pages, static files and
// the OpenID Connect endpoints alike) so that every response carries the
// Strict-Transport-Security header value (RFC 6797), e.g.
// "max-age=31536000; includeSubDomains": after one visit over https a
// browser will not be talked into plain http, where a network attacker
// could strip TLS and read the sign-in form. value "" (HSTS off, or a
// plain-http public URL) returns next as it is.
//
// The header is set before next runs, so error pages, redirects and
// responses written by libraries carry it too.
func StrictTransportSecurity(value string, next http.Handler) http.Handler {
	if value == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", value)
		next.ServeHTTP(w, r)
	})
}
