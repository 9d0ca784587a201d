package federation

import (
	"net/http"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/storage"
)

// purposeGuest is the flow of a guest accepting an invitation (package
// guests) by signing in at their home organisation: the upstream
// identity is linked to the guest account the acceptance creates.
const purposeGuest = "federation.guest"

// GuestAcceptor finishes a guest's acceptance once the home organisation
// has answered: invitationHash is the token hash of the invitation the
// flow began on, u the identity to link. It answers the request.
type GuestAcceptor func(w http.ResponseWriter, r *http.Request, invitationHash string, u Upstream, m account.Meta)

// SetGuestAcceptor installs the guests package's acceptance. The
// application wires it; without it, a guest flow ends on the "expired"
// page.
func (s *Service) SetGuestAcceptor(fn GuestAcceptor) { s.guest = fn }

// StartGuest sends the browser to home organisation idp for the
// invitation whose token hash is invitationHash (checked usable by the
// caller). False when idp is not a configured provider.
func (s *Service) StartGuest(w http.ResponseWriter, r *http.Request, idp, invitationHash string) bool {
	if _, ok := s.providers[idp]; !ok {
		return false
	}
	s.redirectUpstream(w, r, purposeGuest, idp, invitationHash, "")
	return true
}

// Choices lists the configured home organisations by name in lang.
func (s *Service) Choices(lang string) []Choice { return s.Search("", lang) }

func (s *Service) finishGuest(w http.ResponseWriter, r *http.Request, f storage.ProofingFlow, u Upstream, m account.Meta) {
	if s.guest == nil {
		s.cfg.Pages.RenderPage(w, r, http.StatusGone, "federation_result", "federation.gone.title",
			map[string]any{"Key": "federation.gone", "Link": "/login", "LinkKey": "nav.to_login", "Path": "/federation/choose"})
		return
	}
	s.guest(w, r, f.Challenge, u, m)
}
