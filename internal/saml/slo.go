package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/portti/portti/internal/storage"
)

// logoutChain is a front-channel Single Logout in progress, sealed in
// the RelayState of each LogoutRequest portti sends: the services still
// to tell, and whom to answer at the end.
type logoutChain struct {
	Origin      string        `json:"o,omitempty"` // the service that asked; "" when portti did
	OriginID    string        `json:"i,omitempty"` // its LogoutRequest's ID
	OriginRelay string        `json:"r,omitempty"`
	Remaining   []logoutEntry `json:"m,omitempty"`
	Sent        string        `json:"s,omitempty"` // ID of the LogoutRequest out now
	Partial     bool          `json:"p,omitempty"` // a service did not confirm
	At          int64         `json:"t"`
}

type logoutEntry struct {
	SP, NameID, Index string
}

// serveSLO receives a LogoutRequest from a service or a LogoutResponse
// to one of portti's, in either binding.
func (p *Provider) serveSLO(w http.ResponseWriter, r *http.Request) {
	param := "SAMLRequest"
	if r.Method == http.MethodGet && r.URL.Query().Has("SAMLResponse") {
		param = "SAMLResponse"
	} else if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxPostBody)
		if err := r.ParseForm(); err != nil {
			p.refuseInbound(w, r, "", errTooLarge)
			return
		}
		if r.PostForm.Has("SAMLResponse") {
			param = "SAMLResponse"
		}
	}
	in, err := readMessage(w, r, param)
	if err != nil {
		p.refuseInbound(w, r, "", err)
		return
	}
	if param == "SAMLResponse" {
		p.logoutResponse(w, r, in)
		return
	}
	p.logoutRequest(w, r, in)
}

// logoutRequest: a service asks to end the session. The request must be
// signed (an unsigned one would let any page sign people out).
func (p *Provider) logoutRequest(w http.ResponseWriter, r *http.Request, in *inbound) {
	ctx := r.Context()
	id, issuer, err := p.checkHeader(in.root, "LogoutRequest", p.base+PathSLO)
	if err != nil {
		p.refuseInbound(w, r, "", err)
		return
	}
	_, el, ok := p.verifiedFrom(w, r, in, issuer, mustBeSigned)
	if !ok {
		return
	}
	nidEl, err := child(el, nsSAML, "NameID")
	if err != nil {
		p.refuseInbound(w, r, issuer, err)
		return
	}
	nameID, err := text(nidEl)
	if err != nil || nameID == "" {
		p.refuseInbound(w, r, issuer, fmt.Errorf("%w: no plain NameID", errMalformed))
		return
	}
	var indexes []string
	for _, c := range el.ChildElements() {
		if c.Tag == "SessionIndex" && c.NamespaceURI() == nsSAMLP {
			v, err := text(c)
			if err != nil {
				p.refuseInbound(w, r, issuer, err)
				return
			}
			indexes = append(indexes, v)
		}
	}
	if err := p.useID(r, "logout", issuer, id); err != nil {
		p.refuseInbound(w, r, issuer, err)
		return
	}
	chain := &logoutChain{Origin: issuer, OriginID: id, OriginRelay: in.relay, At: p.now().Unix()}
	sessionID, err := p.findLogoutSession(ctx, r, issuer, nameID, indexes)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.failInternal(w, r, err)
		return
	}
	if sessionID != "" {
		if err := p.endSession(w, r, sessionID, issuer, chain); err != nil {
			p.failInternal(w, r, err)
			return
		}
	}
	p.nextLogout(w, r, chain)
}

// findLogoutSession finds the session the request names: by SessionIndex
// (with the NameID it was given), else the session of this browser that
// the service knows by that NameID.
func (p *Provider) findLogoutSession(ctx context.Context, r *http.Request, issuer, nameID string, indexes []string) (string, error) {
	for _, ix := range indexes {
		part, err := p.cfg.Store.FindSAMLParticipant(ctx, issuer, ix)
		if err == nil && part.NameID == nameID {
			return part.SessionID, nil
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return "", err
		}
	}
	if len(indexes) > 0 {
		return "", storage.ErrNotFound
	}
	all, err := p.cfg.Sessions.Sessions(ctx, r)
	if err != nil {
		return "", err
	}
	for _, se := range all {
		parts, err := p.cfg.Store.ListSAMLParticipants(ctx, se.ID)
		if err != nil {
			return "", err
		}
		if slices.ContainsFunc(parts, func(pt storage.SAMLParticipant) bool { return pt.EntityID == issuer && pt.NameID == nameID }) {
			return se.ID, nil
		}
	}
	return "", storage.ErrNotFound
}

// endSession ends a session for Single Logout: its other services go on
// the chain; the OpenID Connect applications are told (back-channel).
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request, sessionID, except string, chain *logoutChain) error {
	ctx := r.Context()
	parts, err := p.cfg.Store.ListSAMLParticipants(ctx, sessionID)
	if err != nil {
		return err
	}
	for _, pt := range parts {
		if pt.EntityID != except {
			chain.Remaining = append(chain.Remaining, logoutEntry{SP: pt.EntityID, NameID: pt.NameID, Index: pt.SessionIndex})
		}
		if err := p.cfg.Store.DeleteSAMLParticipant(ctx, sessionID, pt.EntityID); err != nil {
			return err
		}
	}
	var accountID string
	if se, err := p.cfg.Store.GetSession(ctx, sessionID); err == nil {
		accountID = se.AccountID
	}
	// This browser's cookie goes too when the browser sent it (a
	// same-site request); a cross-site POST carries none, and the
	// session's row is what counts.
	mine, err := p.cfg.Sessions.Sessions(ctx, r)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(mine, func(s storage.Session) bool { return s.ID == sessionID }) {
		err = p.cfg.Sessions.End(ctx, w, r, sessionID)
	} else if err = p.cfg.Store.DeleteSession(ctx, sessionID); errors.Is(err, storage.ErrNotFound) {
		err = nil
	}
	if err != nil {
		return err
	}
	if p.cfg.OnSessionEnded != nil {
		p.cfg.OnSessionEnded(ctx, sessionID)
	}
	reason := "single logout"
	if except != "" {
		reason += " from service " + truncate(except, 200)
	}
	p.audit(r, storage.Event{Kind: AuditLogout, AccountID: accountID, Reason: reason})
	return nil
}

// nextLogout tells the next service of the chain, or, when none is left,
// answers the service that asked (or ends portti's own logout).
func (p *Provider) nextLogout(w http.ResponseWriter, r *http.Request, chain *logoutChain) {
	ctx := r.Context()
	for len(chain.Remaining) > 0 {
		e := chain.Remaining[0]
		chain.Remaining = chain.Remaining[1:]
		sp, err := p.lookupSP(ctx, e.SP)
		if err != nil {
			chain.Partial = true
			continue
		}
		ep, ok := sp.sloEndpoint()
		if !ok {
			chain.Partial = true // it cannot be told
			continue
		}
		req := p.logoutRequestElement(sp, ep.Location, e)
		chain.Sent = req.SelectAttrValue("ID", "")
		relay, err := p.sealState("slo", chain)
		if err != nil {
			p.failInternal(w, r, err)
			return
		}
		p.send(w, r, sp, ep, "SAMLRequest", req, relay, false)
		return
	}
	if chain.Origin == "" {
		// portti's own logout: the login form says it is done, as
		// web's logout does.
		http.Redirect(w, r, "/login?notice=logged_out", http.StatusSeeOther)
		return
	}
	sp, err := p.lookupSP(ctx, chain.Origin)
	if err != nil {
		p.refuse(w, r, http.StatusBadRequest, "saml.error.unknown_service", chain.Origin, err)
		return
	}
	ep, ok := sp.sloEndpoint()
	if !ok {
		// Nowhere to answer: the session has ended all the same.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	status := statusSuccess
	if chain.Partial {
		status = statusPartialLogout
	}
	resp := etree.NewElement("samlp:LogoutResponse")
	resp.CreateAttr("xmlns:samlp", nsSAMLP)
	resp.CreateAttr("xmlns:saml", nsSAML)
	resp.CreateAttr("ID", newID())
	resp.CreateAttr("InResponseTo", chain.OriginID)
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", samlTime(p.now()))
	dest := ep.Location
	if ep.ResponseLocation != "" {
		dest = ep.ResponseLocation
	}
	resp.CreateAttr("Destination", dest)
	resp.CreateElement("saml:Issuer").SetText(p.entity)
	sc := resp.CreateElement("samlp:Status").CreateElement("samlp:StatusCode")
	if status == statusPartialLogout {
		sc.CreateAttr("Value", statusSuccess)
		sc.CreateElement("samlp:StatusCode").CreateAttr("Value", statusPartialLogout)
	} else {
		sc.CreateAttr("Value", statusSuccess)
	}
	p.send(w, r, sp, ep, "SAMLResponse", resp, chain.OriginRelay, true)
}

// logoutRequestElement is portti's LogoutRequest to a service, naming
// the NameID and the SessionIndex it was given.
func (p *Provider) logoutRequestElement(sp *serviceProvider, dest string, e logoutEntry) *etree.Element {
	req := etree.NewElement("samlp:LogoutRequest")
	req.CreateAttr("xmlns:samlp", nsSAMLP)
	req.CreateAttr("xmlns:saml", nsSAML)
	req.CreateAttr("ID", newID())
	req.CreateAttr("Version", "2.0")
	req.CreateAttr("IssueInstant", samlTime(p.now()))
	req.CreateAttr("Destination", dest)
	req.CreateElement("saml:Issuer").SetText(p.entity)
	nid := req.CreateElement("saml:NameID")
	nid.CreateAttr("Format", nameIDPersistent)
	nid.CreateAttr("NameQualifier", p.entity)
	nid.CreateAttr("SPNameQualifier", sp.EntityID)
	nid.SetText(e.NameID)
	req.CreateElement("samlp:SessionIndex").SetText(e.Index)
	return req
}

// send delivers a logout message: over HTTP-Redirect with a signed query
// (the XML itself unsigned, as the binding says), over HTTP-POST signed
// in the XML. response: ep's ResponseLocation applies.
func (p *Provider) send(w http.ResponseWriter, r *http.Request, sp *serviceProvider, ep mdEndpoint, param string, el *etree.Element, relay string, response bool) {
	dest := ep.Location
	if response && ep.ResponseLocation != "" {
		dest = ep.ResponseLocation
	}
	if ep.Binding == bindingRedirect {
		raw, err := toBytes(el)
		if err != nil {
			p.failInternal(w, r, err)
			return
		}
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		_, _ = fw.Write(raw)
		_ = fw.Close()
		q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
		if relay != "" {
			q += "&RelayState=" + url.QueryEscape(relay)
		}
		q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
		sig, err := p.signQuery(q)
		if err != nil {
			p.failInternal(w, r, err)
			return
		}
		sep := "?"
		if strings.Contains(dest, "?") {
			sep = "&"
		}
		http.Redirect(w, r, dest+sep+q+"&Signature="+url.QueryEscape(sig), http.StatusFound)
		return
	}
	signed, err := p.sign(el)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	raw, err := toBytes(signed)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	p.postForm(w, r, sp, dest, param, raw, relay)
}

// logoutResponse: a service confirms (or not) the logout portti asked
// of it; the chain goes on.
func (p *Provider) logoutResponse(w http.ResponseWriter, r *http.Request, in *inbound) {
	var chain logoutChain
	if err := p.openState("slo", in.relay, &chain); err != nil {
		p.refuse(w, r, http.StatusBadRequest, "saml.error.expired", "", err)
		return
	}
	root := in.root
	if root.Tag != "LogoutResponse" || root.NamespaceURI() != nsSAMLP || root.SelectAttrValue("InResponseTo", "") != chain.Sent || chain.Sent == "" {
		p.refuseInbound(w, r, "", fmt.Errorf("%w: not the response to portti's LogoutRequest", errMalformed))
		return
	}
	iss, err := child(root, nsSAML, "Issuer")
	if err != nil {
		p.refuseInbound(w, r, "", err)
		return
	}
	issuer, err := text(iss)
	if err != nil {
		p.refuseInbound(w, r, "", err)
		return
	}
	_, el, ok := p.verifiedFrom(w, r, in, issuer, signedIfPresent)
	if !ok {
		return
	}
	if sc := el.FindElement("./Status/StatusCode"); sc == nil || sc.SelectAttrValue("Value", "") != statusSuccess {
		chain.Partial = true
	}
	p.nextLogout(w, r, &chain)
}

// serveLogout is portti's own Single Logout (IdP-initiated): the
// browser's current session ends and each service it signed in to over
// SAML is told in turn, then the browser lands on portti's front page.
func (p *Provider) serveLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	se, err := p.cfg.Sessions.Current(ctx, r, "")
	if errors.Is(err, storage.ErrNotFound) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	chain := &logoutChain{At: p.now().Unix()}
	if err := p.endSession(w, r, se.ID, "", chain); err != nil {
		p.failInternal(w, r, err)
		return
	}
	p.nextLogout(w, r, chain)
}

// Participants are the SAML services a session signed in to (for
// portti's own logout, which must read them before the session ends).
func (p *Provider) Participants(ctx context.Context, sessionID string) ([]storage.SAMLParticipant, error) {
	return p.cfg.Store.ListSAMLParticipants(ctx, sessionID)
}

// TellServices goes on from a logout portti's pages made: the session has
// ended; each service in parts is told in turn (front channel), and the
// browser ends on the login form's "signed out".
func (p *Provider) TellServices(w http.ResponseWriter, r *http.Request, parts []storage.SAMLParticipant) {
	if err := p.ensureKeys(r.Context()); err != nil {
		p.failInternal(w, r, err)
		return
	}
	chain := &logoutChain{At: p.now().Unix()}
	for _, pt := range parts {
		chain.Remaining = append(chain.Remaining, logoutEntry{SP: pt.EntityID, NameID: pt.NameID, Index: pt.SessionIndex})
		if err := p.cfg.Store.DeleteSAMLParticipant(r.Context(), pt.SessionID, pt.EntityID); err != nil {
			p.failInternal(w, r, err)
			return
		}
	}
	p.nextLogout(w, r, chain)
}
