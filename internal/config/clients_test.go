package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/portti/portti/internal/secret"
)

const (
	// testSecret is what a confidential client's secret_env holds.
	testSecret = "0123456789abcdef0123456789abcdef-secret"
	// testHash is some valid secret_sha256 (of "test").
	testHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

// TestClientKeysCoverClient keeps the clients entry table and the Client
// struct in step, as TestSettingsCoverConfig does for Config.
func TestClientKeysCoverClient(t *testing.T) {
	var fields []string
	for f := range reflect.TypeFor[Client]().Fields() {
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			t.Errorf("field %s has no yaml tag", f.Name)
		}
		fields = append(fields, tag)
	}
	var table []string
	for _, k := range clientKeys {
		n := 0
		for _, set := range []bool{k.str != nil, k.list != nil, k.flag != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Errorf("client key %s has %d kinds, want 1", k.key, n)
		}
		table = append(table, k.key)
	}
	if !reflect.DeepEqual(fields, table) {
		t.Errorf("Client yaml keys:\n  %v\nclientKeys (same order expected):\n  %v", fields, table)
	}
}

func TestClientsGood(t *testing.T) {
	path := writeYAML(t, `
clients:
  - id: moodle
    name: Moodle
    redirect_uris: [https://moodle.example.org/cb]
    post_logout_redirect_uris: [https://moodle.example.org/]
    grants: [authorization_code, refresh_token, client_credentials]
    secret_sha256: `+strings.ToUpper(testHash)+`
    backchannel_logout_uri: https://moodle.example.org/logout
    allowed_networks: [10.0.0.0/8]
    third_party: true
    id_token_alg: ES256
  - id: app
    public: true
    redirect_uris: fi.example.app:/cb
  - id: svc
    grants: client_credentials
    secret_env: SVC_SECRET
  - id: no-lists
    public: true
    redirect_uris: http://127.0.0.1:8765/cb
    grants:
    allowed_networks: []
  - id: grades-api
    resource_server: https://api.example.fi/grades
    resource_scopes: [grades:read, grades:write]
    secret_env: SVC_SECRET
`)
	c, err := Load(path, env(map[string]string{"SVC_SECRET": testSecret}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clients) != 5 {
		t.Fatalf("%d clients, want 5: %+v", len(c.Clients), c.Clients)
	}
	if api := c.Clients[4].Spec(); api.ResourceServer != "https://api.example.fi/grades" ||
		!reflect.DeepEqual(api.ResourceScopes, []string{"grades:read", "grades:write"}) || len(api.GrantTypes) != 0 {
		t.Errorf("resource server: %+v", api)
	}
	m, app, svc := c.Clients[0], c.Clients[1], c.Clients[2]
	if m.SecretHash() != testHash || !m.ThirdParty || m.IDTokenAlg != "ES256" || len(m.Grants) != 3 {
		t.Errorf("moodle: %+v (hash %q)", m, m.SecretHash())
	}
	if !app.Public || app.SecretHash() != "" || !reflect.DeepEqual(app.RedirectURIs, []string{"fi.example.app:/cb"}) {
		t.Errorf("app: %+v", app)
	}
	if svc.SecretHash() != secret.Hash(testSecret) || !reflect.DeepEqual(svc.Grants, []string{"client_credentials"}) {
		t.Errorf("svc: %+v (hash %q)", svc, svc.SecretHash())
	}
	if l := c.Clients[3]; l.Grants != nil || l.AllowedNetworks != nil {
		t.Errorf("empty lists: %#v", l)
	}
	// Only the hash of secret_env's value is kept.
	if s := fmt.Sprintf("%#v", c); strings.Contains(s, testSecret) {
		t.Errorf("the loaded config holds the secret: %s", s)
	}
	specs := c.ClientSpecs()
	if len(specs) != 5 || specs[2].SecretHash != secret.Hash(testSecret) || specs[2].Secret != "" || specs[0].GrantTypes[2] != "client_credentials" {
		t.Errorf("specs: %+v", specs)
	}
	for i, s := range specs {
		if ps := s.Validate(); len(ps) != 0 {
			t.Errorf("spec %d: %v", i, ps)
		}
	}

	for _, file := range []string{"clients:\n", "clients: []\n"} {
		c, err := Load(writeYAML(t, file), env(nil))
		if err != nil || c.Clients != nil {
			t.Errorf("%q: %v, clients %#v", file, err, c.Clients)
		}
	}
}

// TestClientsBad: each bad entry is one problem, named by its path and
// the line it is on.
func TestClientsBad(t *testing.T) {
	const web = "redirect_uris: [https://app.example.org/cb]"
	const conf = "secret_sha256: " + testHash
	tests := []struct {
		name  string
		entry string // the keys of one entry, one per line
		env   map[string]string
		key   string
		line  int // of the problem's source, counting the "clients:" line as 1
		want  string
	}{
		{"no id", "name: X\n" + web + "\n" + conf, nil, "clients[0].id", 0, `client ID ""`},
		{"bad id", "id: a b\n" + web + "\n" + conf, nil, "clients[0].id", 2, `client ID "a b" must be`},
		{"long name", "id: a\nname: " + strings.Repeat("x", 201) + "\n" + web + "\n" + conf, nil, "clients[0].name", 3, "at most 200"},
		{"no redirect", "id: a\n" + conf, nil, "clients[0].redirect_uris", 2, "give at least one"},
		{"http redirect", "id: a\nredirect_uris:\n  - https://app.example.org/ok\n  - http://app.example.org/cb\n" + conf, nil,
			"clients[0].redirect_uris[1]", 5, `redirect URI "http://app.example.org/cb": must use https://`},
		{"redirect fragment", "id: a\nredirect_uris: https://app.example.org/cb#x\n" + conf, nil, "clients[0].redirect_uris[0]", 3, "fragment"},
		{"custom scheme confidential", "id: a\nredirect_uris: [fi.example.app:/cb]\n" + conf, nil, "clients[0].redirect_uris[0]", 3, "public: true"},
		{"redirect is a mapping", "id: a\nredirect_uris: {a: b}\n" + conf, nil, "clients[0].redirect_uris", 3, "must be a list"},
		{"redirect item is a list", "id: a\nredirect_uris: [[https://app.example.org/cb]]\n" + conf, nil, "clients[0].redirect_uris[0]", 3, "single value"},
		{"post-logout", "id: a\n" + web + "\npost_logout_redirect_uris: [/bye]\n" + conf, nil, "clients[0].post_logout_redirect_uris[0]", 4, "absolute"},
		{"grant", "id: a\n" + web + "\ngrants: [authorization_code, password]\n" + conf, nil, "clients[0].grants[1]", 4, `grant type "password"`},
		{"refresh alone", "id: a\ngrants: refresh_token\n" + conf, nil, "clients[0].grants", 3, "needs authorization_code"},
		{"public client_credentials", "id: a\npublic: true\ngrants: [client_credentials]", nil, "clients[0].grants", 4, "public client cannot"},
		{"public not a bool", "id: a\npublic: maybe\n" + web + "\n" + conf, nil, "clients[0].public", 3, `must be true or false, got "maybe"`},
		{"third_party list", "id: a\nthird_party: [true]\n" + web + "\n" + conf, nil, "clients[0].third_party", 3, "single value"},
		{"public with a secret", "id: a\npublic: true\n" + web + "\n" + conf, nil, "clients[0].secret_sha256", 5, "a public client has no secret"},
		{"confidential without a secret", "id: a\n" + web, nil, "clients[0]", 2, `secret_sha256 (the SHA-256 of its secret: printf %s "$SECRET" | sha256sum) or secret_env`},
		{"both secrets", "id: a\n" + web + "\n" + conf + "\nsecret_env: S", map[string]string{"S": testSecret}, "clients[0].secret_env", 5, "not both"},
		{"hash not hex", "id: a\n" + web + "\nsecret_sha256: " + testHash + "  -", nil, "clients[0].secret_sha256", 4, "64 hexadecimal digits"},
		{"hash of nothing", "id: a\n" + web + "\nsecret_sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", nil,
			"clients[0].secret_sha256", 4, "SHA-256 of an empty secret"},
		{"secret_env missing", "id: a\n" + web + "\nsecret_env: APP_SECRET", nil, "clients[0].secret_env", 4, "environment variable APP_SECRET is not set"},
		{"secret_env empty", "id: a\n" + web + "\nsecret_env: APP_SECRET", map[string]string{"APP_SECRET": ""}, "clients[0].secret_env", 4, "is not set or is empty"},
		{"secret_env short", "id: a\n" + web + "\nsecret_env: APP_SECRET", map[string]string{"APP_SECRET": "hunter2"}, "clients[0].secret_env", 4,
			"the value of APP_SECRET: the secret must be at least 32"},
		{"secret_env bad name", "id: a\n" + web + "\nsecret_env: $APP_SECRET", nil, "clients[0].secret_env", 4, "must name an environment variable"},
		{"backchannel http", "id: a\n" + web + "\n" + conf + "\nbackchannel_logout_uri: http://app.example.org/bcl", nil, "clients[0].backchannel_logout_uri", 5, "back-channel"},
		{"network", "id: a\n" + web + "\n" + conf + "\nallowed_networks: [10.0.0.0/8, campus]", nil, "clients[0].allowed_networks[1]", 5, `"campus" is not a CIDR`},
		{"network host bits", "id: a\n" + web + "\n" + conf + "\nallowed_networks:\n  - 10.1.2.3/8", nil, "clients[0].allowed_networks[0]", 6, "did you mean 10.0.0.0/8"},
		{"alg", "id: a\n" + web + "\n" + conf + "\nid_token_alg: HS256", nil, "clients[0].id_token_alg", 5, `"HS256" is not RS256 or ES256`},
		{"unknown key", "id: a\n" + web + "\n" + conf + "\nredirect_uri: https://app.example.org/cb", nil, "clients[0].redirect_uri", 5,
			`unknown key (did you mean "redirect_uris"?); a client has id, name, redirect_uris`},
		{"key twice", "id: a\n" + web + "\n" + conf + "\nid: b", nil, "clients[0].id", 5, "given twice in this client (first on line 2)"},
		{"entry not a mapping", "", nil, "clients[0]", 2, "must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "clients:\n  - " + strings.ReplaceAll(tt.entry, "\n", "\n    ") + "\n"
			if tt.entry == "" {
				file = "clients:\n  - just-an-id\n"
			}
			path := writeYAML(t, file)
			_, err := Load(path, env(tt.env))
			if err == nil {
				t.Fatalf("Load succeeded, want a problem:\n%s", file)
			}
			ps := problemsOf(t, err)
			if len(ps) != 1 {
				t.Fatalf("%d problems, want 1:\n%v\n%s", len(ps), err, file)
			}
			p := ps[0]
			if p.Key != tt.key {
				t.Errorf("key %q, want %q", p.Key, tt.key)
			}
			s := p.String()
			if !strings.HasPrefix(s, tt.key+": ") || !strings.Contains(s, tt.want) {
				t.Errorf("problem %q\nwant it to start with %q and contain %q", s, tt.key+": ", tt.want)
			}
			if p.Env() != "" || strings.Contains(s, "PORTTI_") {
				t.Errorf("problem names an environment variable: %q", s)
			}
			if tt.line == 0 {
				tt.line = 2 // the entry
			}
			if want := fmt.Sprintf("%s:%d", path, tt.line); p.Source != want {
				t.Errorf("source %q, want %q", p.Source, want)
			}
		})
	}
}

// TestClientsAllProblemsAtOnce: every problem in every entry, with the
// rest of the file's, in one error; duplicate IDs are one of them.
func TestClientsAllProblemsAtOnce(t *testing.T) {
	path := writeYAML(t, `
lockout_threshold: 0
clients:
  - id: moodle
    redirect_uris: [https://moodle.example.org/cb]
    secret_sha256: `+testHash+`
  - id: wiki
    redirect_uris:
      - https://wiki.example.org/cb
      - http://wiki.example.org/cb
    grants: [authorization_code, implicit]
    secret_env: WIKI_SECRET
  - id: moodle
    public: true
    redirect_uris: [fi.example.app:/cb]
  - 42
  - id: svc
    grants: [client_credentials]
`)
	_, err := Load(path, env(nil))
	ps := problemsOf(t, err)
	want := map[string]string{
		"lockout_threshold":           `must be a whole number ≥ 1, got "0"`,
		"clients[1].redirect_uris[1]": `clients[1].redirect_uris[1]: redirect URI "http://wiki.example.org/cb": must use https:// (http:// only for localhost, 127.0.0.1 or [::1]) [` + path + `:10]`,
		"clients[1].grants[1]":        `clients[1].grants[1]: grant type "implicit" is not one of`,
		"clients[1].secret_env":       `clients[1].secret_env: environment variable WIKI_SECRET is not set`,
		"clients[2].id":               `clients[2].id: client ID "moodle" is already the ID of clients[0]`,
		"clients[3]":                  `clients[3]: must be a mapping of keys such as id: and redirect_uris: [` + path + `:16]`,
		"clients[4]":                  `clients[4]: a confidential client needs secret_sha256`,
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for _, p := range ps {
		w, ok := want[p.Key]
		if !ok {
			t.Errorf("unexpected problem %q", p)
			continue
		}
		if !strings.Contains(p.String(), w) {
			t.Errorf("problem %q\nwant it to contain %q", p, w)
		}
	}
}

func TestClientsNotFromEnvironment(t *testing.T) {
	for _, v := range []string{"[{id: a}]", ""} {
		_, err := Load("", env(map[string]string{"PORTTI_CLIENTS": v}))
		ps := problemsOf(t, err)
		if len(ps) != 1 || ps[0].Key != "clients" || ps[0].Source != "environment" {
			t.Fatalf("PORTTI_CLIENTS=%q: %v", v, err)
		}
		for _, want := range []string{"PORTTI_CLIENTS is set", "only be given in the configuration file", "no environment-variable form"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
	}
	// Refusing the variable does not hide the file's own problems.
	_, err := Load(writeYAML(t, "clients:\n  - {id: app, public: true, redirect_uris: [http://app.example.org/cb]}\n"),
		env(map[string]string{"PORTTI_CLIENTS": "x"}))
	if ps := problemsOf(t, err); len(ps) != 2 || ps[1].Key != "clients[0].redirect_uris[0]" {
		t.Errorf("file and variable both wrong: %v", err)
	}
	// The list in a file is not touched by other variables.
	c, err := Load(writeYAML(t, "clients:\n  - {id: app, public: true, redirect_uris: [fi.example.app:/cb]}\n"),
		env(map[string]string{"PORTTI_LOG_LEVEL": "debug"}))
	if err != nil || len(c.Clients) != 1 || c.LogLevel != "debug" {
		t.Errorf("%v %+v", err, c)
	}
}

func TestClientsNotAList(t *testing.T) {
	_, err := Load(writeYAML(t, "clients:\n  id: a\n"), env(nil))
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Key != "clients" || !strings.Contains(ps[0].Message, "must be a list of clients") {
		t.Errorf("%v", err)
	}
}

// TestValidateClientsByHand: Validate checks a Config built in code; a
// secret_env not read by Load counts as unset.
func TestValidateClientsByHand(t *testing.T) {
	c := Default()
	c.Clients = []Client{
		{ID: "a", RedirectURIs: []string{"https://a.example.org/cb"}, SecretSHA256: testHash},
		{ID: "b", RedirectURIs: []string{"https://b.example.org/cb"}, SecretEnv: "B_SECRET"},
	}
	err := c.Validate()
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Key != "clients[1].secret_env" {
		t.Errorf("%v", err)
	}
	c.Clients = c.Clients[:1]
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestChangedKeys(t *testing.T) {
	a := Default()
	b := a
	if got := ChangedKeys(a, b); len(got) != 0 {
		t.Errorf("same config: %v", got)
	}
	b.LockoutThreshold = 9
	b.Argon2.Memory = 47104
	b.TrustedProxies = []string{"10.0.0.0/8"}
	b.Clients = []Client{{ID: "x"}}
	want := []string{"trusted_proxies", "lockout_threshold", "argon2.memory", "clients"}
	if got := ChangedKeys(a, b); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
