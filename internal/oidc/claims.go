package oidc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portti/portti/internal/storage"
)

// userClaims are the claims about a person, by scope (OIDC Core 5.4). The
// subject is the account's random, stable ID: never the e-mail address,
// which a person can change and which may later belong to someone else.
type userClaims struct {
	Subject string `json:"sub"`

	// profile
	Name       string `json:"name,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	Locale     string `json:"locale,omitempty"`

	// email: verified means the address's owner followed the activation
	// link (or the confirmation link of an e-mail change).
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`

	// phone: not verified by portti, so phone_number_verified is not sent.
	PhoneNumber string `json:"phone_number,omitempty"`

	// address
	Address *addressClaim `json:"address,omitempty"`

	// ScopeUserType, from the registries (Config.Affiliation): staff,
	// student…
	UserType string `json:"portti_user_type,omitempty"`
	// groups: the names of the person's groups (ScopeGroups).
	Groups []string `json:"groups,omitempty"`
}

// ScopeGroups asks for the groups claim: the names of the groups a
// registry put the person in (package provision). ScopeUserType asks for
// the portti_user_type claim. Both are scopes of their own, not part of
// profile: finding them costs a lookup that the applications that do not
// ask should not pay for at every userinfo request.
const (
	ScopeGroups   = "groups"
	ScopeUserType = "portti_user_type"
)

// Affiliation is what the registries say about a person, for the claims
// and for group access rules: the user type and the names of the groups.
type Affiliation struct {
	UserType string
	Groups   []string
}

// claims are claimsFor plus the registries' claims when the scopes ask
// for them (ScopeUserType, ScopeGroups): looked up only then.
func (p *Provider) claims(ctx context.Context, a storage.Account, scopes []string) (userClaims, error) {
	u := claimsFor(a, scopes)
	userType, groups := slices.Contains(scopes, ScopeUserType), slices.Contains(scopes, ScopeGroups)
	if p.cfg.Affiliation == nil || (!userType && !groups) {
		return u, nil
	}
	af, err := p.cfg.Affiliation(ctx, a, groups)
	if err != nil {
		return u, fmt.Errorf("affiliation: %w", err)
	}
	if userType {
		u.UserType = af.UserType
	}
	if groups {
		u.Groups = af.Groups
	}
	return u, nil
}

type addressClaim struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"street_address,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Locality      string `json:"locality,omitempty"`
}

func claimsFor(a storage.Account, scopes []string) userClaims {
	u := userClaims{Subject: a.ID}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		u.Name = strings.TrimSpace(a.GivenName + " " + a.FamilyName)
		u.GivenName, u.FamilyName, u.Locale = a.GivenName, a.FamilyName, a.Locale
	}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		verified := a.Activated()
		u.Email, u.EmailVerified = a.Email, &verified
	}
	if slices.Contains(scopes, oidc.ScopePhone) {
		u.PhoneNumber = a.PhoneNumber
	}
	if slices.Contains(scopes, oidc.ScopeAddress) && (a.StreetAddress != "" || a.PostalCode != "" || a.Locality != "") {
		// Formatted the Finnish (and Nordic) way: street, then postal code
		// and town on one line.
		var lines []string
		if a.StreetAddress != "" {
			lines = append(lines, a.StreetAddress)
		}
		if town := strings.TrimSpace(a.PostalCode + " " + a.Locality); town != "" {
			lines = append(lines, town)
		}
		u.Address = &addressClaim{
			Formatted: strings.Join(lines, "\n"), StreetAddress: a.StreetAddress,
			PostalCode: a.PostalCode, Locality: a.Locality,
		}
	}
	return u
}
