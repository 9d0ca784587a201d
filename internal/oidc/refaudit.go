package oidc

import (
	"log/slog"
	"net/http"

	"github.com/portti/portti/internal/storage"
)

// auditRef stores the audit event behind a reference code shown on one of
// the provider's pages (a problem page, the network-restricted page), so
// that the helpdesk finds what happened from the code a person reads out,
// as it does for the web pages' codes. Losing the row does not stop the
// page: the log line next to it carries the same code.
func (p *Provider) auditRef(r *http.Request, ref, kind, clientID, reason string) {
	e := storage.Event{
		Time: p.now(), Kind: kind, Ref: ref, Reason: reason, UserAgent: r.UserAgent(),
	}
	if clientID != "" {
		e.Reason = "client " + truncate(clientID, 128) + ": " + reason
	}
	if a, ok := p.clientAddr(r); ok {
		e.ClientIP = a.String()
	}
	if err := p.store.AppendEvent(r.Context(), e); err != nil {
		p.log.WarnContext(r.Context(), "oidc: reference code not stored", slog.String("ref", ref), slog.Any("error", err))
	}
}
