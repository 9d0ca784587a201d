package saml

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"time"

	"github.com/beevik/etree"

	"github.com/portti/portti/internal/storage"
)

// respond sends the service a signed Response with the assertion for
// the session's account, through the browser (HTTP-POST binding), and
// records the service in the session for Single Logout.
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, sp *serviceProvider, req *pending, se storage.Session, acct storage.Account) {
	nameID := p.pairwise(acct.ID, sp.EntityID)
	format := nameIDPersistent
	if req.Transient {
		nameID, format = newID(), nameIDTransient
	}
	index := p.sessionIndex(se.ID, sp.EntityID)
	resp, err := p.buildResponse(sp, req, se, acct, nameID, format, index)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	ctx := r.Context()
	// The session's record of the service, for Single Logout: written
	// when new or changed only (a signed-in browser visits a service
	// many times; a read costs far less than a write).
	parts, err := p.cfg.Store.ListSAMLParticipants(ctx, se.ID)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	if !slices.ContainsFunc(parts, func(pt storage.SAMLParticipant) bool {
		return pt.EntityID == sp.EntityID && pt.NameID == nameID && pt.SessionIndex == index
	}) {
		if err := p.cfg.Store.PutSAMLParticipant(ctx, storage.SAMLParticipant{
			SessionID: se.ID, EntityID: sp.EntityID, NameID: nameID, SessionIndex: index, CreatedAt: p.now(),
		}); err != nil {
			p.failInternal(w, r, err)
			return
		}
		// The first sign-in of the session to the service is audited;
		// repeats within the session are not (they add nothing an
		// investigation needs).
		p.audit(r, storage.Event{Kind: AuditSSO, AccountID: acct.ID, Reason: "service " + truncate(sp.EntityID, 200)})
	}
	p.postForm(w, r, sp, req.ACS, "SAMLResponse", resp, req.Relay)
}

// respondError tells the service its request failed (a status other than
// Success), to its checked ACS.
func (p *Provider) respondError(w http.ResponseWriter, r *http.Request, sp *serviceProvider, req *pending, status string) {
	now := p.now()
	resp := p.responseElement(req, now)
	st := resp.CreateElement("samlp:Status")
	top := statusResponder
	if status == statusInvalidNameID {
		top = statusRequester
	}
	sc := st.CreateElement("samlp:StatusCode")
	sc.CreateAttr("Value", top)
	sc.CreateElement("samlp:StatusCode").CreateAttr("Value", status)
	signed, err := p.sign(resp)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	out, err := toBytes(signed)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	p.audit(r, storage.Event{Kind: AuditRefused, Reason: "service " + truncate(sp.EntityID, 200) + ": answered " + status})
	p.postForm(w, r, sp, req.ACS, "SAMLResponse", out, req.Relay)
}

// sessionIndex names a session to one service without revealing the
// session's ID (the same for every sign-in of the session to it).
func (p *Provider) sessionIndex(sessionID, entityID string) string {
	m := hmac.New(sha256.New, p.keys.pairwise)
	m.Write([]byte("session index\x00" + sessionID + "\x00" + entityID))
	return "_" + hex.EncodeToString(m.Sum(nil)[:16])
}

func (p *Provider) responseElement(req *pending, now time.Time) *etree.Element {
	resp := etree.NewElement("samlp:Response")
	resp.CreateAttr("xmlns:samlp", nsSAMLP)
	resp.CreateAttr("xmlns:saml", nsSAML)
	resp.CreateAttr("ID", newID())
	if req.ID != "" {
		resp.CreateAttr("InResponseTo", req.ID)
	}
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", samlTime(now))
	resp.CreateAttr("Destination", req.ACS)
	iss := resp.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
	iss.SetText(p.entity)
	return resp
}

// buildResponse builds, signs and (when the service has an encryption
// key) encrypts. The response is always signed; the assertion too when
// the service's metadata asks (WantAssertionsSigned), so both at once
// works.
func (p *Provider) buildResponse(sp *serviceProvider, req *pending, se storage.Session, acct storage.Account, nameID, format, index string) ([]byte, error) {
	now := p.now()
	resp := p.responseElement(req, now)
	sc := resp.CreateElement("samlp:Status").CreateElement("samlp:StatusCode")
	sc.CreateAttr("Value", statusSuccess)

	as := etree.NewElement("saml:Assertion")
	as.CreateAttr("xmlns:saml", nsSAML)
	as.CreateAttr("ID", newID())
	as.CreateAttr("Version", "2.0")
	as.CreateAttr("IssueInstant", samlTime(now))
	as.CreateElement("saml:Issuer").SetText(p.entity)
	subj := as.CreateElement("saml:Subject")
	nid := subj.CreateElement("saml:NameID")
	nid.CreateAttr("Format", format)
	nid.CreateAttr("NameQualifier", p.entity)
	nid.CreateAttr("SPNameQualifier", sp.EntityID)
	nid.SetText(nameID)
	conf := subj.CreateElement("saml:SubjectConfirmation")
	conf.CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
	cd := conf.CreateElement("saml:SubjectConfirmationData")
	if req.ID != "" {
		cd.CreateAttr("InResponseTo", req.ID)
	}
	cd.CreateAttr("NotOnOrAfter", samlTime(now.Add(assertionLifetime)))
	cd.CreateAttr("Recipient", req.ACS)
	cond := as.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", samlTime(now.Add(-time.Minute)))
	cond.CreateAttr("NotOnOrAfter", samlTime(now.Add(assertionLifetime)))
	cond.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(sp.EntityID)
	st := as.CreateElement("saml:AuthnStatement")
	authnAt := se.CreatedAt
	if n := len(se.Factors); n > 0 {
		authnAt = se.Factors[n-1].At
	}
	st.CreateAttr("AuthnInstant", samlTime(authnAt))
	st.CreateAttr("SessionIndex", index)
	st.CreateAttr("SessionNotOnOrAfter", samlTime(se.ExpiresAt))
	st.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(p.classOf(se, req))
	if attrs := released(sp); len(attrs) > 0 {
		stmt := as.CreateElement("saml:AttributeStatement")
		for _, a := range attrs {
			vals := p.values(a, acct, sp)
			if len(vals) == 0 {
				continue
			}
			at := stmt.CreateElement("saml:Attribute")
			at.CreateAttr("Name", a.Name)
			at.CreateAttr("NameFormat", attrNameFormatURI)
			at.CreateAttr("FriendlyName", a.Friendly)
			for _, v := range vals {
				av := at.CreateElement("saml:AttributeValue")
				av.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
				av.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
				av.CreateAttr("xsi:type", "xs:string")
				av.SetText(v)
			}
		}
		if len(stmt.ChildElements()) == 0 {
			as.RemoveChild(stmt)
		}
	}
	var err error
	if sp.WantAssertionsSigned {
		if as, err = p.sign(as); err != nil {
			return nil, err
		}
	}
	if sp.EncryptionCert != nil {
		ed, err := encrypt(as, sp.EncryptionCert, sp.EncryptionAlg)
		if err != nil {
			return nil, err
		}
		resp.CreateElement("saml:EncryptedAssertion").AddChild(ed)
	} else {
		resp.AddChild(as)
	}
	signed, err := p.sign(resp)
	if err != nil {
		return nil, err
	}
	return toBytes(signed)
}

// classOf is the authentication context class to state: the MFA class
// for a sign-in with a second factor, else the password class the
// service asked for, else portti's own.
func (p *Provider) classOf(se storage.Session, req *pending) string {
	if p.cfg.MFA != nil {
		if p.cfg.MFA.Registry().MultiFactor(se.Factors) {
			return p.cfg.MFA.ACRNames().MFA
		}
		if req.Class != "" {
			return req.Class
		}
		return p.cfg.MFA.ACRNames().Password
	}
	if req.Class != "" {
		return req.Class
	}
	return passwordClasses[0]
}

func toBytes(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	return doc.WriteToBytes()
}

// postForm renders the HTTP-POST binding's page: a form to the service
// that a script file submits (the page works without it: a button).
func (p *Provider) postForm(w http.ResponseWriter, r *http.Request, sp *serviceProvider, action, param string, msg []byte, relay string) {
	lang := ""
	p.cfg.Pages.RenderPage(w, r, http.StatusOK, "saml_post", "saml.post.title", map[string]any{
		"Action":  action,
		"Param":   param,
		"Message": base64.StdEncoding.EncodeToString(msg),
		"Relay":   relay,
		"Service": sp.name(lang),
		"Path":    "/",
	})
}
