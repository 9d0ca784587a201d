package saml

import (
	"context"
	"encoding/base64"
	"net/http"
	"sort"
	"time"

	"github.com/beevik/etree"
)

// Metadata lifetime: validUntil a week ahead (federations refresh daily),
// re-signed hourly.
const (
	metadataValidity = 7 * 24 * time.Hour
	metadataResign   = time.Hour
)

// Metadata is the identity provider's signed metadata.
func (p *Provider) Metadata(ctx context.Context) ([]byte, error) {
	if err := p.ensureKeys(ctx); err != nil {
		return nil, err
	}
	p.mdMu.Lock()
	defer p.mdMu.Unlock()
	now := p.now()
	if p.mdSigned != nil && now.Sub(p.mdAt) < metadataResign {
		return p.mdSigned, nil
	}
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMD)
	ed.CreateAttr("xmlns:ds", nsDS)
	ed.CreateAttr("xmlns:mdui", nsMDUI)
	ed.CreateAttr("xmlns:shibmd", "urn:mace:shibboleth:metadata:1.0")
	ed.CreateAttr("ID", newID())
	ed.CreateAttr("entityID", p.entity)
	ed.CreateAttr("validUntil", samlTime(now.Add(metadataValidity)))
	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("protocolSupportEnumeration", nsSAMLP)
	ext := idp.CreateElement("md:Extensions")
	scope := ext.CreateElement("shibmd:Scope")
	scope.CreateAttr("regexp", "false")
	scope.SetText(p.cfg.Scope)
	if len(p.cfg.OrganizationName) > 0 {
		ui := ext.CreateElement("mdui:UIInfo")
		langs := make([]string, 0, len(p.cfg.OrganizationName))
		for l := range p.cfg.OrganizationName {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			dn := ui.CreateElement("mdui:DisplayName")
			dn.CreateAttr("xml:lang", l)
			dn.SetText(p.cfg.OrganizationName[l])
		}
	}
	for _, k := range []struct {
		use  string
		cert []byte
	}{{"signing", p.keys.signCert}, {"encryption", p.keys.encCert}} {
		kd := idp.CreateElement("md:KeyDescriptor")
		kd.CreateAttr("use", k.use)
		kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
			SetText(base64.StdEncoding.EncodeToString(k.cert))
		if k.use == "encryption" {
			for _, alg := range []string{encAES256GCM, keyRSAOAEP} {
				idp.ChildElements()[len(idp.ChildElements())-1].CreateElement("md:EncryptionMethod").CreateAttr("Algorithm", alg)
			}
		}
	}
	for _, b := range []string{bindingRedirect, bindingPOST} {
		s := idp.CreateElement("md:SingleLogoutService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", p.base+PathSLO)
	}
	for _, f := range []string{nameIDPersistent, nameIDTransient} {
		idp.CreateElement("md:NameIDFormat").SetText(f)
	}
	for _, b := range []string{bindingRedirect, bindingPOST} {
		s := idp.CreateElement("md:SingleSignOnService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", p.base+PathSSO)
	}
	signed, err := p.sign(ed)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.SetRoot(signed)
	out, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	p.mdSigned, p.mdAt = out, now
	return out, nil
}

func (p *Provider) serveMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := p.Metadata(r.Context())
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(md)
}
