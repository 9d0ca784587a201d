package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// env turns a map into a lookupEnv function.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeYAML writes content to a temporary portti.yaml and returns its path.
func writeYAML(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portti.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// problemsOf returns the Problems inside err, failing if there are none.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not Problems", err, err)
	}
	return ps
}

func TestDefaults(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}

	loaded, err := Load("", nil)
	if err != nil {
		t.Fatalf("Load with no file and no env: %v", err)
	}
	if !reflect.DeepEqual(loaded, d) {
		t.Errorf("Load(\"\", nil) = %+v\nwant Default() = %+v", loaded, d)
	}

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"listen", d.Listen, "127.0.0.1:8080"},
		{"public_url", d.PublicURL, "http://127.0.0.1:8080"},
		{"trusted_proxies", len(d.TrustedProxies), 0},
		{"database_url", d.DatabaseURL, "sqlite:portti-data/portti.db"},
		{"key_encryption_key", d.KeyEncryptionKey, ""},
		{"smtp_url", d.SMTPURL, ""},
		{"mail_from", d.MailFrom, "portti <noreply@localhost>"},
		{"dev_mail", d.DevMail, true},
		{"activation_ttl", d.ActivationTTL, 30 * time.Minute},
		{"recovery_ttl", d.RecoveryTTL, 30 * time.Minute},
		{"email_change_ttl", d.EmailChangeTTL, 24 * time.Hour},
		{"session_ttl", d.SessionTTL, 30 * 24 * time.Hour},
		{"browser_session_ttl", d.BrowserSessionTTL, 12 * time.Hour},
		{"lockout_threshold", d.LockoutThreshold, 5},
		{"lockout_duration", d.LockoutDuration, 24 * time.Hour},
		{"throttle_window", d.ThrottleWindow, 15 * time.Minute},
		{"throttle_limit", d.ThrottleLimit, 100},
		{"password_policy", d.PasswordPolicy, "nist"},
		{"password_max_age", d.PasswordMaxAge, time.Duration(0)},
		{"argon2.memory", d.Argon2.Memory, uint32(19456)},
		{"argon2.time", d.Argon2.Time, uint32(2)},
		{"argon2.threads", d.Argon2.Threads, uint8(1)},
		{"terms_version", d.TermsVersion, "2026-01"},
		{"refresh_reuse_grace", d.RefreshReuseGrace, 5 * time.Second},
		{"hsts", d.HSTS, HSTS(365 * 24 * time.Hour)},
		{"log_level", d.LogLevel, "info"},
		{"log_format", d.LogFormat, "text"},
		{"clients", len(d.Clients), 0},
		{"Dialect", d.Dialect(), "sqlite"},
		{"SecureCookies", d.SecureCookies(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

// TestSettingsCoverConfig keeps the settings table and the Config struct in
// step: every yaml key has exactly one setting and vice versa.
func TestSettingsCoverConfig(t *testing.T) {
	var keys []string
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, prefix string) {
		for f := range typ.Fields() {
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				t.Errorf("field %s has no yaml tag", f.Name)
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+tag+".")
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk(reflect.TypeFor[Config](), "")

	var table []string
	for _, s := range settings {
		table = append(table, s.key)
	}
	if !reflect.DeepEqual(keys, table) {
		t.Errorf("Config yaml keys:\n  %v\nsettings table (same order expected):\n  %v", keys, table)
	}
}

func TestEnvNames(t *testing.T) {
	tests := map[string]string{
		"listen":                      "PORTTI_LISTEN",
		"public_url":                  "PORTTI_PUBLIC_URL",
		"database_url":                "PORTTI_DATABASE_URL",
		"key_encryption_key":          "PORTTI_KEY_ENCRYPTION_KEY",
		"smtp_url":                    "PORTTI_SMTP_URL",
		"mail_from":                   "PORTTI_MAIL_FROM",
		"activation_ttl":              "PORTTI_ACTIVATION_TTL",
		"recovery_ttl":                "PORTTI_RECOVERY_TTL",
		"lockout_threshold":           "PORTTI_LOCKOUT_THRESHOLD",
		"lockout_duration":            "PORTTI_LOCKOUT_DURATION",
		"password_policy":             "PORTTI_PASSWORD_POLICY",
		"password_max_age":            "PORTTI_PASSWORD_MAX_AGE",
		"session_ttl":                 "PORTTI_SESSION_TTL",
		"browser_session_ttl":         "PORTTI_BROWSER_SESSION_TTL",
		"email_change_ttl":            "PORTTI_EMAIL_CHANGE_TTL",
		"trusted_proxies":             "PORTTI_TRUSTED_PROXIES",
		"throttle_window":             "PORTTI_THROTTLE_WINDOW",
		"throttle_limit":              "PORTTI_THROTTLE_LIMIT",
		"terms_version":               "PORTTI_TERMS_VERSION",
		"terms_url":                   "PORTTI_TERMS_URL",
		"privacy_url":                 "PORTTI_PRIVACY_URL",
		"support_contact":             "PORTTI_SUPPORT_CONTACT",
		"refresh_reuse_grace":         "PORTTI_REFRESH_REUSE_GRACE",
		"hsts":                        "PORTTI_HSTS",
		"log_level":                   "PORTTI_LOG_LEVEL",
		"log_format":                  "PORTTI_LOG_FORMAT",
		"dev_mail":                    "PORTTI_DEV_MAIL",
		"argon2.memory":               "PORTTI_ARGON2_MEMORY",
		"argon2.time":                 "PORTTI_ARGON2_TIME",
		"argon2.threads":              "PORTTI_ARGON2_THREADS",
		"mfa.policy":                  "PORTTI_MFA_POLICY",
		"mfa.required_domains":        "PORTTI_MFA_REQUIRED_DOMAINS",
		"mfa.optional_domains":        "PORTTI_MFA_OPTIONAL_DOMAINS",
		"mfa.remember_browser":        "PORTTI_MFA_REMEMBER_BROWSER",
		"mfa.acr_mfa":                 "PORTTI_MFA_ACR_MFA",
		"mfa.acr_password":            "PORTTI_MFA_ACR_PASSWORD",
		"mfa.enrolment_grace":         "PORTTI_MFA_ENROLMENT_GRACE",
		"clients":                     "PORTTI_CLIENTS",              // refused: see TestClientsNotFromEnvironment
		"proofing.providers":          "PORTTI_PROOFING_PROVIDERS",   // file only, like clients
		"federation.providers":        "PORTTI_FEDERATION_PROVIDERS", // file only, like clients
		"saml.entity_id":              "PORTTI_SAML_ENTITY_ID",
		"saml.scope":                  "PORTTI_SAML_SCOPE",
		"saml.home_organization":      "PORTTI_SAML_HOME_ORGANIZATION",
		"saml.home_organization_type": "PORTTI_SAML_HOME_ORGANIZATION_TYPE",
		"saml.key_bits":               "PORTTI_SAML_KEY_BITS",
		"saml.default_release":        "PORTTI_SAML_DEFAULT_RELEASE",
		"saml.idp_initiated":          "PORTTI_SAML_IDP_INITIATED",
		"saml.service_providers":      "PORTTI_SAML_SERVICE_PROVIDERS", // file only, as clients
		"saml.aggregates":             "PORTTI_SAML_AGGREGATES",        // file only
		"saml.aggregate_refresh":      "PORTTI_SAML_AGGREGATE_REFRESH",
		"mfa.required_types":          "PORTTI_MFA_REQUIRED_TYPES",
		"mfa.optional_types":          "PORTTI_MFA_OPTIONAL_TYPES",
		"provision.user_types":        "PORTTI_PROVISION_USER_TYPES",
		"provision.registry_only":     "PORTTI_PROVISION_REGISTRY_ONLY",
		"helpdesk.access_pass_ttl":    "PORTTI_HELPDESK_ACCESS_PASS_TTL",
		"guests.link_ttl":             "PORTTI_GUESTS_LINK_TTL",
		"guests.max_duration":         "PORTTI_GUESTS_MAX_DURATION",
		"provision.csv_columns":       "PORTTI_PROVISION_CSV_COLUMNS",
		"provision.grace_days":        "PORTTI_PROVISION_GRACE_DAYS",
		"provision.retention_days":    "PORTTI_PROVISION_RETENTION_DAYS",
		"provision.end_notice_days":   "PORTTI_PROVISION_END_NOTICE_DAYS",
	}
	// Issue 11 point 4 and 6 (loginhelp.go), apart so that the table's
	// alignment stays as it is.
	tests["provision.registry_delay_text"] = "PORTTI_PROVISION_REGISTRY_DELAY_TEXT"
	tests["provision.username_formats"] = "PORTTI_PROVISION_USERNAME_FORMATS" // file only
	for key, want := range tests {
		t.Run(key, func(t *testing.T) {
			if _, ok := lookupSetting(key); !ok {
				t.Errorf("no setting for %q", key)
			}
			if got := EnvName(key); got != want {
				t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
			}
		})
	}
	if len(tests) != len(settings) {
		t.Errorf("test lists %d keys, settings table has %d", len(tests), len(settings))
	}
}

func TestLoadTestdata(t *testing.T) {
	got, err := Load("testdata/portti.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen:         "0.0.0.0:9000",
		PublicURL:      "https://id.example.org", // trailing slash trimmed
		TrustedProxies: []string{"10.0.0.0/8", "192.168.1.1", "fd00::/8"},
		DatabaseURL:    "postgres://portti:secret@db.internal:5432/portti?sslmode=verify-full",
		SMTPURL:        "smtps://mailer:hunter2@mail.example.org:465",
		MailFrom:       "Example ID <id@example.org>",
		DevMail:        false,
		ActivationTTL:  time.Hour, RecoveryTTL: 20 * time.Minute, EmailChangeTTL: 48 * time.Hour,
		SessionTTL: 336 * time.Hour, BrowserSessionTTL: 8 * time.Hour,
		LockoutThreshold: 10, LockoutDuration: time.Hour,
		ThrottleWindow: 10 * time.Minute, ThrottleLimit: 50,
		PasswordPolicy: "classes", PasswordMaxAge: 2160 * time.Hour,
		Argon2:       Argon2{Memory: 47104, Time: 1, Threads: 2},
		MFA:          MFA{Policy: "required", OptionalDomains: []string{"*@external.example.org"}, ACRMFA: "https://refeds.org/profile/mfa", ACRPassword: "https://refeds.org/profile/sfa"},
		Helpdesk:     Helpdesk{AccessPassTTL: 8 * time.Hour},
		Guests:       Guests{LinkTTL: 14 * 24 * time.Hour, MaxDuration: 366 * 24 * time.Hour},
		Provision:    Provision{GraceDays: 30, RetentionDays: 90, EndNoticeDays: []string{"14", "3"}},
		TermsVersion: "2026-03", LogLevel: "warn", LogFormat: "json",
		RefreshReuseGrace: 2 * time.Second, HSTS: HSTS(720 * time.Hour),
		Clients: []Client{{
			ID: "moodle", Name: "Moodle",
			RedirectURIs:           []string{"https://moodle.example.org/auth/oidc/", "https://moodle.example.org/login"},
			PostLogoutRedirectURIs: []string{"https://moodle.example.org/"},
			Grants:                 []string{"authorization_code", "refresh_token", "client_credentials"},
			SecretSHA256:           "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
			BackchannelLogoutURI:   "https://moodle.example.org/logout",
			AllowedNetworks:        []string{"10.0.0.0/8", "2001:db8::/32"},
			ThirdParty:             true, IDTokenAlg: "ES256",
		}, {
			ID: "mobile", Public: true, RedirectURIs: []string{"fi.example.app:/cb"},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	for field, v := range map[string]any{
		"Dialect":       [2]any{got.Dialect(), "postgres"},
		"SecureCookies": [2]any{got.SecureCookies(), true},
	} {
		if p := v.([2]any); p[0] != p[1] {
			t.Errorf("%s() = %v, want %v", field, p[0], p[1])
		}
	}
}

// TestExampleFile checks the documented example: it loads to exactly the
// defaults and mentions every key.
func TestExampleFile(t *testing.T) {
	const path = "../../portti.example.yaml"
	got, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("example loads to %+v\nwant Default() %+v", got, Default())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		leaf := s.key[strings.LastIndex(s.key, ".")+1:]
		if !strings.Contains(string(data), leaf+":") {
			t.Errorf("example does not mention %s", s.key)
		}
	}
	for _, k := range clientKeys {
		if !strings.Contains(string(data), "#     "+k.key+":") && !strings.Contains(string(data), "#   - "+k.key+":") {
			t.Errorf("example's commented clients entry does not show %s", k.key)
		}
	}
}

func TestFileThenEnv(t *testing.T) {
	path := writeYAML(t, `
listen: 127.0.0.1:9000
lockout_threshold: 7
log_level: debug
password_policy: classes
trusted_proxies: [10.0.0.0/8]
argon2:
  memory: 65536
  time: 3
`)
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"file only", nil, func(t *testing.T, c Config) {
			want := Default()
			want.Listen, want.PublicURL = "127.0.0.1:9000", "http://127.0.0.1:9000"
			want.LockoutThreshold, want.LogLevel, want.PasswordPolicy = 7, "debug", "classes"
			want.TrustedProxies = []string{"10.0.0.0/8"}
			want.Argon2 = Argon2{Memory: 65536, Time: 3, Threads: 1}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got  %+v\nwant %+v", c, want)
			}
		}},
		{"env overrides file", map[string]string{
			"PORTTI_LOCKOUT_THRESHOLD": "3",
			"PORTTI_LOG_LEVEL":         "error",
			"PORTTI_ARGON2_MEMORY":     "47104",
			"PORTTI_TRUSTED_PROXIES":   "10.0.0.0/8, 192.168.1.1,fd00::/8,",
		}, func(t *testing.T, c Config) {
			if c.LockoutThreshold != 3 || c.LogLevel != "error" || c.Argon2.Memory != 47104 {
				t.Errorf("env did not override: %+v", c)
			}
			if c.Argon2.Time != 3 || c.PasswordPolicy != "classes" || c.Listen != "127.0.0.1:9000" {
				t.Errorf("file values lost: %+v", c)
			}
			want := []string{"10.0.0.0/8", "192.168.1.1", "fd00::/8"}
			if !reflect.DeepEqual(c.TrustedProxies, want) {
				t.Errorf("TrustedProxies = %q, want %q", c.TrustedProxies, want)
			}
		}},
		{"empty env clears a list", map[string]string{"PORTTI_TRUSTED_PROXIES": ""}, func(t *testing.T, c Config) {
			if len(c.TrustedProxies) != 0 {
				t.Errorf("TrustedProxies = %q, want none", c.TrustedProxies)
			}
		}},
		{"env listen re-derives public_url", map[string]string{"PORTTI_LISTEN": "[::1]:7000"}, func(t *testing.T, c Config) {
			if c.PublicURL != "http://[::1]:7000" {
				t.Errorf("PublicURL = %q", c.PublicURL)
			}
		}},
		{"smtp_url turns dev_mail off", map[string]string{
			"PORTTI_SMTP_URL":   "smtp://mail.example.org:587",
			"PORTTI_PUBLIC_URL": "https://id.example.org/",
		}, func(t *testing.T, c Config) {
			if c.DevMail {
				t.Error("DevMail = true with smtp_url set")
			}
			if c.PublicURL != "https://id.example.org" || !c.SecureCookies() {
				t.Errorf("PublicURL = %q, SecureCookies = %v", c.PublicURL, c.SecureCookies())
			}
		}},
		{"explicit dev_mail wins", map[string]string{
			"PORTTI_SMTP_URL": "smtp://mail.example.org:587",
			"PORTTI_DEV_MAIL": "true",
		}, func(t *testing.T, c Config) {
			if !c.DevMail {
				t.Error("DevMail = false, want true")
			}
		}},
		{"password max age", map[string]string{"PORTTI_PASSWORD_MAX_AGE": "2160h"}, func(t *testing.T, c Config) {
			if c.PasswordMaxAge != 90*24*time.Hour {
				t.Errorf("PasswordMaxAge = %s, want 2160h", c.PasswordMaxAge)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(path, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestPasswordPolicyAndMaxAge(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		env        map[string]string
		wantPolicy string
		wantMaxAge time.Duration
		wantErr    string // substring; "" = valid
	}{
		{name: "default", wantPolicy: "nist"},
		{name: "nist from file", file: "password_policy: nist", wantPolicy: "nist"},
		{name: "classes from file", file: "password_policy: classes", wantPolicy: "classes"},
		{name: "classes from env", env: map[string]string{"PORTTI_PASSWORD_POLICY": "classes"}, wantPolicy: "classes"},
		{name: "env beats file", file: "password_policy: classes", env: map[string]string{"PORTTI_PASSWORD_POLICY": "nist"}, wantPolicy: "nist"},
		{name: "unknown policy", env: map[string]string{"PORTTI_PASSWORD_POLICY": "strong"},
			wantErr: `PORTTI_PASSWORD_POLICY (password_policy): must be one of nist, classes, got "strong" [environment]`},
		{name: "policy is case-sensitive", file: "password_policy: NIST",
			wantErr: `PORTTI_PASSWORD_POLICY (password_policy): must be one of nist, classes, got "NIST" [`},
		{name: "max age env 2160h", env: map[string]string{"PORTTI_PASSWORD_MAX_AGE": "2160h"}, wantPolicy: "nist", wantMaxAge: 2160 * time.Hour},
		{name: "max age file 2160h", file: "password_max_age: 2160h", wantPolicy: "nist", wantMaxAge: 2160 * time.Hour},
		{name: "max age 0 in file means never", file: "password_max_age: 0", wantPolicy: "nist"},
		{name: "max age 0 in env means never", file: "password_max_age: 1h", env: map[string]string{"PORTTI_PASSWORD_MAX_AGE": "0"}, wantPolicy: "nist"},
		{name: "max age in days is not a Go duration", env: map[string]string{"PORTTI_PASSWORD_MAX_AGE": "90d"},
			wantErr: `PORTTI_PASSWORD_MAX_AGE (password_max_age): must be a duration such as 30m, 24h or 2160h, got "90d"`},
		{name: "max age negative", file: "password_max_age: -1h",
			wantErr: `PORTTI_PASSWORD_MAX_AGE (password_max_age): must be 0 (never) or a positive duration such as 2160h, got -1h0m0s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeYAML(t, tt.file)
			}
			c, err := Load(path, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v\nwant it to contain %s", err, tt.wantErr)
				}
				if n := len(problemsOf(t, err)); n != 1 {
					t.Errorf("%d problems, want 1: %v", n, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.PasswordPolicy != tt.wantPolicy || c.PasswordMaxAge != tt.wantMaxAge {
				t.Errorf("policy %q max age %s, want %q %s", c.PasswordPolicy, c.PasswordMaxAge, tt.wantPolicy, tt.wantMaxAge)
			}
		})
	}
}

// TestBadValues: every kind of bad value is reported once, naming the key
// both as environment variable and as file key.
func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		key  string
		want string // substring of the problem's String()
	}{
		{"listen not host:port", "", map[string]string{"PORTTI_LISTEN": "8080"}, "listen", `must be host:port`},
		{"listen port out of range", "listen: 127.0.0.1:70000", nil, "listen", `port must be a number from 1 to 65535`},
		{"public listen needs public_url", "", map[string]string{"PORTTI_LISTEN": "0.0.0.0:8080"}, "public_url", `must be set when listen (0.0.0.0:8080) is not on localhost`},
		{"public_url relative", "", map[string]string{"PORTTI_PUBLIC_URL": "/portti"}, "public_url", `must start with https://`},
		{"public_url ftp", "public_url: ftp://example.org", nil, "public_url", `must start with https://`},
		{"public_url plain http on a public host", "", map[string]string{"PORTTI_PUBLIC_URL": "http://id.example.org"}, "public_url", `must use https://`},
		{"public_url with query", "public_url: https://id.example.org/?x=1", nil, "public_url", `must not have a query (?) or fragment (#)`},
		{"public_url with fragment", "public_url: https://id.example.org/#top", nil, "public_url", `must not have a query (?) or fragment (#)`},
		{"public_url with user", "public_url: https://me@id.example.org", nil, "public_url", `must not contain a user name`},
		{"public_url no host", "public_url: https:///path", nil, "public_url", `must be an absolute URL with a host`},
		{"trusted proxy garbage", "trusted_proxies: [10.0.0.0/8, not-an-ip]", nil, "trusted_proxies", `entry "not-an-ip" is not an IP address or CIDR prefix`},
		{"trusted proxy host bits", "", map[string]string{"PORTTI_TRUSTED_PROXIES": "10.1.2.3/8"}, "trusted_proxies", `did you mean 10.0.0.0/8?`},
		{"trusted proxies as mapping", "trusted_proxies: {a: b}", nil, "trusted_proxies", `must be a list`},
		{"database scheme", "", map[string]string{"PORTTI_DATABASE_URL": "mysql://db/portti"}, "database_url", `must be sqlite:PATH or a postgres://`},
		{"database sqlite without path", "database_url: 'sqlite:'", nil, "database_url", `sqlite: needs a file path`},
		{"database sqlite with //", "database_url: sqlite://portti.db", nil, "database_url", `use sqlite:PATH without //`},
		{"key_encryption_key not base64", "", map[string]string{"PORTTI_KEY_ENCRYPTION_KEY": "not base64!"}, "key_encryption_key", `must be 32 random bytes in base64`},
		{"key_encryption_key too short", "key_encryption_key: c2hvcnQ=", nil, "key_encryption_key", `(value not shown, it is a secret)`},
		{"smtp scheme", "", map[string]string{"PORTTI_SMTP_URL": "http://mail.example.org:25"}, "smtp_url", `got scheme "http"`},
		{"smtp without port", "", map[string]string{"PORTTI_SMTP_URL": "smtp://mail.example.org"}, "smtp_url", `needs a port, e.g. smtp://mail.example.org:587`},
		{"smtp with path", "smtp_url: smtp://mail.example.org:25/x", nil, "smtp_url", `must not have a path, query or fragment`},
		{"mail_from not an address", "", map[string]string{"PORTTI_MAIL_FROM": "portti"}, "mail_from", `must be an e-mail address`},
		{"mail_from header injection", "", map[string]string{"PORTTI_MAIL_FROM": "a@b.c\r\nBcc: x@y.z"}, "mail_from", `must be one line`},
		{"dev_mail not a bool", "dev_mail: yes", nil, "dev_mail", `must be true or false, got "yes"`},
		{"dev_mail on a public site", "public_url: https://id.example.org", nil, "dev_mail", `the dev outbox shows every e-mail`},
		{"activation_ttl not a duration", "", map[string]string{"PORTTI_ACTIVATION_TTL": "30"}, "activation_ttl", `must be a duration such as 30m, 24h or 2160h, got "30"`},
		{"recovery_ttl zero", "recovery_ttl: 0s", nil, "recovery_ttl", `must be a positive duration such as 30m or 24h, got 0s`},
		{"email_change_ttl negative", "", map[string]string{"PORTTI_EMAIL_CHANGE_TTL": "-1h"}, "email_change_ttl", `must be a positive duration`},
		{"session_ttl empty env", "", map[string]string{"PORTTI_SESSION_TTL": ""}, "session_ttl", `must be a duration such as 30m, 24h or 2160h, got ""`},
		{"browser session longer than session", "session_ttl: 1h\nbrowser_session_ttl: 2h", nil, "browser_session_ttl", `must not be longer than session_ttl (1h0m0s)`},
		{"lockout_threshold text", "", map[string]string{"PORTTI_LOCKOUT_THRESHOLD": "abc"}, "lockout_threshold",
			`PORTTI_LOCKOUT_THRESHOLD (lockout_threshold): must be a whole number ≥ 1, got "abc" [environment]`},
		{"lockout_threshold zero", "lockout_threshold: 0", nil, "lockout_threshold", `must be a whole number ≥ 1, got "0"`},
		{"lockout_threshold list", "lockout_threshold: [1, 2]", nil, "lockout_threshold", `must be a single value`},
		{"lockout_duration", "", map[string]string{"PORTTI_LOCKOUT_DURATION": "1 day"}, "lockout_duration", `must be a duration`},
		{"throttle_window zero", "throttle_window: 0", nil, "throttle_window", `must be a positive duration`},
		{"throttle_limit float", "throttle_limit: 1.5", nil, "throttle_limit", `must be a whole number ≥ 1, got "1.5"`},
		{"argon2 memory huge", "", map[string]string{"PORTTI_ARGON2_MEMORY": "99999999999"}, "argon2.memory",
			`PORTTI_ARGON2_MEMORY (argon2.memory): must be a whole number from 8 to 4194304, got "99999999999"`},
		{"argon2 memory per thread", "argon2: {memory: 16, threads: 4}", nil, "argon2.memory", `must be at least 8 KiB per thread (32 for argon2.threads 4), got 16`},
		{"argon2 time zero", "argon2:\n  time: 0", nil, "argon2.time", `must be a whole number from 1 to 1000, got "0"`},
		{"argon2 threads over uint8", "", map[string]string{"PORTTI_ARGON2_THREADS": "256"}, "argon2.threads", `must be a whole number from 1 to 255, got "256"`},
		{"argon2 not a section", "argon2: 5", nil, "argon2", `must be a section of keys (memory, time, threads)`},
		{"terms_version empty", "terms_version: ''", nil, "terms_version", `must not be empty`},
		{"log_level", "", map[string]string{"PORTTI_LOG_LEVEL": "verbose"}, "log_level", `must be one of debug, info, warn, error, got "verbose"`},
		{"log_format", "log_format: xml", nil, "log_format", `must be one of text, json, got "xml"`},
		{"duplicate key", "log_format: json\nlog_format: text", nil, "log_format", `given twice in the file (first on line 1)`},
		{"refresh_reuse_grace not a duration", "", map[string]string{"PORTTI_REFRESH_REUSE_GRACE": "5"}, "refresh_reuse_grace", `must be a duration such as 30m, 24h or 2160h, got "5"`},
		{"refresh_reuse_grace negative", "refresh_reuse_grace: -1s", nil, "refresh_reuse_grace", `must be 0s (no grace) or a duration up to 1m0s such as 5s, got -1s`},
		{"refresh_reuse_grace too long", "", map[string]string{"PORTTI_REFRESH_REUSE_GRACE": "10m"}, "refresh_reuse_grace", `up to 1m0s`},
		{"hsts not a duration", "", map[string]string{"PORTTI_HSTS": "yes"}, "hsts", `must be off or a duration such as 8760h (a year), got "yes"`},
		{"hsts negative", "hsts: -1h", nil, "hsts", `must be off, 0s (browsers forget the policy) or a duration of at least 1s`},
		{"hsts under a second", "", map[string]string{"PORTTI_HSTS": "500ms"}, "hsts", `at least 1s such as 8760h, got 500ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeYAML(t, tt.file)
			}
			_, err := Load(path, env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded, want a problem")
			}
			ps := problemsOf(t, err)
			if len(ps) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(ps), err)
			}
			p := ps[0]
			if p.Key != tt.key {
				t.Errorf("problem key %q, want %q", p.Key, tt.key)
			}
			s := p.String()
			prefix := EnvName(tt.key) + " (" + tt.key + "): "
			if !strings.HasPrefix(s, prefix) {
				t.Errorf("problem %q does not start with %q", s, prefix)
			}
			if !strings.Contains(s, tt.want) {
				t.Errorf("problem %q\nwant it to contain %q", s, tt.want)
			}
			wantSource := "environment"
			if tt.env == nil {
				wantSource = path + ":"
			}
			if tt.key != "dev_mail" && !strings.Contains(p.Source, wantSource) {
				t.Errorf("source %q, want it to contain %q", p.Source, wantSource)
			}
		})
	}
}

func TestSecretsNotShown(t *testing.T) {
	tests := map[string]string{
		"PORTTI_DATABASE_URL": "mysql://root:sup3rs3cret@db/portti",
		"PORTTI_SMTP_URL":     "smtp://user:sup3rs3cret@mail.example.org",
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load("", env(map[string]string{name: value}))
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), "sup3rs3cret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	t.Run("unparsable URL", func(t *testing.T) {
		_, err := Load("", env(map[string]string{"PORTTI_SMTP_URL": "smtp://user:sup3rs3cret@[::1"}))
		if err == nil || strings.Contains(err.Error(), "sup3rs3cret") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestAllProblemsAtOnce(t *testing.T) {
	path := writeYAML(t, `
listen: nonsense
lockout_threshold: -2
argon2:
  threads: 0
  memroy: 1
log_format: yaml
colour: blue
`)
	_, err := Load(path, env(map[string]string{
		"PORTTI_LOCKOUT_THRESHOLD": "abc", // env and file both bad: both reported
		"PORTTI_ACTIVATION_TTL":    "soon",
		"PORTTI_RECOVERY_TTL":      "0s",
		"PORTTI_PASSWORD_POLICY":   "weak",
		"PORTTI_DATABASE_URL":      "",
	}))
	ps := problemsOf(t, err)

	wantKeys := []string{
		"listen",            // validate
		"lockout_threshold", // file
		"argon2.threads",    // file
		"",                  // argon2.memroy unknown
		"",                  // colour unknown
		"lockout_threshold", // env
		"activation_ttl",    // env
		"recovery_ttl",      // validate
		"password_policy",   // validate
		"database_url",      // validate
		"log_format",        // validate
	}
	if len(ps) != len(wantKeys) {
		t.Fatalf("%d problems, want %d:\n%v", len(ps), len(wantKeys), err)
	}
	count := map[string]int{}
	for _, p := range ps {
		count[p.Key]++
	}
	for _, k := range wantKeys {
		if count[k] == 0 {
			t.Errorf("no problem for %q", k)
		}
		count[k]--
	}

	msg := err.Error()
	lines := strings.Split(msg, "\n")
	if len(lines) != len(ps)+1 {
		t.Errorf("error has %d lines, want a header and one per problem:\n%s", len(lines), msg)
	}
	for _, want := range []string{
		"invalid configuration (11 problems):",
		`PORTTI_LOCKOUT_THRESHOLD (lockout_threshold): must be a whole number ≥ 1, got "abc" [environment]`,
		`PORTTI_LOCKOUT_THRESHOLD (lockout_threshold): must be a whole number ≥ 1, got "-2" [` + path + `:3]`,
		`unknown key "argon2.memroy" (did you mean "argon2.memory"?) [` + path + `:6]`,
		`unknown key "colour" [` + path + `:8]`,
		`PORTTI_LOG_FORMAT (log_format): must be one of text, json, got "yaml" [` + path + `:7]`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestFileStructure(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantErr  string // "" = loads fine
		problems int
	}{
		{name: "empty file", file: ""},
		{name: "only comments", file: "# nothing here\n"},
		{name: "null document", file: "~\n"},
		{name: "null values keep defaults of strings empty", file: "smtp_url:\nargon2:\n"},
		{name: "unknown top-level key", file: "listen: 127.0.0.1:8080\nlockout_treshold: 3\n",
			wantErr: `unknown key "lockout_treshold" (did you mean "lockout_threshold"?)`, problems: 1},
		{name: "unknown nested key", file: "argon2:\n  parallelism: 2\n", wantErr: `unknown key "argon2.parallelism"`, problems: 1},
		{name: "far-off unknown key gets no guess", file: "frobnicate: true\n", wantErr: `unknown key "frobnicate" [`, problems: 1},
		{name: "top level is a list", file: "- listen\n", wantErr: "the top level must be a mapping", problems: 1},
		{name: "syntax error", file: "listen: [\n", wantErr: "yaml:", problems: 1},
		{name: "two documents", file: "listen: 127.0.0.1:8080\n---\nlisten: 127.0.0.1:9090\n", wantErr: "single YAML document", problems: 1},
		{name: "anchors and aliases", file: "x-ttl: &ttl 45m\nactivation_ttl: *ttl\n", wantErr: `unknown key "x-ttl"`, problems: 1},
		{name: "scalar list of proxies", file: "trusted_proxies: 10.0.0.0/8,192.168.0.0/16\n"},
		{name: "quoted numbers", file: "lockout_threshold: \"8\"\nargon2: {memory: '65536'}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeYAML(t, tt.file), env(nil))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.wantErr)
			}
			if n := len(problemsOf(t, err)); n != tt.problems {
				t.Errorf("%d problems, want %d: %v", n, tt.problems, err)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want ErrNotExist", err)
		}
	})
}

func TestPublicURLDerivation(t *testing.T) {
	tests := []struct {
		listen, public string
		want           string
		secure         bool
	}{
		{"127.0.0.1:8080", "", "http://127.0.0.1:8080", false},
		{"localhost:3000", "", "http://localhost:3000", false},
		{"[::1]:8080", "", "http://[::1]:8080", false},
		{"0.0.0.0:8080", "http://localhost:8080/", "http://localhost:8080", false},
		{"0.0.0.0:8080", "https://id.example.org/sub/", "https://id.example.org/sub", true},
		{"127.0.0.1:8080", "https://localhost:8443", "https://localhost:8443", true},
	}
	for _, tt := range tests {
		t.Run(tt.listen+" "+tt.public, func(t *testing.T) {
			m := map[string]string{"PORTTI_LISTEN": tt.listen, "PORTTI_SMTP_URL": "smtp://mail.example.org:25"}
			if tt.public != "" {
				m["PORTTI_PUBLIC_URL"] = tt.public
			}
			c, err := Load("", env(m))
			if err != nil {
				t.Fatal(err)
			}
			if c.PublicURL != tt.want || c.SecureCookies() != tt.secure {
				t.Errorf("PublicURL %q SecureCookies %v, want %q %v", c.PublicURL, c.SecureCookies(), tt.want, tt.secure)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	t.Run("Dialect", func(t *testing.T) {
		for in, want := range map[string]string{
			"sqlite:portti.db":             "sqlite",
			"sqlite::memory:":              "sqlite",
			"postgres://u@h/db":            "postgres",
			"postgresql:///db?host=/run":   "postgres",
			"POSTGRES://h/db":              "postgres",
			"mysql://h/db":                 "",
			"":                             "",
			"portti-data/portti.db":        "",
			"sqlite-but-not-really://x.db": "",
		} {
			if got := (Config{DatabaseURL: in}).Dialect(); got != want {
				t.Errorf("Dialect(%q) = %q, want %q", in, got, want)
			}
		}
	})
	t.Run("SecureCookies", func(t *testing.T) {
		for in, want := range map[string]bool{
			"http://localhost:8080":  false,
			"http://LOCALHOST":       false,
			"http://127.0.0.1:8080":  false,
			"http://[::1]:8080":      false,
			"https://localhost:8443": true,
			"https://id.example.org": true,
			"http://id.example.org":  true,
			"":                       true,
		} {
			if got := (Config{PublicURL: in}).SecureCookies(); got != want {
				t.Errorf("SecureCookies(%q) = %v, want %v", in, got, want)
			}
		}
	})
	t.Run("TrustedProxyPrefixes", func(t *testing.T) {
		c := Config{TrustedProxies: []string{"10.0.0.0/8", "192.168.1.1", "2001:db8::1", "fd00::/8", "::ffff:10.1.1.1", "junk"}}
		var got []string
		for _, p := range c.TrustedProxyPrefixes() {
			got = append(got, p.String())
		}
		want := []string{"10.0.0.0/8", "192.168.1.1/32", "2001:db8::1/128", "fd00::/8", "10.1.1.1/32"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
		if p := c.TrustedProxyPrefixes()[1]; !p.Contains(netip.MustParseAddr("192.168.1.1")) {
			t.Errorf("%v does not contain 192.168.1.1", p)
		}
	})
}

// TestValidateZeroConfig: Validate works on a Config built by hand and
// reports everything wrong with the zero value, one problem per key.
func TestValidateZeroConfig(t *testing.T) {
	err := Config{}.Validate()
	ps := problemsOf(t, err)
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Key] {
			t.Errorf("key %q reported twice", p.Key)
		}
		seen[p.Key] = true
	}
	// Everything except the keys whose zero value is fine (and public_url,
	// which is not reported on top of a broken listen).
	fine := map[string]bool{"trusted_proxies": true, "key_encryption_key": true, "smtp_url": true, "dev_mail": true, "password_max_age": true, "public_url": true, "support_contact": true, "clients": true, "proofing.providers": true, "federation.providers": true,
		"terms_url": true, "privacy_url": true,
		"refresh_reuse_grace": true, "hsts": true, // 0s: no grace; max-age=0
		"mfa.required_domains": true, "mfa.optional_domains": true, "mfa.remember_browser": true, "mfa.enrolment_grace": true,
		// Every SAML key's zero value means its default (saml.go).
		"saml.entity_id": true, "saml.scope": true, "saml.home_organization": true, "saml.home_organization_type": true,
		"saml.key_bits": true, "saml.default_release": true, "saml.idp_initiated": true, "saml.service_providers": true,
		"saml.aggregates": true, "saml.aggregate_refresh": true,
		"provision.user_types": true, "provision.registry_only": true, "mfa.required_types": true, "mfa.optional_types": true,
		"provision.registry_delay_text": true, "provision.username_formats": true,
		"provision.csv_columns": true, "provision.grace_days": true, "provision.retention_days": true, "provision.end_notice_days": true}
	for _, s := range settings {
		if !fine[s.key] && !seen[s.key] {
			t.Errorf("zero %s not reported", s.key)
		}
	}
	if len(ps) != len(settings)-len(fine) {
		t.Errorf("%d problems, want %d:\n%v", len(ps), len(settings)-len(fine), err)
	}
}

// TestMarshalRoundTrip: a Config written with yaml.Marshal loads back.
func TestMarshalRoundTrip(t *testing.T) {
	want, err := Load("testdata/portti.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{"default": Default(), "testdata": want} {
		t.Run(name, func(t *testing.T) {
			data, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(writeYAML(t, string(data)), env(nil))
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("got  %+v\nwant %+v", got, c)
			}
		})
	}
}

func TestKeyEncryptionKey(t *testing.T) {
	const std = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // bytes 0..31
	for _, v := range []string{std, strings.TrimRight(std, "="), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"} {
		c, err := Load("", env(map[string]string{"PORTTI_KEY_ENCRYPTION_KEY": v}))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		b := c.KeyEncryptionKeyBytes()
		if len(b) != 32 || b[0] != 0 || b[31] != 31 {
			t.Errorf("%q decodes to %x", v, b)
		}
	}
	// The value never appears in a problem: it is a secret.
	const bad = "c2VjcmV0LWJ1dC10b28tc2hvcnQ="
	_, err := Load("", env(map[string]string{"PORTTI_KEY_ENCRYPTION_KEY": bad}))
	if err == nil || strings.Contains(err.Error(), bad) {
		t.Fatalf("error %v", err)
	}
	if Default().KeyEncryptionKeyBytes() != nil {
		t.Error("default has a key")
	}
}

// TestStrictTransportSecurity: the header is sent only for an https
// public URL, with the configured max-age in seconds; off sends none, and
// 0s sends max-age=0 (RFC 6797 6.1.1: the browser forgets the host).
func TestStrictTransportSecurity(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"https default", map[string]string{"PORTTI_PUBLIC_URL": "https://id.example.org", "PORTTI_SMTP_URL": "smtp://mail:25"}, "max-age=31536000; includeSubDomains"},
		{"https with a path", map[string]string{"PORTTI_PUBLIC_URL": "https://example.org/id", "PORTTI_SMTP_URL": "smtp://mail:25", "PORTTI_HSTS": "720h"}, "max-age=2592000; includeSubDomains"},
		{"https off", map[string]string{"PORTTI_PUBLIC_URL": "https://id.example.org", "PORTTI_SMTP_URL": "smtp://mail:25", "PORTTI_HSTS": "off"}, ""},
		{"https forget", map[string]string{"PORTTI_PUBLIC_URL": "https://id.example.org", "PORTTI_SMTP_URL": "smtp://mail:25", "PORTTI_HSTS": "0s"}, "max-age=0; includeSubDomains"},
		{"plain http", map[string]string{"PORTTI_PUBLIC_URL": "http://localhost:8080"}, ""},
		{"plain http, set", map[string]string{"PORTTI_HSTS": "8760h"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.StrictTransportSecurity(); got != tt.want {
				t.Errorf("StrictTransportSecurity() = %q, want %q", got, tt.want)
			}
		})
	}
	// "off" survives a round trip through YAML.
	c := Default()
	c.HSTS = HSTSOff
	data, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(writeYAML(t, string(data)), env(nil))
	if err != nil || got.HSTS != HSTSOff {
		t.Errorf("round trip of hsts: off: %v %v", got.HSTS, err)
	}
}

// TestAccessPassTTL: the pass's validity is read from the file or the
// environment and bounded.
func TestAccessPassTTL(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil || c.Helpdesk.AccessPassTTL != 8*time.Hour {
		t.Fatalf("default: %v %v", c.Helpdesk.AccessPassTTL, err)
	}
	c, err = Load("", env(map[string]string{"PORTTI_HELPDESK_ACCESS_PASS_TTL": "24h"}))
	if err != nil || c.Helpdesk.AccessPassTTL != 24*time.Hour {
		t.Fatalf("from env: %v %v", c.Helpdesk.AccessPassTTL, err)
	}
	for _, bad := range []string{"73h", "0", "-1h", "30s", "a day"} {
		if _, err := Load("", env(map[string]string{"PORTTI_HELPDESK_ACCESS_PASS_TTL": bad})); err == nil || !strings.Contains(err.Error(), "helpdesk.access_pass_ttl") {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}

// TestGuestsSettings: the invitation link's validity and the longest
// guest account come from the file or the environment, within bounds.
func TestGuestsSettings(t *testing.T) {
	c, err := Load("", env(map[string]string{"PORTTI_GUESTS_LINK_TTL": "72h", "PORTTI_GUESTS_MAX_DURATION": "2160h"}))
	if err != nil || c.Guests.LinkTTL != 72*time.Hour || c.Guests.MaxDuration != 2160*time.Hour {
		t.Fatalf("from env: %+v %v", c.Guests, err)
	}
	for key, bad := range map[string]string{"PORTTI_GUESTS_LINK_TTL": "10m", "PORTTI_GUESTS_MAX_DURATION": "50000h"} {
		if _, err := Load("", env(map[string]string{key: bad})); err == nil || !strings.Contains(err.Error(), "guests.") {
			t.Errorf("%s=%s: %v", key, bad, err)
		}
	}
}
