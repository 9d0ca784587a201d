package saml

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"

	"github.com/portti/portti/internal/storage"
)

// attribute is one attribute portti can release, by the funetEduPerson
// schema 2.6 (and the SAML V2.0 Subject Identifier Attributes profile).
type attribute struct {
	Friendly string
	Name     string // urn:oid:… (NameFormat uri)
}

var attributes = []attribute{
	{"cn", "urn:oid:2.5.4.3"},
	{"sn", "urn:oid:2.5.4.4"},
	{"givenName", "urn:oid:2.5.4.42"},
	{"displayName", "urn:oid:2.16.840.1.113730.3.1.241"},
	{"mail", "urn:oid:0.9.2342.19200300.100.1.3"},
	{"eduPersonPrincipalName", "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"},
	{"eduPersonAffiliation", "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"},
	{"eduPersonScopedAffiliation", "urn:oid:1.3.6.1.4.1.5923.1.1.1.9"},
	{"schacHomeOrganization", "urn:oid:1.3.6.1.4.1.25178.1.2.9"},
	{"schacHomeOrganizationType", "urn:oid:1.3.6.1.4.1.25178.1.2.10"},
	{"eduPersonAssurance", "urn:oid:1.3.6.1.4.1.5923.1.1.1.11"},
	{"preferredLanguage", "urn:oid:2.16.840.1.113730.3.1.39"},
	{"subject-id", "urn:oasis:names:tc:SAML:attribute:subject-id"},
	{"pairwise-id", "urn:oasis:names:tc:SAML:attribute:pairwise-id"},
}

// AttributeNames are the friendly names of every attribute portti can
// release (what --release accepts).
func AttributeNames() []string {
	out := make([]string, len(attributes))
	for i, a := range attributes {
		out[i] = a.Friendly
	}
	return out
}

// attributeByName finds an attribute by friendly name (case-insensitive)
// or by its urn name.
func attributeByName(n string) (attribute, bool) {
	for _, a := range attributes {
		if strings.EqualFold(a.Friendly, n) || a.Name == n {
			return a, true
		}
	}
	return attribute{}, false
}

// CheckRelease validates --release names and returns them as the
// schema spells them.
func CheckRelease(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		a, ok := attributeByName(strings.TrimSpace(n))
		if !ok {
			return nil, fmt.Errorf("unknown attribute %q (known: %s)", n, strings.Join(AttributeNames(), ", "))
		}
		if !slices.Contains(out, a.Friendly) {
			out = append(out, a.Friendly)
		}
	}
	return out, nil
}

// released is what sp gets: what the operator releases to it, narrowed
// to what its metadata requests when it requests anything.
func released(sp *serviceProvider) []attribute {
	var out []attribute
	for _, a := range attributes {
		if !slices.Contains(sp.Release, a.Friendly) {
			continue
		}
		if len(sp.Requested) > 0 && !slices.Contains(sp.Requested, a.Name) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// affiliations maps a user type to eduPersonAffiliation values
// (eduPerson 202208: staff and students are members; people whose tie is
// looser are affiliates).
func affiliations(userType string) []string {
	switch userType {
	case "staff":
		return []string{"member", "staff", "employee"}
	case "student":
		return []string{"member", "student"}
	case "external", "guest":
		return []string{"affiliate"}
	}
	return []string{"member"}
}

// uniqueID is the account's identifier in attributes: stable, never
// reassigned (account IDs are never reused), only [a-z2-7] as
// subject-id's and eduPersonPrincipalName's local parts allow, and not
// the OpenID Connect sub itself.
func uniqueID(accountID string) string {
	sum := sha256.Sum256([]byte("portti saml subject\x00" + accountID))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20]))
}

// pairwise is the account's identifier for one service: the persistent
// NameID and pairwise-id, unlinkable between services.
func (p *Provider) pairwise(accountID, entityID string) string {
	m := hmac.New(sha256.New, p.keys.pairwise)
	m.Write([]byte(entityID))
	m.Write([]byte{0})
	m.Write([]byte(accountID))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:20]))
}

// Assurance values (REFEDS Assurance Framework): identifiers are unique
// and never reassigned; identity proofing is self-asserted with a
// confirmed e-mail address (low).
var assurance = []string{
	"https://refeds.org/assurance",
	"https://refeds.org/assurance/ID/unique",
	"https://refeds.org/assurance/ID/eppn-unique-no-reassign",
	"https://refeds.org/assurance/IAP/low",
}

// values are an attribute's values for an account.
func (p *Provider) values(a attribute, acct storage.Account, sp *serviceProvider) []string {
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	full := strings.TrimSpace(acct.GivenName + " " + acct.FamilyName)
	scope := p.cfg.Scope
	switch a.Friendly {
	case "cn", "displayName":
		return one(full)
	case "sn":
		return one(acct.FamilyName)
	case "givenName":
		return one(acct.GivenName)
	case "mail":
		return one(acct.Email)
	case "eduPersonPrincipalName", "subject-id":
		return one(uniqueID(acct.ID) + "@" + scope)
	case "pairwise-id":
		return one(p.pairwise(acct.ID, sp.EntityID) + "@" + scope)
	case "eduPersonAffiliation":
		return affiliations(p.cfg.UserType(acct))
	case "eduPersonScopedAffiliation":
		var out []string
		for _, v := range affiliations(p.cfg.UserType(acct)) {
			out = append(out, v+"@"+scope)
		}
		return out
	case "schacHomeOrganization":
		return one(p.cfg.HomeOrganization)
	case "schacHomeOrganizationType":
		return one(p.cfg.HomeOrganizationType)
	case "eduPersonAssurance":
		return assurance
	case "preferredLanguage":
		return one(acct.Locale)
	}
	return nil
}
