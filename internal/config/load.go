package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Why a table and not yaml.Decoder.KnownFields(true) into Config plus a
// reflection walker for the environment:
//
//   - One parser per key serves both the file and the environment, so a bad
//     value gets the same message wherever it was written, and every bad
//     value is reported (yaml.v3 would stop at a syntax-level type error
//     with its own wording, e.g. "cannot unmarshal !!str `abc` into int").
//   - yaml.v3 refuses a plain integer for a time.Duration, so
//     `password_max_age: 0` (documented as "never") would be an error.
//   - Env names stay greppable and explicit here; TestSettingsCoverConfig
//     walks Config's yaml tags to make sure no field is missing.
//
// The file is read into a yaml.Node tree and walked against the table;
// unknown and duplicate keys are reported with their line.

// setting is one configuration key.
type setting struct {
	key string // file key path, "." joining nested keys: "argon2.memory"
	// set parses raw into c and returns "" or a message saying what is
	// wrong (without the key). Null YAML values and empty environment
	// variables arrive as "".
	set func(c *Config, raw string) string
	// setList, for list-valued keys, takes the items of a YAML sequence;
	// set then splits a single string on commas.
	setList func(c *Config, items []string) string
	// setNode, for keys whose value is structured (a list of mappings),
	// parses the YAML value itself, reporting problems through l; it is
	// called with a null value too. Such keys are file-only: set is nil,
	// and an environment variable for them is refused.
	setNode func(l *loader, path string, n *yaml.Node)
}

// settings lists every key, in documentation order.
var settings = []setting{
	stringSetting("listen", func(c *Config) *string { return &c.Listen }),
	{key: "public_url", set: func(c *Config, raw string) string {
		// Empty means "derive from listen"; see Load.
		c.PublicURL = strings.TrimRight(raw, "/")
		if raw != "" && c.PublicURL == "" {
			c.PublicURL = raw // "/" alone: keep it so Validate complains
		}
		return ""
	}},
	listSetting("trusted_proxies", func(c *Config) *[]string { return &c.TrustedProxies }),
	stringSetting("database_url", func(c *Config) *string { return &c.DatabaseURL }),
	stringSetting("key_encryption_key", func(c *Config) *string { return &c.KeyEncryptionKey }),
	stringSetting("smtp_url", func(c *Config) *string { return &c.SMTPURL }),
	stringSetting("mail_from", func(c *Config) *string { return &c.MailFrom }),
	boolSetting("dev_mail", func(c *Config) *bool { return &c.DevMail }),
	durationSetting("activation_ttl", func(c *Config) *time.Duration { return &c.ActivationTTL }),
	durationSetting("recovery_ttl", func(c *Config) *time.Duration { return &c.RecoveryTTL }),
	durationSetting("email_change_ttl", func(c *Config) *time.Duration { return &c.EmailChangeTTL }),
	durationSetting("session_ttl", func(c *Config) *time.Duration { return &c.SessionTTL }),
	durationSetting("browser_session_ttl", func(c *Config) *time.Duration { return &c.BrowserSessionTTL }),
	wholeSetting("lockout_threshold", minLockoutThreshold, 0, func(c *Config) *int { return &c.LockoutThreshold }),
	durationSetting("lockout_duration", func(c *Config) *time.Duration { return &c.LockoutDuration }),
	durationSetting("throttle_window", func(c *Config) *time.Duration { return &c.ThrottleWindow }),
	wholeSetting("throttle_limit", minThrottleLimit, 0, func(c *Config) *int { return &c.ThrottleLimit }),
	stringSetting("password_policy", func(c *Config) *string { return &c.PasswordPolicy }),
	durationSetting("password_max_age", func(c *Config) *time.Duration { return &c.PasswordMaxAge }),
	wholeSetting("argon2.memory", minArgon2Memory, maxArgon2Memory, func(c *Config) *uint32 { return &c.Argon2.Memory }),
	wholeSetting("argon2.time", minArgon2Time, maxArgon2Time, func(c *Config) *uint32 { return &c.Argon2.Time }),
	wholeSetting("argon2.threads", minArgon2Threads, maxArgon2Threads, func(c *Config) *uint8 { return &c.Argon2.Threads }),
	stringSetting("mfa.policy", func(c *Config) *string { return &c.MFA.Policy }),
	listSetting("mfa.required_domains", func(c *Config) *[]string { return &c.MFA.RequiredDomains }),
	listSetting("mfa.optional_domains", func(c *Config) *[]string { return &c.MFA.OptionalDomains }),
	listSetting("mfa.required_types", func(c *Config) *[]string { return &c.MFA.RequiredTypes }),
	listSetting("mfa.optional_types", func(c *Config) *[]string { return &c.MFA.OptionalTypes }),
	durationSetting("mfa.remember_browser", func(c *Config) *time.Duration { return &c.MFA.RememberBrowser }),
	stringSetting("mfa.acr_mfa", func(c *Config) *string { return &c.MFA.ACRMFA }),
	stringSetting("mfa.acr_password", func(c *Config) *string { return &c.MFA.ACRPassword }),
	durationSetting("mfa.enrolment_grace", func(c *Config) *time.Duration { return &c.MFA.EnrolmentGrace }),
	listSetting("provision.user_types", func(c *Config) *[]string { return &c.Provision.UserTypes }),
	listSetting("provision.registry_only", func(c *Config) *[]string { return &c.Provision.RegistryOnly }),
	registryDelaySetting(), // loginhelp.go
	{key: "provision.username_formats", setNode: (*loader).usernameFormats},
	listSetting("provision.csv_columns", func(c *Config) *[]string { return &c.Provision.CSVColumns }),
	wholeSetting("provision.grace_days", 0, 3650, func(c *Config) *int { return &c.Provision.GraceDays }),
	wholeSetting("provision.retention_days", 0, 3650, func(c *Config) *int { return &c.Provision.RetentionDays }),
	listSetting("provision.end_notice_days", func(c *Config) *[]string { return &c.Provision.EndNoticeDays }),
	durationSetting("helpdesk.access_pass_ttl", func(c *Config) *time.Duration { return &c.Helpdesk.AccessPassTTL }),
	durationSetting("guests.link_ttl", func(c *Config) *time.Duration { return &c.Guests.LinkTTL }),
	durationSetting("guests.max_duration", func(c *Config) *time.Duration { return &c.Guests.MaxDuration }),
	stringSetting("terms_version", func(c *Config) *string { return &c.TermsVersion }),
	localizedURLSetting("terms_url", func(c *Config) *LocalizedURL { return &c.TermsURL }),
	localizedURLSetting("privacy_url", func(c *Config) *LocalizedURL { return &c.PrivacyURL }),
	stringSetting("support_contact", func(c *Config) *string { return &c.SupportContact }),
	durationSetting("refresh_reuse_grace", func(c *Config) *time.Duration { return &c.RefreshReuseGrace }),
	{key: "hsts", set: func(c *Config, raw string) string {
		if strings.EqualFold(raw, "off") {
			c.HSTS = HSTSOff
			return ""
		}
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Sprintf("must be off or a duration such as 8760h (a year), got %q", raw)
		}
		c.HSTS = HSTS(d)
		return ""
	}},
	stringSetting("log_level", func(c *Config) *string { return &c.LogLevel }),
	stringSetting("log_format", func(c *Config) *string { return &c.LogFormat }),
	{key: "clients", setNode: (*loader).clients},                          // clients.go
	{key: "proofing.providers", setNode: (*loader).proofingProviders},     // proofing.go
	{key: "federation.providers", setNode: (*loader).federationProviders}, // federation.go
	stringSetting("saml.entity_id", func(c *Config) *string { return &c.SAML.EntityID }),
	stringSetting("saml.scope", func(c *Config) *string { return &c.SAML.Scope }),
	stringSetting("saml.home_organization", func(c *Config) *string { return &c.SAML.HomeOrganization }),
	stringSetting("saml.home_organization_type", func(c *Config) *string { return &c.SAML.HomeOrganizationType }),
	wholeSetting("saml.key_bits", 0, 16384, func(c *Config) *int { return &c.SAML.KeyBits }),
	listSetting("saml.default_release", func(c *Config) *[]string { return &c.SAML.DefaultRelease }),
	listSetting("saml.idp_initiated", func(c *Config) *[]string { return &c.SAML.IdPInitiated }),
	{key: "saml.service_providers", setNode: (*loader).samlServiceProviders}, // saml.go
	{key: "saml.aggregates", setNode: (*loader).samlAggregates},
	durationSetting("saml.aggregate_refresh", func(c *Config) *time.Duration { return &c.SAML.AggregateRefresh }),
}

func stringSetting(key string, field func(*Config) *string) setting {
	return setting{key: key, set: func(c *Config, raw string) string {
		*field(c) = raw
		return ""
	}}
}

func boolSetting(key string, field func(*Config) *bool) setting {
	return setting{key: key, set: func(c *Config, raw string) string {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Sprintf("must be true or false, got %q", raw)
		}
		*field(c) = b
		return ""
	}}
}

func durationSetting(key string, field func(*Config) *time.Duration) setting {
	return setting{key: key, set: func(c *Config, raw string) string {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Sprintf("must be a duration such as 30m, 24h or 2160h, got %q", raw)
		}
		*field(c) = d
		return ""
	}}
}

// wholeSetting parses an integer in [lo, hi] (hi < lo: no upper bound but
// the type's own), with the same wording as Validate.
func wholeSetting[T int | uint8 | uint32](key string, lo, hi int64, field func(*Config) *T) setting {
	return setting{key: key, set: func(c *Config, raw string) string {
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || !inRange(v, lo, hi) || int64(T(v)) != v {
			return fmt.Sprintf("must be %s, got %q", wholeNumber(lo, hi), raw)
		}
		*field(c) = T(v)
		return ""
	}}
}

func listSetting(key string, field func(*Config) *[]string) setting {
	s := setting{key: key, setList: func(c *Config, items []string) string {
		var out []string
		for _, it := range items {
			if it = strings.TrimSpace(it); it != "" {
				out = append(out, it)
			}
		}
		*field(c) = out
		return ""
	}}
	s.set = func(c *Config, raw string) string { return s.setList(c, strings.Split(raw, ",")) }
	return s
}

// Load returns the configuration: Default(), overridden by the YAML file
// at path (skipped when path is ""), overridden by environment variables
// read through lookupEnv (os.LookupEnv in main, a map in tests; nil means
// none). It then fills derived values and validates.
//
// A file that cannot be read is returned as that error. Everything else —
// YAML syntax, unknown or duplicate keys, unparsable values in the file or
// the environment, and Validate's findings — is collected and returned
// together as Problems. On error the returned Config is the zero value.
func Load(path string, lookupEnv func(string) (string, bool)) (Config, error) {
	return load(path, lookupEnv, nil)
}

// LoadEnviron is Load with the environment given as environ ("NAME=value",
// as os.Environ returns it), which the binary uses: seeing every name, it
// also reports the PORTTI_* variables that are no setting (see KnownEnv),
// with the nearest one, as unknown keys in the file are.
func LoadEnviron(path string, environ []string) (Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if name, value, ok := strings.Cut(kv, "="); ok {
			vars[name] = value
		}
	}
	return load(path, func(name string) (string, bool) { v, ok := vars[name]; return v, ok }, environ)
}

func load(path string, lookupEnv func(string) (string, bool), environ []string) (Config, error) {
	l := loader{cfg: Default(), origins: map[string]string{}, lookupEnv: lookupEnv}
	// Derived values are decided after the file and the environment.
	l.cfg.PublicURL = ""

	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		l.file(path, data)
	}
	if lookupEnv != nil {
		l.env(lookupEnv)
	}
	l.unknownEnv(environ) // after the file: its secret_env names are known

	if l.cfg.PublicURL == "" {
		if u := derivePublicURL(l.cfg.Listen); u != "" {
			l.cfg.PublicURL = u
			l.origins["public_url"] = "derived from listen"
		} else if o, ok := l.origins["listen"]; ok {
			l.origins["public_url"] = "not set; listen from " + o
		}
	}
	if _, set := l.origins["dev_mail"]; !set {
		l.cfg.DevMail = l.cfg.SMTPURL == ""
		l.origins["dev_mail"] = "default, as smtp_url is empty"
		if l.cfg.SMTPURL != "" {
			l.origins["dev_mail"] = "default, as smtp_url is set"
		}
	}

	// A value that did not parse kept its previous value; do not report
	// that one again, nor anything inside it (a clients entry that is not
	// a mapping is kept as an empty one, to keep the positions).
	failed := map[string]bool{}
	for _, p := range l.problems {
		failed[p.Key] = true
	}
	var vps Problems
	if err := l.cfg.Validate(); err != nil {
		vps, _ = err.(Problems)
	}
	for _, p := range vps {
		if p.Key != "" && failedWithin(failed, p.Key) {
			continue
		}
		if p.Source == "" {
			p.Source = l.origin(p.Key)
		}
		l.problems = append(l.problems, p)
	}
	if len(l.problems) > 0 {
		return Config{}, l.problems
	}
	return l.cfg, nil
}

type loader struct {
	cfg       Config
	problems  Problems
	origins   map[string]string // key → where its current value came from
	lookupEnv func(string) (string, bool)
}

// origin returns where the value of key came from: its own entry in
// origins, else that of the nearest enclosing key ("clients[1].grants[0]"
// falls back to "clients[1].grants", then "clients[1]", then "clients").
func (l *loader) origin(key string) string {
	for key != "" {
		if o, ok := l.origins[key]; ok {
			return o
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return ""
}

// failedWithin reports whether key is in failed, or, for a key inside a
// list entry ("clients[2].redirect_uris[0]"), whether an enclosing entry
// is ("clients[2].redirect_uris", "clients[2]"; not "clients", which
// fails for an environment variable while the file's list is checked).
func failedWithin(failed map[string]bool, key string) bool {
	if failed[key] {
		return true
	}
	for {
		i := strings.LastIndexAny(key, ".[")
		if i < 0 || !strings.Contains(key[:i], "[") {
			return false
		}
		if key = key[:i]; failed[key] {
			return true
		}
	}
}

func (l *loader) problem(key, source, format string, args ...any) {
	l.problems = append(l.problems, Problem{Key: key, Source: source, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) env(lookupEnv func(string) (string, bool)) {
	for _, s := range settings {
		name := EnvName(s.key)
		raw, ok := lookupEnv(name)
		if !ok {
			continue
		}
		if s.set == nil {
			l.problem(s.key, "environment", "%s is set, but %s can only be given in the configuration file "+
				"(--config; see portti.example.yaml): there is no environment-variable form; unset %s", name, s.key, name)
			continue
		}
		if msg := s.set(&l.cfg, raw); msg != "" {
			l.problem(s.key, "environment", "%s", msg)
			continue
		}
		l.origins[s.key] = "environment"
	}
}

func (l *loader) file(path string, data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			l.problem("", path, "%v", err)
		}
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		l.problem("", path, "must hold a single YAML document (found a second \"---\")")
		return
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	root = deref(root)
	if isNull(root) {
		return // empty document
	}
	if root.Kind != yaml.MappingNode {
		l.problem("", fmt.Sprintf("%s:%d", path, root.Line), "the top level must be a mapping of keys to values, such as \"listen: 127.0.0.1:8080\"")
		return
	}
	l.mapping(path, "", root)
}

// mapping applies one YAML mapping whose keys sit under prefix ("" for the
// top level, "argon2." for that section).
func (l *loader) mapping(path, prefix string, m *yaml.Node) {
	seen := map[string]int{} // key → line
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := deref(m.Content[i]), deref(m.Content[i+1])
		at := fmt.Sprintf("%s:%d", path, kn.Line)
		if kn.Kind != yaml.ScalarNode {
			l.problem("", at, "keys must be plain names")
			continue
		}
		key := prefix + kn.Value
		if first, dup := seen[key]; dup {
			l.problem(key, at, "given twice in the file (first on line %d)", first)
			continue
		}
		seen[key] = kn.Line

		if isSection(key) {
			switch {
			case isNull(vn):
			case vn.Kind == yaml.MappingNode:
				l.mapping(path, key+".", vn)
			default:
				l.problem(key, at, "must be a section of keys (%s)", strings.Join(sectionKeys(key), ", "))
			}
			continue
		}
		s, ok := lookupSetting(key)
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if guess := closestKey(key); guess != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", guess)
			}
			l.problem("", at, "%s", msg)
			continue
		}
		at = fmt.Sprintf("%s:%d", path, vn.Line)
		if s.setNode != nil {
			l.origins[key] = at
			s.setNode(l, path, vn)
			continue
		}
		var msg string
		switch {
		case isNull(vn):
			msg = s.set(&l.cfg, "")
		case vn.Kind == yaml.ScalarNode:
			msg = s.set(&l.cfg, vn.Value)
		case vn.Kind == yaml.SequenceNode && s.setList != nil:
			items := make([]string, 0, len(vn.Content))
			for _, it := range vn.Content {
				it = deref(it)
				if it.Kind != yaml.ScalarNode {
					msg = "items must be single values"
					break
				}
				items = append(items, it.Value)
			}
			if msg == "" {
				msg = s.setList(&l.cfg, items)
			}
		case s.setList != nil:
			msg = "must be a list"
		default:
			msg = "must be a single value, not a list or mapping"
		}
		if msg != "" {
			l.problem(key, at, "%s", msg)
			continue
		}
		l.origins[key] = at
	}
}

// deref follows an alias (*name) to its anchored node.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func lookupSetting(key string) (setting, bool) {
	for _, s := range settings {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

// isSection reports whether key is a section such as "argon2".
func isSection(key string) bool { return len(sectionKeys(key)) > 0 }

func sectionKeys(section string) []string {
	var keys []string
	for _, s := range settings {
		if rest, ok := strings.CutPrefix(s.key, section+"."); ok {
			keys = append(keys, rest)
		}
	}
	return keys
}

// closestKey suggests the known key nearest to a misspelt one, or "".
func closestKey(key string) string {
	keys := make([]string, len(settings))
	for i, s := range settings {
		keys[i] = s.key
	}
	return closest(key, keys)
}

// closest returns the candidate nearest to a misspelt name, or "" when
// none is within 3 edits.
func closest(name string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30 // not a typo of any key; skip the work
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
