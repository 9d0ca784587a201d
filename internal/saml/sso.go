package saml

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// Authentication context classes a service may ask for besides
// mfa.acr_mfa and mfa.acr_password: SAML's own password classes, met by
// any portti sign-in (always over TLS).
var passwordClasses = []string{
	"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
}

// Status codes.
const (
	statusSuccess         = "urn:oasis:names:tc:SAML:2.0:status:Success"
	statusRequester       = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	statusResponder       = "urn:oasis:names:tc:SAML:2.0:status:Responder"
	statusNoPassive       = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
	statusNoAuthnContext  = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
	statusInvalidNameID   = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
	statusPartialLogout   = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
	assertionLifetime     = 5 * time.Minute
	pendingRequestTimeout = 30 * time.Minute
)

// pending is a checked AuthnRequest (or an IdP-initiated sign-in) on its
// way through the login form, sealed in the continuation URL.
type pending struct {
	ID      string `json:"i,omitempty"` // the AuthnRequest's ID; "" when IdP-initiated
	SP      string `json:"s"`
	ACS     string `json:"a"`
	Relay   string `json:"r,omitempty"`
	Force   bool   `json:"f,omitempty"`
	Passive bool   `json:"p,omitempty"`
	MFA     bool   `json:"m,omitempty"`
	// Class is the class to state when a password class other than
	// portti's own was asked for (PasswordProtectedTransport).
	Class     string `json:"c,omitempty"`
	Transient bool   `json:"n,omitempty"`
	At        int64  `json:"t"` // when received (Unix seconds)
	// Prev is the browser's session when it was sent to sign in again
	// (ForceAuthn, a step-up): the new session takes over its services,
	// or Single Logout would forget to tell them.
	Prev string `json:"v,omitempty"`
}

// spCacheTTL is how long a parsed service is reused: a change (sp add,
// remove, an aggregate refresh) on any node is seen within it.
const spCacheTTL = 15 * time.Second

type cachedSP struct {
	sp     *serviceProvider
	until  time.Time // the metadata's validUntil (zero: none)
	loaded time.Time
}

// lookupSP loads and parses a registered service; expired metadata is
// never used. Parsed services are kept for spCacheTTL: parsing metadata
// costs more than answering a request for a signed-in browser.
func (p *Provider) lookupSP(ctx context.Context, entityID string) (*serviceProvider, error) {
	now := p.now()
	p.spMu.Lock()
	c, ok := p.spCache[entityID]
	p.spMu.Unlock()
	if !ok || now.Sub(c.loaded) > spCacheTTL || now.Before(c.loaded) {
		rec, err := p.cfg.Store.GetSAMLServiceProvider(ctx, entityID)
		if err != nil {
			return nil, err
		}
		sp, err := parseSPMetadata(rec.Metadata)
		if err != nil {
			return nil, err
		}
		sp.Release = rec.Release
		c = cachedSP{sp: sp, until: rec.ValidUntil, loaded: now}
		p.spMu.Lock()
		if p.spCache == nil || len(p.spCache) > 10000 {
			p.spCache = map[string]cachedSP{}
		}
		p.spCache[entityID] = c
		p.spMu.Unlock()
	}
	if !c.until.IsZero() && c.until.Before(now) {
		return nil, fmt.Errorf("%w: its metadata expired at %s", errExpired, samlTime(c.until))
	}
	return c.sp, nil
}

// forgetSP drops a service from the cache (this node changed it).
func (p *Provider) forgetSP(entityID string) {
	p.spMu.Lock()
	delete(p.spCache, entityID)
	p.spMu.Unlock()
}

var errExpired = errors.New("metadata expired")

// serveSSO receives an AuthnRequest in either binding.
func (p *Provider) serveSSO(w http.ResponseWriter, r *http.Request) {
	in, err := readMessage(w, r, "SAMLRequest")
	if err != nil {
		p.refuseInbound(w, r, "", err)
		return
	}
	id, issuer, err := p.checkHeader(in.root, "AuthnRequest", p.base+PathSSO)
	if err != nil {
		p.refuseInbound(w, r, "", err)
		return
	}
	// The HAKA rule: a service whose metadata says it signs its requests
	// has every request checked; any signature present is checked.
	sp, el, ok := p.verifiedFrom(w, r, in, issuer, signedIfMetadataSays)
	if !ok {
		return
	}
	req, err := p.readAuthnRequest(el, sp)
	if err != nil {
		p.refuseInbound(w, r, issuer, err)
		return
	}
	if err := p.useID(r, "authn", issuer, id); err != nil {
		p.refuseInbound(w, r, issuer, err)
		return
	}
	req.ID, req.Relay, req.At = id, in.relay, p.now().Unix()
	if req.unmet {
		p.respondError(w, r, sp, &req.pending, statusNoAuthnContext)
		return
	}
	if req.badNameID {
		p.respondError(w, r, sp, &req.pending, statusInvalidNameID)
		return
	}
	if in.binding == bindingPOST {
		// A cross-site POST carries no SameSite=Lax cookie: continue
		// on a same-site GET, where the session is visible.
		p.redirectContinue(w, r, &req.pending)
		return
	}
	p.continueSignIn(w, r, &req.pending)
}

// Signature rules for verifiedFrom.
type signatureRule int

const (
	signedIfPresent      signatureRule = iota // checked when there is one
	mustBeSigned                              // refused without one
	signedIfMetadataSays                      // the service's AuthnRequestsSigned
)

// verifiedFrom finds the registered service issuer and checks in's
// signature against its keys by rule. It answers the browser itself and
// returns false when the service is unknown, its metadata expired, or
// the signature does not hold; else the service and the element to read
// from (the one the signature covers).
func (p *Provider) verifiedFrom(w http.ResponseWriter, r *http.Request, in *inbound, issuer string, rule signatureRule) (*serviceProvider, *etree.Element, bool) {
	sp, err := p.lookupSP(r.Context(), issuer)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, errExpired) {
			p.refuse(w, r, http.StatusBadRequest, "saml.error.unknown_service", issuer, err)
		} else {
			p.failInternal(w, r, err)
		}
		return nil, nil, false
	}
	required := rule == mustBeSigned || rule == signedIfMetadataSays && sp.AuthnRequestsSigned
	el, _, err := in.verify(sp, required)
	if err != nil {
		p.refuse(w, r, http.StatusBadRequest, "saml.error.signature", issuer, err)
		return nil, nil, false
	}
	return sp, el, true
}

// authnRequest is what readAuthnRequest found.
type authnRequest struct {
	pending
	unmet     bool // no requested authentication context can be met
	badNameID bool // a NameID format portti does not issue
}

// readAuthnRequest reads the checked request: the ACS (exactly one of
// the metadata's), ForceAuthn, IsPassive, NameIDPolicy and
// RequestedAuthnContext.
func (p *Provider) readAuthnRequest(el *etree.Element, sp *serviceProvider) (*authnRequest, error) {
	req := &authnRequest{pending: pending{SP: sp.EntityID}}
	acsURL := el.SelectAttrValue("AssertionConsumerServiceURL", "")
	acsIndex := el.SelectAttrValue("AssertionConsumerServiceIndex", "")
	if b := el.SelectAttrValue("ProtocolBinding", ""); b != "" && b != bindingPOST {
		return nil, fmt.Errorf("%w: ProtocolBinding %s is not offered (HTTP-POST is)", errUnknownACS, truncate(b, 100))
	}
	switch {
	case acsURL != "":
		// Exact match, character for character: no prefix, no
		// normalisation.
		i := slices.IndexFunc(sp.ACS, func(a mdEndpoint) bool { return a.Location == acsURL })
		if i < 0 {
			return nil, fmt.Errorf("%w: %s", errUnknownACS, truncate(acsURL, 200))
		}
		req.ACS = acsURL
	case acsIndex != "":
		n, err := strconv.Atoi(acsIndex)
		i := slices.IndexFunc(sp.ACS, func(a mdEndpoint) bool { return a.Index != nil && *a.Index == n })
		if err != nil || i < 0 {
			return nil, fmt.Errorf("%w: index %s", errUnknownACS, truncate(acsIndex, 20))
		}
		req.ACS = sp.ACS[i].Location
	default:
		req.ACS = sp.defaultACS().Location
	}
	req.Force = boolAttr(el, "ForceAuthn")
	req.Passive = boolAttr(el, "IsPassive")
	if pol, err := child(el, nsSAMLP, "NameIDPolicy"); err != nil {
		return nil, err
	} else if pol != nil {
		switch pol.SelectAttrValue("Format", "") {
		case "", nameIDPersistent, nameIDUnspecified:
		case nameIDTransient:
			req.Transient = true
		default:
			req.badNameID = true
		}
	}
	rac, err := child(el, nsSAMLP, "RequestedAuthnContext")
	if err != nil {
		return nil, err
	}
	if rac != nil {
		var classes []string
		for _, c := range rac.ChildElements() {
			if c.Tag == "AuthnContextClassRef" && c.NamespaceURI() == nsSAML {
				v, err := text(c)
				if err != nil {
					return nil, err
				}
				classes = append(classes, v)
			}
		}
		req.MFA, req.Class, req.unmet = p.requestedContext(rac.SelectAttrValue("Comparison", "exact"), classes)
	}
	return req, nil
}

var errUnknownACS = errors.New("the AssertionConsumerService is not one the service's metadata lists")

func boolAttr(el *etree.Element, name string) bool {
	v := el.SelectAttrValue(name, "")
	return v == "true" || v == "1"
}

// requestedContext reads RequestedAuthnContext: whether a second factor
// is needed, which class to state for a password sign-in, and whether no
// class can be met. With "exact" (the default) the first class portti
// can meet wins, as with acr_values; with "minimum" the weakest listed
// class portti meets; "better" asks for more than the listed ones, which
// only the MFA class is when a password class is listed; "maximum" is
// met by any listed class.
func (p *Provider) requestedContext(comparison string, classes []string) (mfa bool, class string, unmet bool) {
	names := authn.ACRNames{MFA: authn.ACRMFA, Password: authn.ACRPassword}
	if p.cfg.MFA != nil {
		names = p.cfg.MFA.ACRNames()
	}
	isMFA := func(c string) bool { return c == names.MFA }
	isPwd := func(c string) bool { return c == names.Password || slices.Contains(passwordClasses, c) }
	var meetable []string
	for _, c := range classes {
		if isMFA(c) || isPwd(c) {
			meetable = append(meetable, c)
		}
	}
	if len(meetable) == 0 {
		return false, "", len(classes) > 0
	}
	switch comparison {
	case "minimum", "maximum":
		if i := slices.IndexFunc(meetable, isPwd); i >= 0 {
			return false, meetable[i], false
		}
		return true, "", false
	case "better":
		if slices.ContainsFunc(meetable, isMFA) {
			return false, "", true // nothing is better than MFA here
		}
		return true, "", false
	}
	if isMFA(meetable[0]) {
		return true, "", false
	}
	return false, meetable[0], false
}

// refuseInbound maps an inbound problem to its page.
func (p *Provider) refuseInbound(w http.ResponseWriter, r *http.Request, issuer string, err error) {
	key := "saml.error.malformed"
	switch {
	case errors.Is(err, errTooLarge):
		key = "saml.error.too_large"
	case errors.Is(err, errReplay):
		key = "saml.error.replay"
	case errors.Is(err, errStale):
		key = "saml.error.stale"
	case errors.Is(err, errUnknownACS):
		key = "saml.error.unknown_acs"
	case errors.Is(err, errSignature):
		key = "saml.error.signature"
	case !errors.Is(err, errMalformed):
		p.failInternal(w, r, err)
		return
	}
	p.refuse(w, r, http.StatusBadRequest, key, issuer, err)
}

func (p *Provider) redirectContinue(w http.ResponseWriter, r *http.Request, req *pending) {
	s, err := p.sealState("sso", req)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	http.Redirect(w, r, p.continueURL(s), http.StatusSeeOther)
}

func (p *Provider) continueURL(sealed string) string {
	return PathContinue + "?s=" + sealed
}

// serveContinue resumes a sign-in on a same-site GET.
func (p *Provider) serveContinue(w http.ResponseWriter, r *http.Request) {
	var req pending
	if err := p.openState("sso", r.URL.Query().Get("s"), &req); err != nil ||
		p.now().Sub(time.Unix(req.At, 0)) > pendingRequestTimeout {
		p.refuse(w, r, http.StatusBadRequest, "saml.error.expired", req.SP, err)
		return
	}
	p.continueSignIn(w, r, &req)
}

// continueSignIn answers a checked request from the browser's session:
// the login form when there is none (or ForceAuthn asks for a new
// sign-in), a second step when the service or the policy needs one, else
// the assertion.
func (p *Provider) continueSignIn(w http.ResponseWriter, r *http.Request, req *pending) {
	ctx := r.Context()
	sp, err := p.lookupSP(ctx, req.SP)
	if err != nil {
		p.refuse(w, r, http.StatusBadRequest, "saml.error.unknown_service", req.SP, err)
		return
	}
	se, err := p.cfg.Sessions.Current(ctx, r, "")
	var acct storage.Account
	if err == nil {
		acct, err = p.cfg.Store.GetAccount(ctx, se.AccountID)
		if err == nil && acct.Disabled {
			err = storage.ErrNotFound
		}
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if req.Passive {
			p.respondError(w, r, sp, req, statusNoPassive)
			return
		}
		p.toLogin(w, r, req, "", false)
		return
	case err != nil:
		p.failInternal(w, r, err)
		return
	}
	if req.Prev != "" && req.Prev != se.ID {
		if _, err := p.cfg.Store.GetSession(ctx, req.Prev); errors.Is(err, storage.ErrNotFound) {
			if err := p.cfg.Store.MoveSAMLParticipants(ctx, req.Prev, se.ID); err != nil {
				p.failInternal(w, r, err)
				return
			}
		}
		req.Prev = ""
	}
	// ForceAuthn: a sign-in made after the request, not before.
	if req.Force && se.CreatedAt.Unix() < req.At {
		if req.Passive {
			p.respondError(w, r, sp, req, statusNoPassive)
			return
		}
		req.Prev = se.ID
		p.toLogin(w, r, req, acct.Email, true)
		return
	}
	if p.secondFactorMissing(w, r, sp, req, se, acct) {
		return
	}
	p.respond(w, r, sp, req, se, acct)
}

// toLogin sends the browser to the login form, which returns to the
// continuation.
func (p *Provider) toLogin(w http.ResponseWriter, r *http.Request, req *pending, email string, fresh bool) {
	s, err := p.sealState("sso", req)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	q := url.Values{"return": {p.continueURL(s)}}
	if fresh {
		q.Set("mfa", "fresh")
	}
	if email != "" {
		q.Set("email", email)
	}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusFound)
}

// secondFactorMissing applies the second-factor rules as the OpenID
// Connect provider does for acr_values: the service's demand (the REFEDS
// MFA class) is met only by a second factor of this sign-in; the
// operator's policy also by a remembered browser, and may be put off
// during the enrolment grace. It answers the browser itself (true) when
// the session is not enough.
func (p *Provider) secondFactorMissing(w http.ResponseWriter, r *http.Request, sp *serviceProvider, req *pending, se storage.Session, acct storage.Account) bool {
	mfa := p.cfg.MFA
	if mfa == nil {
		if req.MFA {
			p.respondError(w, r, sp, req, statusNoAuthnContext)
			return true
		}
		return false
	}
	ctx := r.Context()
	reg := mfa.Registry()
	if reg.MultiFactor(se.Factors) || !req.MFA && (!mfa.RequiredFor(acct) || reg.PolicySatisfied(se.Factors)) {
		return false
	}
	entries, err := mfa.Entries(ctx, acct.ID)
	if err != nil {
		p.failInternal(w, r, err)
		return true
	}
	if !req.MFA && !authn.Enabled(entries) {
		if _, inGrace, err := mfa.EnrolmentGrace(ctx, acct); err != nil {
			p.failInternal(w, r, err)
			return true
		} else if inGrace {
			return false
		}
	}
	if req.Passive {
		p.respondError(w, r, sp, req, statusNoPassive)
		return true
	}
	if authn.Enabled(entries) {
		req.Prev = se.ID
		p.toLogin(w, r, req, acct.Email, true)
		return true
	}
	s, err := p.sealState("sso", req)
	if err != nil {
		p.failInternal(w, r, err)
		return true
	}
	q := url.Values{"account": {acct.ID}, "return": {p.continueURL(s)}, "notice": {"mfa_required"}}
	http.Redirect(w, r, "/account/mfa?"+q.Encode(), http.StatusFound)
	return true
}

// serveInit starts an IdP-initiated sign-in to a listed service
// (/saml/init?sp=ENTITYID&RelayState=…): the response goes to its
// default ACS, unsolicited.
func (p *Provider) serveInit(w http.ResponseWriter, r *http.Request) {
	entity := r.URL.Query().Get("sp")
	if !slices.Contains(p.cfg.IdPInitiated, entity) {
		p.refuse(w, r, http.StatusNotFound, "saml.error.unknown_service", entity, errors.New("not listed in saml.idp_initiated"))
		return
	}
	sp, err := p.lookupSP(r.Context(), entity)
	if err != nil {
		p.refuse(w, r, http.StatusNotFound, "saml.error.unknown_service", entity, err)
		return
	}
	relay := r.URL.Query().Get("RelayState")
	if len(relay) > maxRelayState {
		relay = ""
	}
	p.continueSignIn(w, r, &pending{SP: entity, ACS: sp.defaultACS().Location, Relay: relay, At: p.now().Unix()})
}
