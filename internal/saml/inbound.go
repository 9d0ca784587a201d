package saml

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"github.com/portti/portti/internal/storage"
)

// Inbound limits. A SAML request is a few kilobytes; a logout message
// less. The inflated size is capped too (a deflate bomb stops there).
const (
	maxMessage    = 64 << 10  // decoded XML
	maxQuery      = 96 << 10  // an HTTP-Redirect URL's query
	maxPostBody   = 256 << 10 // an HTTP-POST binding form
	maxRelayState = 1024      // SAML says 80; some services send longer
	// clockSkew is how far a message's IssueInstant may be from now;
	// maxAge how old it may be.
	clockSkew = 3 * time.Minute
	maxAge    = 5 * time.Minute
	// replayWindow is how long a message ID is remembered: longer than
	// any message is accepted for.
	replayWindow = maxAge + 2*clockSkew
)

// Inbound problems; each maps to an error page (saml.error.*).
var (
	errTooLarge  = errors.New("the message is too large (or inflates too far)")
	errMalformed = errors.New("the message is not well-formed SAML")
)

// inbound is a received message as the binding delivered it.
type inbound struct {
	binding string
	root    *etree.Element
	relay   string
	// HTTP-Redirect signature parts: the signed string and the signature.
	signed, sigAlg, sig string
}

// readMessage reads param (SAMLRequest or SAMLResponse) from r in either
// binding.
func readMessage(w http.ResponseWriter, r *http.Request, param string) (*inbound, error) {
	in := &inbound{}
	var raw []byte
	if r.Method == http.MethodGet {
		in.binding = bindingRedirect
		if len(r.URL.RawQuery) > maxQuery {
			return nil, errTooLarge
		}
		vals, signed, err := rawQuery(r.URL.RawQuery, param)
		if err != nil {
			return nil, err
		}
		in.signed, in.sigAlg, in.sig, in.relay = signed, vals["SigAlg"], vals["Signature"], vals["RelayState"]
		b, err := base64.StdEncoding.DecodeString(vals[param])
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%w: %s is not base64", errMalformed, param)
		}
		fr := flate.NewReader(bytes.NewReader(b))
		raw, err = io.ReadAll(io.LimitReader(fr, maxMessage+1))
		if err != nil {
			return nil, fmt.Errorf("%w: %s does not inflate", errMalformed, param)
		}
		if len(raw) > maxMessage {
			return nil, errTooLarge
		}
	} else {
		in.binding = bindingPOST
		r.Body = http.MaxBytesReader(w, r.Body, maxPostBody)
		if err := r.ParseForm(); err != nil {
			return nil, errTooLarge
		}
		in.relay = r.PostForm.Get("RelayState")
		v := r.PostForm.Get(param)
		if len(v) > maxMessage*4/3+8 {
			return nil, errTooLarge
		}
		var err error
		if raw, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), "")); err != nil || len(raw) == 0 {
			return nil, fmt.Errorf("%w: %s is not base64", errMalformed, param)
		}
	}
	if len(in.relay) > maxRelayState {
		return nil, errTooLarge
	}
	root, err := parseXML(raw)
	if err != nil {
		return nil, err
	}
	in.root = root
	return in, nil
}

// rawQuery splits a query keeping the values as sent, which is what an
// HTTP-Redirect signature covers (SAML bindings 3.4.4.1), and returns the
// decoded values and the signed string.
func rawQuery(q, param string) (map[string]string, string, error) {
	rawVals := map[string]string{}
	vals := map[string]string{}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case param, "RelayState", "SigAlg", "Signature":
		default:
			continue
		}
		if _, dup := rawVals[k]; dup {
			return nil, "", fmt.Errorf("%w: %s appears twice", errMalformed, k)
		}
		dec, err := url.QueryUnescape(v)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %s is not URL-encoded", errMalformed, k)
		}
		rawVals[k], vals[k] = v, dec
	}
	if vals[param] == "" {
		return nil, "", fmt.Errorf("%w: no %s", errMalformed, param)
	}
	signed := param + "=" + rawVals[param]
	if v, ok := rawVals["RelayState"]; ok {
		signed += "&RelayState=" + v
	}
	signed += "&SigAlg=" + rawVals["SigAlg"]
	return vals, signed, nil
}

// parseXML parses one message: no document type declaration, nothing
// that would read differently after a round trip through encoding/xml
// (the namespace tricks behind several signature bypasses), one root.
func parseXML(raw []byte) (*etree.Element, error) {
	if len(raw) > maxMessage {
		return nil, errTooLarge
	}
	if err := refuseDTD(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	root := doc.Root()
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", errMalformed)
	}
	for _, t := range doc.Child {
		if _, ok := t.(*etree.Directive); ok {
			return nil, fmt.Errorf("%w: a document type declaration", errMalformed)
		}
	}
	if el := commentInText(root); el != nil {
		return nil, fmt.Errorf("%w: a comment inside <%s>", errMalformed, el.Tag)
	}
	return root, nil
}

// commentInText finds an element whose text holds a comment. The
// signature check works on the canonical form, which drops comments, so
// "victim<!---->@evil" would verify as what was signed while a reader
// that stops at the comment sees another name (the 2018 SAML comment
// bugs): such a message is refused before anything reads it.
func commentInText(el *etree.Element) *etree.Element {
	hasText, hasComment := false, false
	for _, t := range el.Child {
		switch c := t.(type) {
		case *etree.CharData:
			if strings.TrimSpace(c.Data) != "" {
				hasText = true
			}
		case *etree.Comment:
			hasComment = true
		case *etree.Element:
			if found := commentInText(c); found != nil {
				return found
			}
		}
	}
	if hasText && hasComment {
		return el
	}
	return nil
}

// signature is root's own enveloped signature, if any: only a Signature
// that is a direct child counts (one deeper is someone else's).
func signatureChild(root *etree.Element) *etree.Element {
	for _, c := range root.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == nsDS {
			return c
		}
	}
	return nil
}

// refusesSHA1 reports a signature made with SHA-1 (refused).
func refusesSHA1(sig *etree.Element) bool {
	for _, el := range sig.FindElements(".//SignatureMethod") {
		if strings.HasSuffix(el.SelectAttrValue("Algorithm", ""), "sha1") {
			return true
		}
	}
	for _, el := range sig.FindElements(".//DigestMethod") {
		if strings.HasSuffix(el.SelectAttrValue("Algorithm", ""), "sha1") {
			return true
		}
	}
	return false
}

// text is an element's text, refused when the element holds anything
// but text: a comment or an element inside a NameID is how one identity
// is smuggled in as another (the 2018 comment truncation bugs).
func text(el *etree.Element) (string, error) {
	if el == nil {
		return "", nil
	}
	var b strings.Builder
	for _, t := range el.Child {
		switch c := t.(type) {
		case *etree.CharData:
			b.WriteString(c.Data)
		default:
			return "", fmt.Errorf("%w: <%s> holds more than text", errMalformed, el.Tag)
		}
	}
	return strings.TrimSpace(b.String()), nil
}

// child is root's one child element space:tag; an error when it repeats.
func child(root *etree.Element, ns, tag string) (*etree.Element, error) {
	var found *etree.Element
	for _, c := range root.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			if found != nil {
				return nil, fmt.Errorf("%w: <%s> twice", errMalformed, tag)
			}
			found = c
		}
	}
	return found, nil
}

// checkHeader checks what every request carries: the element, version,
// an ID, an IssueInstant near now, the Destination when present, and the
// Issuer. It returns the ID and the issuer.
func (p *Provider) checkHeader(root *etree.Element, tag, destination string) (id, issuer string, err error) {
	if root.Tag != tag || root.NamespaceURI() != nsSAMLP {
		return "", "", fmt.Errorf("%w: not a %s", errMalformed, tag)
	}
	if root.SelectAttrValue("Version", "") != "2.0" {
		return "", "", fmt.Errorf("%w: not SAML 2.0", errMalformed)
	}
	id = root.SelectAttrValue("ID", "")
	if id == "" || len(id) > 256 {
		return "", "", fmt.Errorf("%w: no usable ID", errMalformed)
	}
	at, err := time.Parse(time.RFC3339, root.SelectAttrValue("IssueInstant", ""))
	if err != nil {
		return "", "", fmt.Errorf("%w: no IssueInstant", errMalformed)
	}
	now := p.now()
	if at.After(now.Add(clockSkew)) || at.Before(now.Add(-maxAge-clockSkew)) {
		return "", "", fmt.Errorf("%w: IssueInstant %s is not recent", errStale, samlTime(at))
	}
	if d := root.SelectAttrValue("Destination", ""); d != "" && d != destination {
		return "", "", fmt.Errorf("%w: Destination %q is not %s", errMalformed, truncate(d, 200), destination)
	}
	iss, err := child(root, nsSAML, "Issuer")
	if err != nil {
		return "", "", err
	}
	if issuer, err = text(iss); err != nil {
		return "", "", err
	}
	if issuer == "" {
		return "", "", fmt.Errorf("%w: no Issuer", errMalformed)
	}
	return id, issuer, nil
}

var errStale = errors.New("the message is too old or from the future")

// errReplay: a message ID seen before.
var errReplay = errors.New("the message was received before (a replay)")

// useID records a message ID in the replay cache.
func (p *Provider) useID(r *http.Request, kind, issuer, id string) error {
	sum := sha256.Sum256([]byte(kind + "\x00" + issuer + "\x00" + id))
	now := p.now()
	err := p.cfg.Store.UseSAMLMessageID(r.Context(), hex.EncodeToString(sum[:]), now, now.Add(replayWindow))
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return errReplay
		}
		return err
	}
	return nil
}

// verify checks in's signature against sp's signing certificates: the
// query signature of the Redirect binding, or the enveloped signature of
// the POST binding. required: the message must be signed. It returns the
// element to read from.
func (in *inbound) verify(sp *serviceProvider, required bool) (*etree.Element, bool, error) {
	if in.binding == bindingRedirect && (in.sig != "" || signatureChild(in.root) == nil) {
		// The binding's own signature is over the query. (A service
		// that signs the XML instead, against the binding's rule, is
		// checked below as in the POST binding.)
		if in.sig == "" {
			if required {
				return nil, false, errors.New("the message is not signed")
			}
			return in.root, false, nil
		}
		if err := verifyQuery(in.signed, in.sigAlg, in.sig, sp.SigningCerts); err != nil {
			return nil, false, err
		}
		return in.root, true, nil
	}
	sig := signatureChild(in.root)
	if sig == nil {
		if required {
			return nil, false, errors.New("the message is not signed")
		}
		return in.root, false, nil
	}
	if refusesSHA1(sig) {
		return nil, false, errors.New("the message is signed with SHA-1, which is not accepted")
	}
	el, err := verifyElement(in.root, sp.SigningCerts)
	if err != nil {
		return nil, false, err
	}
	return el, true, nil
}
