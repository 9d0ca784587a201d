package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/provision"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Key is the file key path ("lockout_threshold", "argon2.memory",
	// "clients[1].redirect_uris[0]"), or "" for problems not tied to one
	// setting (unknown keys, YAML syntax).
	Key string
	// Message says what is wrong, without the key, e.g.
	// `must be a whole number ≥ 1, got "abc"`.
	Message string
	// Source says where the offending value came from when known:
	// "FILE:LINE", "environment" or "derived from listen".
	Source string
}

// Env returns the environment variable for p.Key, or "" when there is
// none (no key, or a key only the file can set, such as clients).
func (p Problem) Env() string {
	if p.Key == "" || fileOnly(p.Key) {
		return ""
	}
	return EnvName(p.Key)
}

// fileOnly reports whether key is, or is inside, a setting that has no
// environment variable ("clients", "clients[0].id").
func fileOnly(key string) bool {
	root, _, _ := strings.Cut(key, "[")
	s, ok := lookupSetting(root)
	return ok && s.set == nil
}

// String renders p as
// `PORTTI_LOCKOUT_THRESHOLD (lockout_threshold): must be … [portti.yaml:7]`,
// or, for a key without an environment variable, as
// `clients[1].redirect_uris[0]: redirect URI … [portti.yaml:12]`.
func (p Problem) String() string {
	var b strings.Builder
	if env := p.Env(); env != "" {
		fmt.Fprintf(&b, "%s (%s): ", env, p.Key)
	} else if p.Key != "" {
		fmt.Fprintf(&b, "%s: ", p.Key)
	}
	b.WriteString(p.Message)
	if p.Source != "" {
		fmt.Fprintf(&b, " [%s]", p.Source)
	}
	return b.String()
}

// Problems is every problem found; as an error its message has one line
// per problem. Load and Validate return it (use errors.As to get it back).
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	if len(ps) == 1 {
		b.WriteString("invalid configuration (1 problem):")
	} else {
		fmt.Fprintf(&b, "invalid configuration (%d problems):", len(ps))
	}
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// EnvName returns the environment variable for a file key path:
// EnvName("argon2.memory") == "PORTTI_ARGON2_MEMORY".
func EnvName(key string) string {
	return "PORTTI_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Validate checks c and returns nil or Problems listing every problem.
// Like authelia, each section has its own validator and all of them run;
// nothing stops at the first problem.
func (c Config) Validate() error {
	var ps Problems
	validateServer(c, &ps)
	validateDatabase(c, &ps)
	validateKeys(c, &ps)
	validateMail(c, &ps)
	validateLifetimes(c, &ps)
	validateLoginLimits(c, &ps)
	validatePasswords(c, &ps)
	validateProvision(c, &ps)
	validateLoginHelp(c, &ps)
	validateMFATypes(c, &ps)
	validateArgon2(c.Argon2, &ps)
	validateMFA(c.MFA, &ps)
	if t := c.Guests.LinkTTL; t < time.Hour || t > 30*24*time.Hour {
		ps.add("guests.link_ttl", "must be a duration from 1h up to 720h (30 days) such as 336h, got %s", t)
	}
	if t := c.Guests.MaxDuration; t < 24*time.Hour || t > 5*366*24*time.Hour {
		ps.add("guests.max_duration", "must be a duration from 24h up to 43920h (5 years) such as 8784h, got %s", t)
	}
	if t := c.Helpdesk.AccessPassTTL; t < time.Minute || t > MaxAccessPassTTL {
		ps.add("helpdesk.access_pass_ttl", "must be a duration from 1m up to %s such as 8h, got %s", MaxAccessPassTTL, t)
	}
	validateMisc(c, &ps)
	validateProtocol(c, &ps)
	validateClients(c, &ps)
	validateProofing(c, &ps)
	validateFederation(c, &ps)
	validateSAML(c.SAML, &ps)
	if len(ps) == 0 {
		return nil
	}
	return ps
}

func (ps *Problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// Bounds shared by parsing (Load) and Validate so both say the same thing.
const (
	minLockoutThreshold = 1
	minThrottleLimit    = 1
	minArgon2Memory     = 8       // KiB; argon2 needs ≥ 8 KiB per thread
	maxArgon2Memory     = 4 << 20 // KiB = 4 GiB; more is surely a typo
	minArgon2Time       = 1
	maxArgon2Time       = 1000
	minArgon2Threads    = 1
	maxArgon2Threads    = 255 // argon2 takes a uint8
	maxTermsVersionLen  = 64
)

// wholeNumber describes the integer range [lo, hi] for messages; hi < lo
// means no upper bound.
func wholeNumber(lo, hi int64) string {
	if hi < lo {
		return fmt.Sprintf("a whole number ≥ %d", lo)
	}
	return fmt.Sprintf("a whole number from %d to %d", lo, hi)
}

func inRange(v, lo, hi int64) bool { return v >= lo && (hi < lo || v <= hi) }

func checkWhole(ps *Problems, key string, v, lo, hi int64) {
	if !inRange(v, lo, hi) {
		ps.add(key, "must be %s, got %d", wholeNumber(lo, hi), v)
	}
}

func checkPositive(ps *Problems, key string, d time.Duration) {
	if d <= 0 {
		ps.add(key, "must be a positive duration such as 30m or 24h, got %s", d)
	}
}

func checkChoice(ps *Problems, key, v string, choices ...string) {
	for _, c := range choices {
		if v == c {
			return
		}
	}
	ps.add(key, "must be one of %s, got %q", strings.Join(choices, ", "), v)
}

func validateServer(c Config, ps *Problems) {
	listenOK := true
	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		listenOK = false
		ps.add("listen", "must be host:port such as 127.0.0.1:8080 or :8080, got %q", c.Listen)
	} else if !validPort(port) {
		listenOK = false
		ps.add("listen", "port must be a number from 1 to 65535, got %q", c.Listen)
	} else if strings.ContainsAny(host, " /?#@") {
		listenOK = false
		ps.add("listen", "host must be an IP address or host name, got %q", c.Listen)
	}

	switch {
	case c.PublicURL == "" && !listenOK:
		// Cannot be derived from a broken listen; that is reported above.
	case c.PublicURL == "" && derivePublicURL(c.Listen) == "":
		ps.add("public_url", "must be set when listen (%s) is not on localhost, 127.0.0.1 or ::1; "+
			"give the address users reach, e.g. https://id.example.org", c.Listen)
	case c.PublicURL == "":
		ps.add("public_url", "must be set, e.g. http://%s", c.Listen)
	default:
		if msg := checkPublicURL(c.PublicURL); msg != "" {
			ps.add("public_url", "%s, got %q", msg, c.PublicURL)
		}
	}

	for _, s := range c.TrustedProxies {
		if _, msg := parseProxy(s); msg != "" {
			ps.add("trusted_proxies", "entry %q %s", s, msg)
		}
	}
}

// checkPublicURL returns "" or what is wrong with public_url.
func checkPublicURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "must be an absolute URL such as https://id.example.org"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with https:// (or http:// on localhost)"
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "must be an absolute URL with a host, such as https://id.example.org"
	case u.User != nil:
		return "must not contain a user name or password"
	case strings.ContainsAny(s, "?#"):
		return "must not have a query (?) or fragment (#)"
	case u.Scheme == "http" && !isLocalHost(u.Hostname()):
		return "must use https:// (plain http:// is only allowed on localhost, 127.0.0.1 or ::1)"
	}
	if p := u.Port(); p != "" && !validPort(p) {
		return "port must be a number from 1 to 65535"
	}
	return ""
}

func validateDatabase(c Config, ps *Problems) {
	const key = "database_url"
	switch dialectOf(c.DatabaseURL) {
	case DialectSQLite:
		path := c.DatabaseURL[len("sqlite:"):]
		switch {
		case path == "":
			ps.add(key, "sqlite: needs a file path, e.g. sqlite:portti-data/portti.db")
		case strings.HasPrefix(path, "//"):
			ps.add(key, "use sqlite:PATH without //, e.g. sqlite:portti-data/portti.db or sqlite:/var/lib/portti/portti.db, got %q", c.DatabaseURL)
		}
	case DialectPostgres:
		// Never echo the value: it may hold a password.
		if u, err := url.Parse(c.DatabaseURL); err != nil || u.Opaque != "" {
			ps.add(key, "is not a valid postgres:// URL (value not shown, it may contain a password)")
		}
	default:
		ps.add(key, "must be sqlite:PATH or a postgres:// or postgresql:// URL, got %s", redactURL(c.DatabaseURL))
	}
}

func validateKeys(c Config, ps *Problems) {
	// Never echo the value: it is a secret.
	if c.KeyEncryptionKey != "" {
		if _, ok := decodeKeyEncryptionKey(c.KeyEncryptionKey); !ok {
			ps.add("key_encryption_key", "must be 32 random bytes in base64, e.g. the output of "+
				"\"openssl rand -base64 32\" (value not shown, it is a secret)")
		}
	}
}

func validateMail(c Config, ps *Problems) {
	if c.SMTPURL != "" {
		if msg := checkSMTPURL(c.SMTPURL); msg != "" {
			ps.add("smtp_url", "%s", msg)
		}
	}

	if strings.ContainsAny(c.MailFrom, "\r\n") {
		ps.add("mail_from", "must be one line")
	} else if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		ps.add("mail_from", "must be an e-mail address such as noreply@example.org or \"portti <noreply@example.org>\", got %q", c.MailFrom)
	}

	// The dev outbox shows every e-mail, recovery links included, to
	// whoever opens it: on a public address that is account takeover.
	if c.DevMail && checkPublicURL(c.PublicURL) == "" && !publicHostIsLocal(c.PublicURL) {
		ps.add("dev_mail", "the dev outbox shows every e-mail (recovery links included) to anyone; "+
			"it is only allowed when public_url's host is localhost, 127.0.0.1 or ::1; set smtp_url, or dev_mail: false")
	}
}

func publicHostIsLocal(publicURL string) bool {
	u, err := url.Parse(publicURL)
	return err == nil && isLocalHost(u.Hostname())
}

// checkSMTPURL returns "" or what is wrong with smtp_url. The value is
// only ever shown redacted.
func checkSMTPURL(s string) string {
	const want = "must be smtp://host:port or smtps://user:password@host:port"
	u, err := url.Parse(s)
	if err != nil {
		return want + " (value not shown, it may contain a password)"
	}
	switch {
	case u.Scheme != "smtp" && u.Scheme != "smtps":
		return fmt.Sprintf("%s, got scheme %q", want, u.Scheme)
	case u.Opaque != "" || u.Hostname() == "":
		return fmt.Sprintf("%s, got %s", want, redactURL(s))
	case u.Port() == "":
		return fmt.Sprintf("needs a port, e.g. %s://%s:587, got %s", u.Scheme, u.Hostname(), redactURL(s))
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#"):
		return fmt.Sprintf("must not have a path, query or fragment, got %s", redactURL(s))
	}
	if !validPort(u.Port()) {
		return fmt.Sprintf("port must be a number from 1 to 65535, got %s", redactURL(s))
	}
	return ""
}

// redactURL quotes s with any password replaced by "xxxxx"; a value that
// does not parse as a URL is not shown at all.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(value not shown, it may contain a password)"
	}
	return strconv.Quote(u.Redacted())
}

func validateLifetimes(c Config, ps *Problems) {
	checkPositive(ps, "activation_ttl", c.ActivationTTL)
	checkPositive(ps, "recovery_ttl", c.RecoveryTTL)
	checkPositive(ps, "email_change_ttl", c.EmailChangeTTL)
	checkPositive(ps, "session_ttl", c.SessionTTL)
	checkPositive(ps, "browser_session_ttl", c.BrowserSessionTTL)
	if c.SessionTTL > 0 && c.BrowserSessionTTL > c.SessionTTL {
		ps.add("browser_session_ttl", "must not be longer than session_ttl (%s), got %s", c.SessionTTL, c.BrowserSessionTTL)
	}
}

func validateLoginLimits(c Config, ps *Problems) {
	checkWhole(ps, "lockout_threshold", int64(c.LockoutThreshold), minLockoutThreshold, 0)
	checkPositive(ps, "lockout_duration", c.LockoutDuration)
	checkPositive(ps, "throttle_window", c.ThrottleWindow)
	checkWhole(ps, "throttle_limit", int64(c.ThrottleLimit), minThrottleLimit, 0)
}

// maxRememberBrowser bounds mfa.remember_browser and mfa.enrolment_grace:
// a year.
const maxRememberBrowser = 365 * 24 * time.Hour

func validateMFA(m MFA, ps *Problems) {
	checkChoice(ps, "mfa.policy", m.Policy, MFAOptional, MFARequired)
	if m.RememberBrowser < 0 || m.RememberBrowser > maxRememberBrowser {
		ps.add("mfa.remember_browser", "must be 0 (never) or a duration up to %s such as 720h (30 days), got %s", maxRememberBrowser, m.RememberBrowser)
	}
	if m.EnrolmentGrace < 0 || m.EnrolmentGrace > maxRememberBrowser {
		ps.add("mfa.enrolment_grace", "must be 0 (no grace) or a duration up to %s such as 336h (14 days), got %s", maxRememberBrowser, m.EnrolmentGrace)
	}
	for _, k := range []struct{ key, v string }{{"mfa.acr_mfa", m.ACRMFA}, {"mfa.acr_password", m.ACRPassword}} {
		if k.v == "" || strings.ContainsAny(k.v, " \t\r\n\"") || len(k.v) > 255 {
			ps.add(k.key, "must be a name without spaces or quotes, such as https://refeds.org/profile/mfa, got %q", k.v)
		}
	}
	if m.ACRMFA != "" && m.ACRMFA == m.ACRPassword {
		ps.add("mfa.acr_password", "must differ from mfa.acr_mfa (%q)", m.ACRMFA)
	}
	for _, l := range []struct {
		key      string
		patterns []string
	}{{"mfa.required_domains", m.RequiredDomains}, {"mfa.optional_domains", m.OptionalDomains}} {
		for _, p := range l.patterns {
			if err := authn.ValidatePattern(p); err != nil {
				ps.add(l.key, "%v", err)
			}
		}
	}
}

// validateMFATypes checks mfa.required_types and mfa.optional_types.
func validateMFATypes(c Config, ps *Problems) {
	for _, l := range []struct {
		key   string
		types []string
	}{{"mfa.required_types", c.MFA.RequiredTypes}, {"mfa.optional_types", c.MFA.OptionalTypes}} {
		for _, t := range l.types {
			if !provision.ValidUserType(t) {
				ps.add(l.key, "%q is not a user type name (a-z, 0-9, - and _, starting with a letter), such as student", t)
			}
		}
	}
}

// validateProvision checks provision.user_types (TYPE=PATTERN entries)
// and provision.registry_only (patterns).
func validateProvision(c Config, ps *Problems) {
	for _, p := range c.Provision.RegistryOnly {
		if err := authn.ValidatePattern(p); err != nil {
			ps.add("provision.registry_only", "%v", err)
		}
	}
	if _, err := provision.ParseColumns(c.Provision.CSVColumns); err != nil {
		ps.add("provision.csv_columns", "%v", err)
	}
	if _, err := provision.ParseNoticeDays(c.Provision.EndNoticeDays); err != nil {
		ps.add("provision.end_notice_days", "%v", err)
	}
	for _, e := range c.Provision.UserTypes {
		typ, pattern, ok := strings.Cut(e, "=")
		if !ok {
			ps.add("provision.user_types", "entries are TYPE=PATTERN, such as student=*@student.example.fi, got %q", e)
			continue
		}
		if err := authn.ValidatePattern(strings.TrimSpace(pattern)); err != nil {
			ps.add("provision.user_types", "%v", err)
			continue
		}
		if _, err := provision.NewUserTypes([]provision.UserTypeRule{{Type: strings.TrimSpace(typ), Domains: []string{strings.TrimSpace(pattern)}}}); err != nil {
			ps.add("provision.user_types", "%v", err)
		}
	}
}

func validatePasswords(c Config, ps *Problems) {
	checkChoice(ps, "password_policy", c.PasswordPolicy, PasswordPolicyNIST, PasswordPolicyClasses)
	if c.PasswordMaxAge < 0 {
		ps.add("password_max_age", "must be 0 (never) or a positive duration such as 2160h, got %s", c.PasswordMaxAge)
	}
}

func validateArgon2(a Argon2, ps *Problems) {
	checkWhole(ps, "argon2.memory", int64(a.Memory), minArgon2Memory, maxArgon2Memory)
	checkWhole(ps, "argon2.time", int64(a.Time), minArgon2Time, maxArgon2Time)
	checkWhole(ps, "argon2.threads", int64(a.Threads), minArgon2Threads, maxArgon2Threads)
	if a.Threads >= minArgon2Threads && a.Memory >= minArgon2Memory && a.Memory < 8*uint32(a.Threads) {
		ps.add("argon2.memory", "must be at least 8 KiB per thread (%d for argon2.threads %d), got %d",
			8*uint32(a.Threads), a.Threads, a.Memory)
	}
}

func validateMisc(c Config, ps *Problems) {
	validateLegal(c, ps)
	switch {
	case strings.TrimSpace(c.TermsVersion) == "":
		ps.add("terms_version", "must not be empty")
	case len(c.TermsVersion) > maxTermsVersionLen:
		ps.add("terms_version", "must be at most %d bytes, got %d", maxTermsVersionLen, len(c.TermsVersion))
	case strings.IndexFunc(c.TermsVersion, unicode.IsControl) >= 0:
		ps.add("terms_version", "must not contain control characters, got %q", c.TermsVersion)
	}
	if len(c.SupportContact) > 200 || strings.IndexFunc(c.SupportContact, unicode.IsControl) >= 0 {
		ps.add("support_contact", "must be at most 200 bytes on one line")
	}
	checkChoice(ps, "log_level", c.LogLevel, LogLevelDebug, LogLevelInfo, LogLevelWarn, LogLevelError)
	checkChoice(ps, "log_format", c.LogFormat, LogFormatText, LogFormatJSON)
}

// Longest refresh_reuse_grace: a minute, as other identity providers
// allow. The grace is a window in which a stolen, already rotated refresh
// token still works for its client, so it should be as short as parallel
// requests need (seconds), never minutes.
const maxRefreshReuseGrace = time.Minute

func validateProtocol(c Config, ps *Problems) {
	if c.RefreshReuseGrace < 0 || c.RefreshReuseGrace > maxRefreshReuseGrace {
		ps.add("refresh_reuse_grace", "must be 0s (no grace) or a duration up to %s such as 5s, got %s", maxRefreshReuseGrace, c.RefreshReuseGrace)
	}
	if c.HSTS != HSTSOff && (c.HSTS < 0 || (c.HSTS > 0 && c.HSTS < HSTS(time.Second))) {
		ps.add("hsts", "must be off, 0s (browsers forget the policy) or a duration of at least 1s such as 8760h, got %s", time.Duration(c.HSTS))
	}
}
