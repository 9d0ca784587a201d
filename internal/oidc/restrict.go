package oidc

import (
	"net"
	"net/http"
	"net/netip"
)

// Network-restricted clients. A client registered with --allowed-network
// is signed in to only from those address ranges (a campus network, its
// VPN). The check is made where a person is in front of the browser: at
// the authorize endpoint, before the request is stored or anyone is asked
// for a password, and again when the sign-in continues (the person may
// have moved, the client may have changed). The token endpoint is not
// checked: it is called by the application's own server, whose address
// says nothing about where the person is.

// clientAddr is the address the request comes from: Config.ClientIP (the
// web front's trusted-proxy rule), else the direct peer.
func (p *Provider) clientAddr(r *http.Request) (netip.Addr, bool) {
	var s string
	if p.cfg.ClientIP != nil {
		s = p.cfg.ClientIP(r)
	} else {
		s = r.RemoteAddr
		if host, _, err := net.SplitHostPort(s); err == nil {
			s = host
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// reachable reports whether client c may be signed in to from where
// request r comes from.
func (p *Provider) reachable(r *http.Request, c *client) bool {
	if len(c.rec.AllowedNetworks) == 0 {
		return true
	}
	// Ranges that did not parse (only possible past registration, which
	// validates them) open nothing: a restricted client fails closed.
	a, ok := p.clientAddr(r)
	if !ok {
		return false
	}
	for _, n := range c.networks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// restricted shows the page that names the application and says it is
// only available from the organisation's network or over VPN.
func (p *Provider) restricted(w http.ResponseWriter, r *http.Request, c *client) {
	ref := newRef()
	addr, _ := p.clientAddr(r)
	p.log.InfoContext(r.Context(), "oidc: sign-in refused outside the client's networks",
		"client_id", c.rec.ID, "client_ip", addr.String(), "ref", ref)
	p.auditRef(r, ref, "oidc.network_refused", c.rec.ID, "outside the application's networks")
	p.page(w, r, http.StatusForbidden, "restricted", "restricted.title", map[string]any{
		"App": c.displayName(),
		"Ref": ref,
	})
}

// displayName is how pages name the application: its name, else its ID.
func (c *client) displayName() string {
	if c.rec.Name != "" {
		return c.rec.Name
	}
	return c.rec.ID
}
