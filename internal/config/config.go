// Package config holds portti's configuration: one Config tree, its
// defaults, loading from a YAML file plus PORTTI_* environment variables,
// and a Validate that reports every problem at once.
//
// Every setting has one key path as written in the file ("lockout_threshold",
// "argon2.memory") and one environment variable derived from it: "PORTTI_"
// plus the upper-cased path with "_" joining nested keys
// (PORTTI_LOCKOUT_THRESHOLD, PORTTI_ARGON2_MEMORY). See EnvName.
//
// Precedence, lowest first: Default(), the YAML file, the environment.
//
// One key has no environment variable: clients, the list of applications
// (OpenID Connect clients) registered from the file. Its entries are
// checked like the other keys, and problems in them are named by path,
// e.g. "clients[1].redirect_uris[0]".
package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/provision"
)

// Password policies accepted by password_policy.
const (
	PasswordPolicyNIST    = "nist"    // length-based, NIST SP 800-63B (default)
	PasswordPolicyClasses = "classes" // additionally requires character classes
)

// Log levels and formats accepted by log_level and log_format.
const (
	LogLevelDebug = "debug"
	LogLevelInfo  = "info"
	LogLevelWarn  = "warn"
	LogLevelError = "error"

	LogFormatText = "text"
	LogFormatJSON = "json"
)

// Dialects returned by Config.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Config is the whole configuration. The yaml tags are the file keys; the
// environment variable of each key is EnvName(key).
//
// Load fills two values that depend on others when they are not set
// explicitly: PublicURL is derived from Listen, and DevMail defaults to
// true exactly when SMTPURL is empty.
type Config struct {
	// Listen is the host:port the HTTP server binds to.
	Listen string `yaml:"listen"`
	// PublicURL is the absolute http(s) URL users reach portti at, without
	// a trailing slash. It may have a path (sub-path deployments).
	PublicURL string `yaml:"public_url"`
	// TrustedProxies are reverse proxies (CIDRs or bare IPs) whose
	// X-Forwarded-For is believed; see TrustedProxyPrefixes.
	TrustedProxies []string `yaml:"trusted_proxies"`

	// DatabaseURL is "sqlite:PATH" or "postgres://…" / "postgresql://…".
	DatabaseURL string `yaml:"database_url"`
	// KeyEncryptionKey is 32 random bytes, base64-encoded, that seal the
	// token signing keys kept in the database (AES-256-GCM), so a copy of
	// the database alone cannot sign tokens. Empty: the signing keys are
	// stored unencrypted, which portti allows for development and warns
	// about at every start. See KeyEncryptionKeyBytes.
	KeyEncryptionKey string `yaml:"key_encryption_key"`

	// SMTPURL is smtp://[user:pass@]host:port (STARTTLS when offered) or
	// smtps://[user:pass@]host:port (implicit TLS). Empty means no SMTP.
	SMTPURL string `yaml:"smtp_url"`
	// MailFrom is the From address, optionally with a display name.
	MailFrom string `yaml:"mail_from"`
	// DevMail exposes the dev outbox page that shows every sent e-mail.
	DevMail bool `yaml:"dev_mail"`

	// Lifetimes of the single-use links sent by e-mail.
	ActivationTTL  time.Duration `yaml:"activation_ttl"`
	RecoveryTTL    time.Duration `yaml:"recovery_ttl"`
	EmailChangeTTL time.Duration `yaml:"email_change_ttl"`

	// SessionTTL is the lifetime of a "remember me" session;
	// BrowserSessionTTL the lifetime of any other session.
	SessionTTL        time.Duration `yaml:"session_ttl"`
	BrowserSessionTTL time.Duration `yaml:"browser_session_ttl"`

	// An account is locked for LockoutDuration after LockoutThreshold
	// consecutive failed logins.
	LockoutThreshold int           `yaml:"lockout_threshold"`
	LockoutDuration  time.Duration `yaml:"lockout_duration"`

	// At most ThrottleLimit failed logins per client address per
	// ThrottleWindow.
	ThrottleWindow time.Duration `yaml:"throttle_window"`
	ThrottleLimit  int           `yaml:"throttle_limit"`

	// PasswordPolicy is PasswordPolicyNIST or PasswordPolicyClasses.
	PasswordPolicy string `yaml:"password_policy"`
	// PasswordMaxAge forces a password change after this long; 0 = never.
	PasswordMaxAge time.Duration `yaml:"password_max_age"`
	// Argon2 holds the argon2id password hashing parameters.
	Argon2 Argon2 `yaml:"argon2"`
	// MFA is the second-factor policy.
	MFA MFA `yaml:"mfa"`
	// Provision configures accounts that registries keep (SCIM).
	Provision Provision `yaml:"provision"`
	// Helpdesk: the helpdesk console's settings.
	Helpdesk Helpdesk `yaml:"helpdesk"`
	// Guests: guest invitations (package guests).
	Guests Guests `yaml:"guests"`

	// TermsVersion is the version of the terms users must accept.
	TermsVersion string `yaml:"terms_version"`
	// TermsURL and PrivacyURL are where the terms of use and the privacy
	// notice can be read (one URL, or one per language): linked from the
	// registration form's acceptance and from every e-mail. Empty: no link.
	TermsURL   LocalizedURL `yaml:"terms_url"`
	PrivacyURL LocalizedURL `yaml:"privacy_url"`

	// SupportContact is where people turn when something happened that
	// they did not do and no reset link can help: an e-mail address, a
	// phone number or a URL, named in e-mails. Empty: "the administrators".
	SupportContact string `yaml:"support_contact"`

	// RefreshReuseGrace is how long after a refresh token's rotation the
	// same client may present it again and get the same successor instead
	// of the chain's revocation (parallel refreshes); 0 turns it off.
	RefreshReuseGrace time.Duration `yaml:"refresh_reuse_grace"`
	// HSTS is the max-age of the Strict-Transport-Security header sent
	// with every response when PublicURL is https, or HSTSOff. See
	// StrictTransportSecurity.
	HSTS HSTS `yaml:"hsts"`

	LogLevel  string `yaml:"log_level"`  // debug|info|warn|error
	LogFormat string `yaml:"log_format"` // text|json

	// Clients are the applications (OpenID Connect clients) the file
	// registers, next to those added with `portti client add`. Only the
	// file can list them: there is no environment variable for the list.
	// The server keeps the database in step with it at start-up and on
	// SIGHUP; see oidc.SyncClients.
	Clients []Client `yaml:"clients"`

	// Proofing configures strong identification (proofing.go).
	Proofing Proofing `yaml:"proofing"`
	// Federation is sign-in with a home organisation (federation.go).
	Federation Federation `yaml:"federation"`
	// SAML is the SAML 2.0 identity provider (package saml; saml.go).
	SAML SAML `yaml:"saml"`
}

// Client is one entry of the clients list. The fields mean what the flags
// of `portti client add` mean (oidc.ClientSpec); the same checks apply.
// A confidential client names its secret by secret_sha256 or secret_env:
// the file never holds the secret itself.
type Client struct {
	ID                     string   `yaml:"id"`
	Name                   string   `yaml:"name"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	Grants                 []string `yaml:"grants"`
	Public                 bool     `yaml:"public"`
	// SecretSHA256 is the hex SHA-256 of the secret:
	// printf %s "$SECRET" | sha256sum
	SecretSHA256 string `yaml:"secret_sha256"`
	// SecretEnv names an environment variable holding the secret. Load
	// reads and hashes it; the secret itself is not kept.
	SecretEnv            string   `yaml:"secret_env"`
	BackchannelLogoutURI string   `yaml:"backchannel_logout_uri"`
	AllowedNetworks      []string `yaml:"allowed_networks"`
	ThirdParty           bool     `yaml:"third_party"`
	IDTokenAlg           string   `yaml:"id_token_alg"` // RS256 (default) or ES256
	Scopes               []string `yaml:"scopes"`       // what client_credentials may grant
	// ResourceServer makes the client an API with this identifier (RFC
	// 8707); ResourceScopes are the scopes it accepts.
	ResourceServer string   `yaml:"resource_server"`
	ResourceScopes []string `yaml:"resource_scopes"`
	RequireMFA     bool     `yaml:"require_mfa"` // every sign-in needs a second factor
	// AllowedGroups: only members of these groups (display names from a
	// registry) may sign in to the client. Empty: anyone.
	AllowedGroups []string `yaml:"allowed_groups"`

	envSecretHash string // SHA-256 of SecretEnv's value, set by Load
}

// SecretHash returns the hex SHA-256 the client's secret is checked
// against: SecretSHA256 (lower-cased), else the hash of SecretEnv's value
// as Load read it; "" for none.
func (c Client) SecretHash() string {
	if c.SecretSHA256 != "" {
		return strings.ToLower(c.SecretSHA256)
	}
	return c.envSecretHash
}

// Spec returns the client as the oidc package registers it.
func (c Client) Spec() oidc.ClientSpec {
	return oidc.ClientSpec{
		ID: c.ID, Name: c.Name, Public: c.Public, SecretHash: c.SecretHash(),
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.Grants, BackchannelLogoutURI: c.BackchannelLogoutURI,
		AllowedNetworks: c.AllowedNetworks, ThirdParty: c.ThirdParty, IDTokenAlg: c.IDTokenAlg,
		Scopes: c.Scopes, ResourceServer: c.ResourceServer, ResourceScopes: c.ResourceScopes,
		RequireMFA: c.RequireMFA, AllowedGroups: c.AllowedGroups,
	}
}

// ClientSpecs returns Clients as the oidc package registers them.
func (c Config) ClientSpecs() []oidc.ClientSpec {
	out := make([]oidc.ClientSpec, len(c.Clients))
	for i, cl := range c.Clients {
		out[i] = cl.Spec()
	}
	return out
}

// ChangedKeys returns the keys whose values differ between a and b, in
// documentation order ("argon2.memory" for a nested one, "clients" for
// any change to the list).
func ChangedKeys(a, b Config) []string {
	var keys []string
	var walk func(a, b reflect.Value, prefix string)
	walk = func(a, b reflect.Value, prefix string) {
		for i := range a.NumField() {
			f := a.Type().Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(a.Field(i), b.Field(i), prefix+tag+".")
				continue
			}
			if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
				keys = append(keys, prefix+tag)
			}
		}
	}
	walk(reflect.ValueOf(a), reflect.ValueOf(b), "")
	return keys
}

// Argon2 holds argon2id parameters, typed as golang.org/x/crypto/argon2
// wants them.
type Argon2 struct {
	Memory  uint32 `yaml:"memory"`  // KiB
	Time    uint32 `yaml:"time"`    // iterations
	Threads uint8  `yaml:"threads"` // parallelism
}

// Provision configures provisioned accounts (package provision).
type Provision struct {
	// UserTypes assign a user type from the login address, first match
	// wins: entries TYPE=PATTERN, such as student=*@student.example.fi
	// (PATTERN as in mfa.required_domains; a type may have several).
	UserTypes []string `yaml:"user_types"`
	// RegistryOnly are address patterns whose accounts only registries
	// create: self-registration refuses them, saying where the account
	// comes from.
	RegistryOnly []string `yaml:"registry_only"`
	// RegistryDelayText says, per language, when the registries usually
	// send a new person's data; the activation page and its e-mail to an
	// address nothing knows yet show it (loginhelp.go).
	RegistryDelayText map[string]string `yaml:"registry_delay_text"`
	// UsernameFormats are the username formats of the user types, shown
	// on the sign-in page (loginhelp.go).
	UsernameFormats []UsernameFormat `yaml:"username_formats"`
	// CSVColumns map the CSV import's fields to a registry file's column
	// headers: FIELD=COLUMN entries, such as external_id=hetu_id; a field
	// not named is read from the column of its own name.
	CSVColumns []string `yaml:"csv_columns"`
	// GraceDays: how many days after its end date an account can still
	// sign in (state grace) before it is disabled.
	GraceDays int `yaml:"grace_days"`
	// RetentionDays: how many days a disabled provisioned account's
	// personal data is kept before it is deleted.
	RetentionDays int `yaml:"retention_days"`
	// EndNoticeDays: how many days before the end the owner is e-mailed
	// (each number once), such as [14, 3].
	EndNoticeDays []string `yaml:"end_notice_days"`
}

// UserTypeRules returns Provision.UserTypes as package provision takes
// them, in order (validated by Validate).
func (c Config) UserTypeRules() []provision.UserTypeRule {
	var out []provision.UserTypeRule
	for _, e := range c.Provision.UserTypes {
		typ, pattern, _ := strings.Cut(e, "=")
		out = append(out, provision.UserTypeRule{Type: strings.TrimSpace(typ), Domains: []string{strings.TrimSpace(pattern)}})
	}
	return out
}

// MFA policies (MFA.Policy).
const (
	MFAOptional = "optional"
	MFARequired = "required"
)

// MFA says whose sign-ins need a second factor: Policy for everyone, and
// per e-mail address pattern (`*@student.example.fi`, `*@*.example.fi`, an
// address); of the patterns matching an address, the most specific wins
// (package authn, Policy).
type MFA struct {
	Policy          string   `yaml:"policy"` // MFAOptional or MFARequired
	RequiredDomains []string `yaml:"required_domains"`
	OptionalDomains []string `yaml:"optional_domains"`
	// RequiredTypes and OptionalTypes override the policy per user type
	// (provision.user_types, or what a registry says); a listed type
	// decides before the domain patterns.
	RequiredTypes []string `yaml:"required_types"`
	OptionalTypes []string `yaml:"optional_types"`
	// RememberBrowser: "don't ask again in this browser" lasts this long
	// after a second step; 0 (the default) never offers it.
	RememberBrowser time.Duration `yaml:"remember_browser"`
	// ACRMFA and ACRPassword name the authentication context classes of a
	// sign-in with and without a second factor (id_token acr, discovery,
	// acr_values); the REFEDS profiles by default.
	ACRMFA      string `yaml:"acr_mfa"`
	ACRPassword string `yaml:"acr_password"`
	// EnrolmentGrace: a person the policy requires a second factor of,
	// who has none, may put the setup off for this long from the first
	// sign-in where it was required; 0 (the default): no grace.
	EnrolmentGrace time.Duration `yaml:"enrolment_grace"`
}

// Helpdesk holds the helpdesk console's settings.
type Helpdesk struct {
	// AccessPassTTL: how long a temporary access pass the helpdesk gives
	// a person stays valid (8h; at most 72h).
	AccessPassTTL time.Duration `yaml:"access_pass_ttl"`
}

// Guests configures guest invitations.
type Guests struct {
	// LinkTTL: how long an invitation link works (336h = 14 days; 1h
	// up to 30 days).
	LinkTTL time.Duration `yaml:"link_ttl"`
	// MaxDuration: how far away a guest account's end may be (8784h =
	// 366 days; 1 day up to 5 years).
	MaxDuration time.Duration `yaml:"max_duration"`
}

// MaxAccessPassTTL bounds helpdesk.access_pass_ttl: three days cover a
// weekend; a longer-lived pass is a standing risk.
const MaxAccessPassTTL = 72 * time.Hour

// Default returns the default configuration. It is valid as is.
func Default() Config {
	c := Config{
		Listen:            "127.0.0.1:8080",
		TrustedProxies:    nil,
		DatabaseURL:       "sqlite:portti-data/portti.db",
		SMTPURL:           "",
		MailFrom:          "portti <noreply@localhost>",
		ActivationTTL:     30 * time.Minute,
		RecoveryTTL:       30 * time.Minute,
		EmailChangeTTL:    24 * time.Hour,
		SessionTTL:        30 * 24 * time.Hour,
		BrowserSessionTTL: 12 * time.Hour,
		LockoutThreshold:  5,
		LockoutDuration:   24 * time.Hour,
		ThrottleWindow:    15 * time.Minute,
		ThrottleLimit:     100,
		PasswordPolicy:    PasswordPolicyNIST,
		PasswordMaxAge:    0,
		Argon2:            Argon2{Memory: 19456, Time: 2, Threads: 1},
		MFA:               MFA{Policy: MFAOptional, ACRMFA: authn.ACRMFA, ACRPassword: authn.ACRPassword},
		Helpdesk:          Helpdesk{AccessPassTTL: 8 * time.Hour},
		Guests:            Guests{LinkTTL: 14 * 24 * time.Hour, MaxDuration: 366 * 24 * time.Hour},
		Provision:         Provision{GraceDays: 30, RetentionDays: 90, EndNoticeDays: []string{"14", "3"}},
		TermsVersion:      "2026-01",
		RefreshReuseGrace: 5 * time.Second,
		HSTS:              HSTS(365 * 24 * time.Hour),
		LogLevel:          LogLevelInfo,
		LogFormat:         LogFormatText,
	}
	c.PublicURL = derivePublicURL(c.Listen)
	c.DevMail = c.SMTPURL == ""
	return c
}

// HSTS is a Strict-Transport-Security max-age (RFC 6797), or HSTSOff. In
// the file and the environment it is a duration (8760h) or "off"; 0s sends
// max-age=0, which makes browsers forget an earlier policy.
type HSTS time.Duration

// HSTSOff sends no Strict-Transport-Security header.
const HSTSOff HSTS = -1

// String is the value as written in the configuration.
func (h HSTS) String() string {
	if h == HSTSOff {
		return "off"
	}
	return time.Duration(h).String()
}

// MarshalYAML writes the value as the file takes it.
func (h HSTS) MarshalYAML() (any, error) { return h.String(), nil }

// StrictTransportSecurity returns the Strict-Transport-Security header
// value to send with every response, or "" for none: none when HSTS is
// off, and none unless PublicURL is https (over plain http browsers ignore
// the header, RFC 6797 8.1, and a development server must not pin
// localhost to https).
func (c Config) StrictTransportSecurity() string {
	u, err := url.Parse(c.PublicURL)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || c.HSTS < 0 {
		return ""
	}
	return fmt.Sprintf("max-age=%d; includeSubDomains", int64(time.Duration(c.HSTS)/time.Second))
}

// KeyEncryptionKeyBytes returns KeyEncryptionKey decoded, or nil when it
// is empty or invalid (Validate reports an invalid one).
func (c Config) KeyEncryptionKeyBytes() []byte {
	b, _ := decodeKeyEncryptionKey(c.KeyEncryptionKey)
	return b
}

// decodeKeyEncryptionKey accepts standard or URL-safe base64, padded or
// not, and insists on exactly 32 bytes (an AES-256 key).
func decodeKeyEncryptionKey(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, false
			}
			return b, true
		}
	}
	return nil, false
}

// Dialect returns DialectSQLite or DialectPostgres according to
// DatabaseURL, or "" when it is neither (Validate reports that).
func (c Config) Dialect() string { return dialectOf(c.DatabaseURL) }

// SecureCookies reports whether cookies must carry the Secure attribute:
// true unless PublicURL is plain http on localhost, 127.0.0.1 or ::1.
func (c Config) SecureCookies() bool {
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return true
	}
	return !(strings.EqualFold(u.Scheme, "http") && isLocalHost(u.Hostname()))
}

// TrustedProxyPrefixes returns TrustedProxies parsed; a bare IP becomes a
// /32 (IPv4) or /128 (IPv6) prefix. Entries that do not parse are skipped;
// Validate reports them.
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		if p, err := parseProxy(s); err == "" {
			out = append(out, p)
		}
	}
	return out
}

// dialectOf maps a database URL to its dialect, "" if unsupported.
func dialectOf(s string) string {
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "sqlite:"):
		return DialectSQLite
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return DialectPostgres
	}
	return ""
}

// isLocalHost reports whether host (without port or brackets) is one of the
// names for which plain http is acceptable.
func isLocalHost(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// derivePublicURL returns "http://"+listen when listen's host is local,
// else "" (a public listener needs an explicit public_url; guessing one
// would put wrong links into e-mails and turn off Secure cookies).
func derivePublicURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || !isLocalHost(host) || !validPort(port) {
		return ""
	}
	return "http://" + net.JoinHostPort(host, port)
}

// validPort reports whether s is a decimal port number from 1 to 65535.
func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// parseProxy parses one trusted_proxies entry. It returns a message
// (without the key) when the entry is not acceptable.
func parseProxy(s string) (netip.Prefix, string) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, "is not an IP address or CIDR prefix"
		}
		if p != p.Masked() {
			return netip.Prefix{}, "has host bits set; did you mean " + p.Masked().String() + "?"
		}
		return p, ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, "is not an IP address or CIDR prefix"
	}
	if a.Zone() != "" {
		return netip.Prefix{}, "must not have an IPv6 zone"
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), ""
}
