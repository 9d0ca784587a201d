package saml

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"github.com/portti/portti/internal/storage"
)

// ServiceInfo is a registered service as listed by `portti saml sp list`.
type ServiceInfo struct {
	EntityID   string
	Name       string
	Source     string
	Release    []string
	ACS        []string
	ValidUntil time.Time
	Encrypted  bool
	Error      string // the stored metadata no longer reads (or expired)
}

// ReadMetadata reads metadata from a file or an https URL (http only
// for localhost, for tests and a service on the same machine).
func (p *Provider) ReadMetadata(ctx context.Context, src string, limit int64) ([]byte, error) {
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		if strings.HasPrefix(src, "http://") {
			u, err := url.Parse(src)
			if err != nil || (u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1" && u.Hostname() != "::1") {
				return nil, fmt.Errorf("metadata URL %s: only https (http only for localhost)", src)
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := p.cfg.HTTPClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("metadata %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("metadata %s: HTTP %d", src, resp.StatusCode)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return nil, fmt.Errorf("metadata %s: %w", src, err)
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("metadata %s is larger than %d bytes", src, limit)
		}
		return b, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("metadata %s is larger than %d bytes", src, limit)
	}
	return b, nil
}

// AddService registers (or replaces) a service from its metadata.
// release names the attributes released to it (nil: the default
// release, saml.default_release).
func (p *Provider) AddService(ctx context.Context, metadata []byte, release []string, source string) (string, error) {
	sp, err := parseSPMetadata(metadata)
	if err != nil {
		return "", err
	}
	if !sp.ValidUntil.IsZero() && sp.ValidUntil.Before(p.now()) {
		return "", fmt.Errorf("metadata of %s expired at %s", sp.EntityID, samlTime(sp.ValidUntil))
	}
	if release == nil {
		release = p.cfg.DefaultRelease
	}
	if release, err = CheckRelease(release); err != nil {
		return "", err
	}
	now := p.now()
	old, err := p.cfg.Store.GetSAMLServiceProvider(ctx, sp.EntityID)
	switch {
	case err == nil:
		if old.Source != source {
			return "", fmt.Errorf("%s is already registered (from %s); remove it first", sp.EntityID, old.Source)
		}
	case !errors.Is(err, storage.ErrNotFound):
		return "", err
	}
	rec := storage.SAMLServiceProvider{EntityID: sp.EntityID, Metadata: metadata, Release: release,
		Source: source, ValidUntil: sp.ValidUntil, CreatedAt: now, UpdatedAt: now}
	if err := p.cfg.Store.PutSAMLServiceProvider(ctx, rec); err != nil {
		return "", err
	}
	p.forgetSP(sp.EntityID)
	return sp.EntityID, p.cfg.Store.AppendEvent(ctx, storage.Event{Time: now, Kind: AuditSP, Reason: "added " + truncate(sp.EntityID, 200) + " from " + source})
}

// RemoveService unregisters a service.
func (p *Provider) RemoveService(ctx context.Context, entityID string) error {
	if err := p.cfg.Store.DeleteSAMLServiceProvider(ctx, entityID); err != nil {
		return err
	}
	p.forgetSP(entityID)
	return p.cfg.Store.AppendEvent(ctx, storage.Event{Time: p.now(), Kind: AuditSP, Reason: "removed " + truncate(entityID, 200)})
}

// Services lists the registered services.
func (p *Provider) Services(ctx context.Context) ([]ServiceInfo, error) {
	recs, err := p.cfg.Store.ListSAMLServiceProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ServiceInfo, 0, len(recs))
	for _, rec := range recs {
		info := ServiceInfo{EntityID: rec.EntityID, Source: rec.Source, Release: rec.Release, ValidUntil: rec.ValidUntil}
		sp, err := parseSPMetadata(rec.Metadata)
		if err != nil {
			info.Error = err.Error()
		} else {
			info.Name = sp.name("en")
			info.Encrypted = sp.EncryptionCert != nil
			for _, a := range sp.ACS {
				info.ACS = append(info.ACS, a.Location)
			}
		}
		if !rec.ValidUntil.IsZero() && rec.ValidUntil.Before(p.now()) {
			info.Error = "metadata expired"
		}
		out = append(out, info)
	}
	return out, nil
}

// ConfiguredService is one of saml.service_providers.
type ConfiguredService struct {
	Metadata string   // a file or URL
	Release  []string // nil: the default release
}

// SyncServices makes the configuration file's services match list:
// added or updated, and those the file no longer lists removed. Services
// added with the CLI or from an aggregate are left alone.
func (p *Provider) SyncServices(ctx context.Context, list []ConfiguredService) error {
	var keep []string
	var errs []error
	for _, c := range list {
		md, err := p.ReadMetadata(ctx, c.Metadata, maxSPMetadata)
		if err == nil {
			var id string
			id, err = p.AddService(ctx, md, c.Release, storage.SAMLSourceConfig)
			keep = append(keep, id)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("saml.service_providers %s: %w", c.Metadata, err))
		}
	}
	recs, err := p.cfg.Store.ListSAMLServiceProviders(ctx)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		// Remove nothing when a listed service could not be read: its
		// old registration is better than none.
		return errors.Join(errs...)
	}
	for _, rec := range recs {
		if rec.Source == storage.SAMLSourceConfig && !slices.Contains(keep, rec.EntityID) {
			if err := p.RemoveService(ctx, rec.EntityID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Aggregate is a federation's metadata aggregate: its URL and the
// certificate (PEM file) its signature must verify with.
type Aggregate struct {
	URL         string
	Certificate string // PEM file
	Release     []string
}

// RefreshAggregate fetches an aggregate, verifies its signature, refuses
// it when expired, and makes its services the registered ones from that
// source (added, updated, removed).
func (p *Provider) RefreshAggregate(ctx context.Context, ag Aggregate) (int, error) {
	pemBytes, err := os.ReadFile(ag.Certificate)
	if err != nil {
		return 0, fmt.Errorf("aggregate %s: certificate: %w", ag.URL, err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return 0, fmt.Errorf("aggregate %s: certificate %s is not PEM", ag.URL, ag.Certificate)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return 0, fmt.Errorf("aggregate %s: certificate: %w", ag.URL, err)
	}
	raw, err := p.ReadMetadata(ctx, ag.URL, maxAggregateMetadata)
	if err != nil {
		return 0, err
	}
	entities, err := p.verifyAggregate(raw, cert)
	if err != nil {
		return 0, fmt.Errorf("aggregate %s: %w", ag.URL, err)
	}
	source := "aggregate:" + ag.URL
	release := ag.Release
	if release == nil {
		release = p.cfg.DefaultRelease
	}
	now := p.now()
	seen := map[string]bool{}
	for _, e := range entities {
		sp, err := spFromEntity(e)
		if err != nil || sp == nil {
			continue // an IdP, or a service whose entry does not read
		}
		old, err := p.cfg.Store.GetSAMLServiceProvider(ctx, sp.EntityID)
		found := err == nil
		if found && old.Source != source {
			continue // registered otherwise: the operator's choice wins
		}
		md, err := toBytes(e)
		if err != nil {
			return 0, err
		}
		created := now
		if found {
			created = old.CreatedAt
		}
		if err := p.cfg.Store.PutSAMLServiceProvider(ctx, storage.SAMLServiceProvider{EntityID: sp.EntityID, Metadata: md,
			Release: release, Source: source, ValidUntil: sp.ValidUntil, CreatedAt: created, UpdatedAt: now}); err != nil {
			return 0, err
		}
		seen[sp.EntityID] = true
		p.forgetSP(sp.EntityID)
	}
	recs, err := p.cfg.Store.ListSAMLServiceProviders(ctx)
	if err != nil {
		return 0, err
	}
	for _, rec := range recs {
		if rec.Source == source && !seen[rec.EntityID] {
			if err := p.cfg.Store.DeleteSAMLServiceProvider(ctx, rec.EntityID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return 0, err
			}
			p.forgetSP(rec.EntityID)
		}
	}
	return len(seen), nil
}

// verifyAggregate checks an EntitiesDescriptor's signature with cert and
// its validUntil, and returns its EntityDescriptors — read from the
// verified element only. Each keeps validUntil of the aggregate when it
// has none of its own.
func (p *Provider) verifyAggregate(raw []byte, cert *x509.Certificate) ([]*etree.Element, error) {
	if err := refuseDTD(raw); err != nil {
		return nil, err
	}
	// The same round-trip check as for messages: the signature is
	// checked on the tree etree reads, the services on what it holds.
	if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("not well-formed: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("not XML: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "EntitiesDescriptor" || root.NamespaceURI() != nsMD {
		return nil, errors.New("not an EntitiesDescriptor")
	}
	if signatureChild(root) == nil {
		return nil, errors.New("the aggregate is not signed")
	}
	el, err := verifyElement(root, []*x509.Certificate{cert})
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	vu := el.SelectAttrValue("validUntil", "")
	if vu == "" {
		return nil, errors.New("the aggregate has no validUntil (refused: it could be replayed forever)")
	}
	until, err := time.Parse(time.RFC3339, vu)
	if err != nil {
		return nil, fmt.Errorf("validUntil %q is not a time", vu)
	}
	if until.Before(p.now()) {
		return nil, fmt.Errorf("the aggregate expired at %s", samlTime(until))
	}
	var out []*etree.Element
	for _, e := range el.FindElements(".//EntityDescriptor") {
		if e.NamespaceURI() != nsMD {
			continue
		}
		c := e.Copy()
		// Declare the namespaces the entry uses so it reads on its own.
		for _, a := range el.Attr {
			if a.Space == "xmlns" || a.Key == "xmlns" {
				if c.SelectAttr(a.FullKey()) == nil {
					c.CreateAttr(a.FullKey(), a.Value)
				}
			}
		}
		if c.SelectAttr("validUntil") == nil {
			c.CreateAttr("validUntil", vu)
		}
		out = append(out, c)
	}
	return out, nil
}

// spFromEntity reads a service from an aggregate's entry; nil when the
// entry is not a SAML 2.0 service.
func spFromEntity(e *etree.Element) (*serviceProvider, error) {
	raw, err := toBytes(e)
	if err != nil {
		return nil, err
	}
	sp, err := parseSPMetadata(raw)
	if err != nil {
		return nil, err
	}
	return sp, nil
}

// RunAggregates refreshes every aggregate now and then every interval
// until ctx ends, without a restart; a refresh that fails keeps the
// services of the last good one (until their metadata expires).
func (p *Provider) RunAggregates(ctx context.Context, aggs []Aggregate, interval time.Duration) {
	if len(aggs) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, ag := range aggs {
			n, err := p.RefreshAggregate(ctx, ag)
			if err != nil {
				// A bad signature, an expired or unreadable aggregate:
				// refused, logged and audited; the last good one's
				// services stay until their validUntil.
				p.log.WarnContext(ctx, "saml: aggregate not refreshed", "url", ag.URL, "error", err)
				if aerr := p.cfg.Store.AppendEvent(ctx, storage.Event{Time: p.now(), Kind: AuditRefused,
					Reason: truncate("aggregate "+ag.URL+": "+err.Error(), 500)}); aerr != nil && ctx.Err() == nil {
					p.log.WarnContext(ctx, "saml: audit event not stored", "error", aerr)
				}
			} else {
				p.log.InfoContext(ctx, "saml: aggregate refreshed", "url", ag.URL, "services", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
