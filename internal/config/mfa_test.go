package config

import (
	"strings"
	"testing"
	"time"
)

func TestMFASettings(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		env      map[string]string
		want     MFA
		wantErr  string
		problems int
	}{
		{name: "default", want: MFA{Policy: MFAOptional}},
		{name: "required from env", env: map[string]string{"PORTTI_MFA_POLICY": "required"}, want: MFA{Policy: MFARequired}},
		{name: "domains from file", file: "mfa:\n  policy: optional\n  required_domains: ['*@example.fi', '*@student.example.fi']\n  optional_domains: ['*@external.example.fi']\n",
			want: MFA{Policy: MFAOptional, RequiredDomains: []string{"*@example.fi", "*@student.example.fi"}, OptionalDomains: []string{"*@external.example.fi"}}},
		{name: "domains from env", env: map[string]string{"PORTTI_MFA_REQUIRED_DOMAINS": "*@example.fi, *@*.example.fi"},
			want: MFA{Policy: MFAOptional, RequiredDomains: []string{"*@example.fi", "*@*.example.fi"}}},
		{name: "bad policy stops start-up", env: map[string]string{"PORTTI_MFA_POLICY": "always"},
			wantErr: `PORTTI_MFA_POLICY (mfa.policy): must be one of optional, required, got "always"`, problems: 1},
		{name: "bad patterns, each named", file: "mfa:\n  required_domains: [example.fi, '*@ok.fi']\n  optional_domains: ['a*@x.fi']\n",
			wantErr: `mfa.required_domains`, problems: 2},
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
				if n := len(problemsOf(t, err)); n != tt.problems {
					t.Errorf("%d problems, want %d: %v", n, tt.problems, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MFA.Policy != tt.want.Policy || strings.Join(c.MFA.RequiredDomains, ",") != strings.Join(tt.want.RequiredDomains, ",") ||
				strings.Join(c.MFA.OptionalDomains, ",") != strings.Join(tt.want.OptionalDomains, ",") {
				t.Errorf("MFA = %+v, want %+v", c.MFA, tt.want)
			}
		})
	}
}

func TestClientRequireMFA(t *testing.T) {
	c, err := Load(writeYAML(t, "clients:\n  - id: strict\n    redirect_uris: [https://strict.example.org/cb]\n    public: true\n    require_mfa: true\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clients) != 1 || !c.Clients[0].RequireMFA || !c.Clients[0].Spec().RequireMFA {
		t.Fatalf("clients: %+v", c.Clients)
	}
}

// TestMFARememberBrowserAndACR: mfa.remember_browser and the acr names
// load from the environment and the file, and bad values stop start-up.
func TestMFARememberBrowserAndACR(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MFA.RememberBrowser != 0 || c.MFA.ACRMFA != "https://refeds.org/profile/mfa" || c.MFA.ACRPassword != "https://refeds.org/profile/sfa" {
		t.Fatalf("defaults: %+v", c.MFA)
	}
	c, err = Load("", env(map[string]string{"PORTTI_MFA_REMEMBER_BROWSER": "720h"}))
	if err != nil || c.MFA.RememberBrowser != 720*time.Hour {
		t.Fatalf("from env: %v %v", c.MFA.RememberBrowser, err)
	}
	c, err = Load("", env(map[string]string{"PORTTI_MFA_ENROLMENT_GRACE": "336h"}))
	if err != nil || c.MFA.EnrolmentGrace != 336*time.Hour {
		t.Fatalf("enrolment grace from env: %v %v", c.MFA.EnrolmentGrace, err)
	}
	c, err = Load(writeYAML(t, "mfa:\n  remember_browser: 168h\n  acr_mfa: urn:example:mfa\n  acr_password: urn:example:pwd\n"), env(nil))
	if err != nil || c.MFA.RememberBrowser != 168*time.Hour || c.MFA.ACRMFA != "urn:example:mfa" || c.MFA.ACRPassword != "urn:example:pwd" {
		t.Fatalf("from file: %+v %v", c.MFA, err)
	}
	for _, bad := range []struct{ env map[string]string }{
		{map[string]string{"PORTTI_MFA_REMEMBER_BROWSER": "30 days"}},
		{map[string]string{"PORTTI_MFA_REMEMBER_BROWSER": "-1h"}},
		{map[string]string{"PORTTI_MFA_REMEMBER_BROWSER": "9000h"}},
		{map[string]string{"PORTTI_MFA_ACR_MFA": ""}},
		{map[string]string{"PORTTI_MFA_ENROLMENT_GRACE": "2 weeks"}},
		{map[string]string{"PORTTI_MFA_ENROLMENT_GRACE": "-24h"}},
		{map[string]string{"PORTTI_MFA_ACR_MFA": "two words"}},
		{map[string]string{"PORTTI_MFA_ACR_PASSWORD": "https://refeds.org/profile/mfa"}},
	} {
		if _, err := Load("", env(bad.env)); err == nil {
			t.Errorf("%v: start-up not stopped", bad.env)
		} else if n := len(problemsOf(t, err)); n != 1 {
			t.Errorf("%v: %d problems: %v", bad.env, n, err)
		}
	}
}

// TestProvisionUserTypes: TYPE=PATTERN entries become rules in order;
// malformed ones are reported under their key.
func TestProvisionUserTypes(t *testing.T) {
	c := Default()
	c.Provision.UserTypes = []string{"student=*@student.example.fi", "staff = *@example.fi"}
	rules := c.UserTypeRules()
	if len(rules) != 2 || rules[0].Type != "student" || rules[1].Type != "staff" || rules[1].Domains[0] != "*@example.fi" {
		t.Fatalf("rules = %+v", rules)
	}
	for _, bad := range []string{"student", "Student=*@example.fi", "student=example.fi", "=*@example.fi"} {
		c.Provision.UserTypes = []string{bad}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "provision.user_types") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
