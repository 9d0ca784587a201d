package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// ClientSpec is what an operator says about a client, with `portti client
// add` or in the configuration file's clients: list. Both are checked by
// the same Validate.
type ClientSpec struct {
	ID   string
	Name string
	// Public clients (native and browser apps) hold no secret and must use
	// PKCE with S256.
	Public bool
	// Secret is the confidential client's secret when the operator brings
	// one. With Secret and SecretHash both empty, portti generates a
	// 256-bit one.
	Secret string
	// SecretHash is the hex SHA-256 of a secret the operator keeps
	// elsewhere: the configuration file's secret_sha256, or the value of
	// its secret_env hashed when the file is read. The file never holds a
	// secret. At most one of Secret and SecretHash.
	SecretHash             string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// GrantTypes defaults to authorization_code and refresh_token.
	GrantTypes           []string
	BackchannelLogoutURI string
	AllowedNetworks      []string // CIDRs
	ThirdParty           bool
	IDTokenAlg           string // RS256 (default) or ES256
	// Scopes are what client_credentials may grant the client (its API
	// permissions); a token asks for some or, asking none, gets them all.
	// A first-party client with the authorization_code grant may also ask
	// for them on a person's behalf.
	Scopes []string
	// ResourceServer makes the client an API with this identifier (RFC
	// 8707; an absolute URI without fragment, unique among clients): other
	// clients ask for tokens for it with the resource parameter, and it
	// introspects them. Without GrantTypes such a client gets no grant:
	// an API only introspects.
	ResourceServer string
	// ResourceScopes are the scopes the API accepts: tokens for it carry
	// only these. Empty: any.
	ResourceScopes []string
	// RequireMFA: every sign-in to the client needs a second factor.
	RequireMFA bool
	// AllowedGroups limits sign-in to the members of these groups (their
	// display names, as a registry sends them; package provision).
	// Empty: anyone.
	AllowedGroups []string
}

// SpecProblem is one thing wrong with a ClientSpec.
type SpecProblem struct {
	// Field names the offending value as the configuration file's clients
	// entries do, with its position in a list: "id", "redirect_uris[1]",
	// "grants[0]", "allowed_networks[2]"; "grants" or "redirect_uris" for
	// the list as a whole; "secret" for Secret or SecretHash.
	Field string
	// Message says what is wrong and names the value, e.g.
	// `redirect URI "http://app.example/cb": must use https:// (…)`.
	Message string
}

func (p SpecProblem) String() string { return p.Message }

// MinSecretLength is the shortest secret an operator may bring. Secrets
// are stored as a fast SHA-256, which is only safe for values nobody can
// guess: 32 characters of base64 are 192 bits.
const MinSecretLength = 32

// emptySHA256 is the SHA-256 of no bytes: what `printf %s "$SECRET" |
// sha256sum` prints when SECRET is not set.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// CheckClientSecret says what is wrong with a secret an operator brings
// (on standard input, or in the environment variable a configuration
// file's secret_env names), or returns nil.
func CheckClientSecret(s string) error {
	switch {
	case len(s) < MinSecretLength:
		return fmt.Errorf("the secret must be at least %d characters of random data (e.g. openssl rand -base64 32)", MinSecretLength)
	case strings.ContainsFunc(s, unicode.IsControl):
		return errors.New("the secret must not contain control characters")
	}
	return nil
}

// checkSecretHash says what is wrong with a hex SHA-256 an operator
// gives instead of the secret, or returns nil.
func checkSecretHash(h string) error {
	const how = `printf %s "$SECRET" | sha256sum`
	if len(h) != 64 || strings.IndexFunc(h, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')
	}) >= 0 {
		return fmt.Errorf("the secret's SHA-256 must be 64 hexadecimal digits, the first field of `%s`", how)
	}
	if strings.EqualFold(h, emptySHA256) {
		return fmt.Errorf("%s… is the SHA-256 of an empty secret: was SECRET set when you ran `%s`?", h[:12], how)
	}
	return nil
}

// Validate returns every problem with spec, in the order of its fields;
// none means NewClient accepts it.
func (spec ClientSpec) Validate() []SpecProblem {
	_, problems := spec.record()
	return problems
}

// record checks spec and returns the client it describes, without its
// secret, times or source.
func (spec ClientSpec) record() (storage.Client, []SpecProblem) {
	var problems []SpecProblem
	bad := func(field, format string, args ...any) {
		problems = append(problems, SpecProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	at := func(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

	if !validClientID(spec.ID) {
		bad("id", "client ID %q must be 1 to 128 letters, digits or - _ . ~", spec.ID)
	}
	if len(spec.Name) > 200 || strings.IndexFunc(spec.Name, unicode.IsControl) >= 0 {
		bad("name", "name must be at most 200 characters without control characters")
	}

	grants := spec.GrantTypes
	if len(grants) == 0 && spec.ResourceServer == "" {
		grants = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	var cleanGrants []string
	for i, g := range grants {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials:
			if !slices.Contains(cleanGrants, g) {
				cleanGrants = append(cleanGrants, g)
			}
		default:
			bad(at("grants", i), "grant type %q is not one of %s, %s, %s", g, GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials)
		}
	}
	userFlow := slices.Contains(cleanGrants, GrantAuthorizationCode)
	if slices.Contains(cleanGrants, GrantRefreshToken) && !userFlow {
		bad("grants", "grant type %s needs %s (refresh tokens come from a sign-in)", GrantRefreshToken, GrantAuthorizationCode)
	}
	if spec.Public && slices.Contains(cleanGrants, GrantClientCredentials) {
		bad("grants", "a public client cannot use %s: it has no secret to authenticate with", GrantClientCredentials)
	}

	if userFlow && len(spec.RedirectURIs) == 0 {
		bad("redirect_uris", "give at least one --redirect-uri (redirect_uris in the configuration file) for the %s grant", GrantAuthorizationCode)
	}
	for i, u := range spec.RedirectURIs {
		if err := ValidateRedirectURI(u, spec.Public); err != nil {
			bad(at("redirect_uris", i), "redirect URI %q: %v", u, err)
		}
	}
	for i, u := range spec.PostLogoutRedirectURIs {
		if err := ValidateRedirectURI(u, spec.Public); err != nil {
			bad(at("post_logout_redirect_uris", i), "post-logout redirect URI %q: %v", u, err)
		}
	}
	if spec.BackchannelLogoutURI != "" {
		// Called by portti's servers, not a browser: never a custom scheme.
		if err := ValidateRedirectURI(spec.BackchannelLogoutURI, false); err != nil {
			bad("backchannel_logout_uri", "back-channel logout URI %q: %v", spec.BackchannelLogoutURI, err)
		}
	}
	var nets []string
	for i, n := range spec.AllowedNetworks {
		p, err := netip.ParsePrefix(strings.TrimSpace(n))
		switch {
		case err != nil:
			bad(at("allowed_networks", i), "allowed network %q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32", n)
		case p != p.Masked():
			bad(at("allowed_networks", i), "allowed network %q has host bits set; did you mean %s?", n, p.Masked())
		default:
			nets = append(nets, p.String())
		}
	}
	var scopes []string
	for i, sc := range spec.Scopes {
		switch {
		case !validScope(sc):
			bad(at("scopes", i), "scope %q must be 1 to 128 printable ASCII characters without spaces, \" or \\ (RFC 6749 3.3)", sc)
		case slices.Contains(personScopes, sc):
			bad(at("scopes", i), "scope %q is about a person: client_credentials tokens are the client's own", sc)
		case !slices.Contains(scopes, sc):
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) > 0 && !slices.Contains(cleanGrants, GrantClientCredentials) && !userFlow {
		bad("scopes", "scopes are granted with %s or %s: add one of those grants, or leave the scopes out", GrantClientCredentials, GrantAuthorizationCode)
	}
	if spec.ResourceServer != "" {
		if err := CheckResourceIdentifier(spec.ResourceServer); err != nil {
			bad("resource_server", "resource server identifier %q: %v", spec.ResourceServer, err)
		}
		if spec.Public {
			bad("resource_server", "a resource server authenticates with its secret at introspection: it cannot be a public client")
		}
	}
	var resourceScopes []string
	for i, sc := range spec.ResourceScopes {
		switch {
		case !validScope(sc):
			bad(at("resource_scopes", i), "scope %q must be 1 to 128 printable ASCII characters without spaces, \" or \\ (RFC 6749 3.3)", sc)
		case !slices.Contains(resourceScopes, sc):
			resourceScopes = append(resourceScopes, sc)
		}
	}
	if len(resourceScopes) > 0 && spec.ResourceServer == "" {
		bad("resource_scopes", "the scopes an API accepts need its identifier: give --resource-server (resource_server in the configuration file)")
	}
	var groups []string
	for i, g := range spec.AllowedGroups {
		switch {
		case strings.TrimSpace(g) == "" || len(g) > 256 || strings.ContainsFunc(g, unicode.IsControl):
			bad(at("allowed_groups", i), "allowed group %q must be a group's name, 1 to 256 bytes without control characters", g)
		case !slices.Contains(groups, g):
			groups = append(groups, g)
		}
	}
	if len(groups) > 0 && !userFlow {
		bad("allowed_groups", "allowed groups limit who signs in: the client needs the %s grant", GrantAuthorizationCode)
	}
	alg := spec.IDTokenAlg
	switch alg {
	case "":
		alg = algRS256
	case algRS256, algES256:
	default:
		bad("id_token_alg", "id_token algorithm %q is not RS256 or ES256", alg)
	}

	switch {
	case spec.Public && (spec.Secret != "" || spec.SecretHash != ""):
		bad("secret", "a public client has no secret")
	case spec.Secret != "" && spec.SecretHash != "":
		bad("secret", "give the secret or its SHA-256, not both")
	case spec.Secret != "":
		if err := CheckClientSecret(spec.Secret); err != nil {
			bad("secret", "%v", err)
		}
	case spec.SecretHash != "":
		if err := checkSecretHash(spec.SecretHash); err != nil {
			bad("secret", "%v", err)
		}
	}

	return storage.Client{
		ID: spec.ID, Name: spec.Name, Public: spec.Public,
		RedirectURIs: spec.RedirectURIs, PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs,
		GrantTypes: cleanGrants, BackchannelLogoutURI: spec.BackchannelLogoutURI,
		AllowedNetworks: nets, ThirdParty: spec.ThirdParty, IDTokenAlg: alg, Scopes: scopes,
		ResourceServer: spec.ResourceServer, ResourceScopes: resourceScopes,
		RequireMFA: spec.RequireMFA, AllowedGroups: groups,
	}, problems
}

// personScopes are the OpenID Connect scopes, which name a person's data
// and sign-in; a client's own token has no person.
var personScopes = []string{"openid", "profile", "email", "phone", "address", "offline_access", ScopeGroups, ScopeUserType}

// validScope: a scope-token of RFC 6749 3.3 (%x21 / %x23-5B / %x5D-7E),
// at most 128 characters.
func validScope(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// NewClient validates spec and returns the record to store (a client of
// `portti client add`, Source ClientSourceCLI) and the client's secret in
// the clear: the only time it exists outside the client's own
// configuration. The secret is empty for public clients and when spec
// gives only the SecretHash.
func NewClient(spec ClientSpec, now time.Time, random io.Reader) (storage.Client, string, error) {
	rec, problems := spec.record()
	if len(problems) > 0 {
		return storage.Client{}, "", clientError(problems)
	}
	rec.Source = storage.ClientSourceCLI
	rec.CreatedAt, rec.UpdatedAt = now.UTC(), now.UTC()
	if spec.Public {
		return rec, "", nil
	}
	if spec.SecretHash != "" {
		rec.SecretHash = strings.ToLower(spec.SecretHash)
		return rec, "", nil
	}
	clientSecret := spec.Secret
	if clientSecret == "" {
		s, _, err := secret.New(randomReader(random))
		if err != nil {
			return storage.Client{}, "", err
		}
		clientSecret = s
	}
	rec.SecretHash = secret.Hash(clientSecret)
	return rec, clientSecret, nil
}

// RegisterClient validates spec and stores the client. It returns the
// secret in the clear (for confidential clients) to be shown once.
func RegisterClient(ctx context.Context, store storage.OIDCStorage, spec ClientSpec, now time.Time) (storage.Client, string, error) {
	rec, clientSecret, err := NewClient(spec, now, nil)
	if err != nil {
		return storage.Client{}, "", err
	}
	if err := store.CreateClient(ctx, rec); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.Client{}, "", conflictError(ctx, store, rec)
		}
		return storage.Client{}, "", fmt.Errorf("store client: %w", err)
	}
	return rec, clientSecret, nil
}

// SpecOf is the spec that describes a stored client, its secret given by
// its hash.
func SpecOf(c storage.Client) ClientSpec {
	return ClientSpec{
		ID: c.ID, Name: c.Name, Public: c.Public, SecretHash: c.SecretHash,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.GrantTypes, BackchannelLogoutURI: c.BackchannelLogoutURI,
		AllowedNetworks: c.AllowedNetworks, ThirdParty: c.ThirdParty, IDTokenAlg: c.IDTokenAlg,
		Scopes: c.Scopes, ResourceServer: c.ResourceServer, ResourceScopes: c.ResourceScopes,
		RequireMFA: c.RequireMFA, AllowedGroups: c.AllowedGroups,
	}
}

// UpdateClient changes a client of `portti client add` in place: change
// edits its spec, which is then checked as NewClient checks one. Its
// tokens, consents and signed-in sessions stay. A Secret that change sets
// replaces the secret; with newSecret, or when a public client becomes
// confidential without one, portti generates one. The new secret is
// returned in the clear, to be shown once. Clients from the configuration
// file are changed there.
func UpdateClient(ctx context.Context, store storage.OIDCStorage, id string, change func(*ClientSpec), newSecret bool, now time.Time) (storage.Client, string, error) {
	var clientSecret, resource string
	rec, err := store.UpdateClient(ctx, id, func(old storage.Client) (storage.Client, error) {
		if old.Source == storage.ClientSourceConfig {
			return old, &ClientError{Problems: []string{fmt.Sprintf(
				"client %q comes from the configuration file (clients:): change it there, then reload portti (SIGHUP)", id)}}
		}
		spec := SpecOf(old)
		change(&spec)
		spec.ID = old.ID
		switch {
		case spec.Public:
			spec.Secret, spec.SecretHash = "", ""
		case spec.Secret != "":
			spec.SecretHash = ""
		case newSecret || spec.SecretHash == "":
			s, _, err := secret.New(randomReader(nil))
			if err != nil {
				return old, err
			}
			spec.Secret, spec.SecretHash = s, ""
		}
		rec, problems := spec.record()
		if len(problems) > 0 {
			return old, clientError(problems)
		}
		switch {
		case spec.Secret != "":
			rec.SecretHash, clientSecret = secret.Hash(spec.Secret), spec.Secret
		default:
			rec.SecretHash = strings.ToLower(spec.SecretHash)
		}
		rec.Source, rec.CreatedAt, rec.UpdatedAt = old.Source, old.CreatedAt, now.UTC()
		resource = rec.ResourceServer
		return rec, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, "", &ClientError{Problems: []string{fmt.Sprintf("no client %q", id)}}
	}
	if errors.Is(err, storage.ErrConflict) {
		return storage.Client{}, "", conflictError(ctx, store, storage.Client{ID: id, ResourceServer: resource})
	}
	if err != nil {
		return storage.Client{}, "", err
	}
	return rec, clientSecret, nil
}

// conflictError says which unique value of rec is taken: its ID, or the
// identifier of the API it would be.
func conflictError(ctx context.Context, store storage.OIDCStorage, rec storage.Client) *ClientError {
	if rs, ok := store.(storage.ResourceStorage); ok && rec.ResourceServer != "" {
		if other, err := rs.GetClientByResource(ctx, rec.ResourceServer); err == nil && other.ID != rec.ID {
			return &ClientError{
				Problems: []string{fmt.Sprintf("client %q is already the resource server %q: identifiers are unique", other.ID, rec.ResourceServer)},
				Fields:   []SpecProblem{{Field: "resource_server", Message: fmt.Sprintf("client %q is already the resource server %q", other.ID, rec.ResourceServer)}},
			}
		}
	}
	return &ClientError{Problems: []string{fmt.Sprintf("a client with ID %q already exists", rec.ID)}}
}

// ClientError lists everything wrong with a ClientSpec.
type ClientError struct {
	Problems []string      // the messages, one per problem
	Fields   []SpecProblem // the same with their fields, when known
}

func clientError(problems []SpecProblem) *ClientError {
	e := &ClientError{Fields: problems}
	for _, p := range problems {
		e.Problems = append(e.Problems, p.Message)
	}
	return e
}

func (e *ClientError) Error() string {
	return "invalid client: " + strings.Join(e.Problems, "; ")
}
