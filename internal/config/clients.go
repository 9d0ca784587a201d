package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/secret"
)

// The clients list: a YAML sequence of mappings, one per application.
// Each entry is read key by key against clientKeys, as the top level is
// against settings, so unknown and duplicate keys are reported with their
// line. Problems are keyed by path: "clients[1].redirect_uris[0]".

// clientKey is one key of a clients entry; exactly one of str, list and
// flag is set.
type clientKey struct {
	key  string
	str  func(*Client) *string
	list func(*Client) *[]string // a YAML list, or one value for a list of one
	flag func(*Client) *bool
}

// clientKeys lists the keys of a clients entry, in the order of Client's
// fields (TestClientKeysCoverClient).
var clientKeys = []clientKey{
	{key: "id", str: func(c *Client) *string { return &c.ID }},
	{key: "name", str: func(c *Client) *string { return &c.Name }},
	{key: "redirect_uris", list: func(c *Client) *[]string { return &c.RedirectURIs }},
	{key: "post_logout_redirect_uris", list: func(c *Client) *[]string { return &c.PostLogoutRedirectURIs }},
	{key: "grants", list: func(c *Client) *[]string { return &c.Grants }},
	{key: "public", flag: func(c *Client) *bool { return &c.Public }},
	{key: "secret_sha256", str: func(c *Client) *string { return &c.SecretSHA256 }},
	{key: "secret_env", str: func(c *Client) *string { return &c.SecretEnv }},
	{key: "backchannel_logout_uri", str: func(c *Client) *string { return &c.BackchannelLogoutURI }},
	{key: "allowed_networks", list: func(c *Client) *[]string { return &c.AllowedNetworks }},
	{key: "third_party", flag: func(c *Client) *bool { return &c.ThirdParty }},
	{key: "id_token_alg", str: func(c *Client) *string { return &c.IDTokenAlg }},
	{key: "scopes", list: func(c *Client) *[]string { return &c.Scopes }},
	{key: "resource_server", str: func(c *Client) *string { return &c.ResourceServer }},
	{key: "resource_scopes", list: func(c *Client) *[]string { return &c.ResourceScopes }},
	{key: "require_mfa", flag: func(c *Client) *bool { return &c.RequireMFA }},
	{key: "allowed_groups", list: func(c *Client) *[]string { return &c.AllowedGroups }},
}

func lookupClientKey(key string) (clientKey, bool) {
	for _, k := range clientKeys {
		if k.key == key {
			return k, true
		}
	}
	return clientKey{}, false
}

// clientPath is the key of the i-th entry: "clients[i]".
func clientPath(i int) string { return fmt.Sprintf("clients[%d]", i) }

// clients reads the clients list (the setNode of the "clients" setting).
func (l *loader) clients(path string, n *yaml.Node) {
	l.cfg.Clients = nil
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.problem("clients", fmt.Sprintf("%s:%d", path, n.Line),
			"must be a list of clients, each a mapping with id, redirect_uris, … (see portti.example.yaml)")
		return
	}
	for i, en := range n.Content {
		en = deref(en)
		base := clientPath(i)
		at := fmt.Sprintf("%s:%d", path, en.Line)
		l.origins[base] = at
		var c Client
		if en.Kind != yaml.MappingNode {
			// Kept, empty, so that later entries keep their positions.
			l.problem(base, at, "must be a mapping of keys such as id: and redirect_uris:")
		} else {
			c = l.clientEntry(path, base, en)
		}
		l.cfg.Clients = append(l.cfg.Clients, c)
	}
}

// clientEntry reads one clients entry, a mapping.
func (l *loader) clientEntry(path, base string, m *yaml.Node) Client {
	var c Client
	seen := map[string]int{} // key → line
	secretEnvAt := ""
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := deref(m.Content[i]), deref(m.Content[i+1])
		at := fmt.Sprintf("%s:%d", path, kn.Line)
		if kn.Kind != yaml.ScalarNode {
			l.problem(base, at, "keys must be plain names")
			continue
		}
		key := base + "." + kn.Value
		if first, dup := seen[kn.Value]; dup {
			l.problem(key, at, "given twice in this client (first on line %d)", first)
			continue
		}
		seen[kn.Value] = kn.Line
		k, ok := lookupClientKey(kn.Value)
		if !ok {
			msg := "unknown key"
			if guess := closestClientKey(kn.Value); guess != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", guess)
			}
			l.problem(key, at, "%s; a client has %s", msg, clientKeyNames())
			continue
		}
		at = fmt.Sprintf("%s:%d", path, vn.Line)
		l.origins[key] = at
		switch {
		case k.list != nil:
			*k.list(&c) = l.clientList(path, key, vn)
		case vn.Kind != yaml.ScalarNode:
			l.problem(key, at, "must be a single value, not a list or mapping")
		case k.str != nil:
			*k.str(&c) = scalarValue(vn)
		case k.flag != nil:
			v := scalarValue(vn)
			b, err := strconv.ParseBool(v)
			if v == "" {
				b, err = false, nil
			}
			if err != nil {
				l.problem(key, at, "must be true or false, got %q", v)
				continue
			}
			*k.flag(&c) = b
		}
		if kn.Value == "secret_env" {
			secretEnvAt = at
		}
	}

	// The secret named by secret_env is read now and only its hash kept.
	// A variable that is not set is Validate's to report (envSecretHash
	// stays empty).
	if name := c.SecretEnv; name != "" && validEnvName(name) && l.lookupEnv != nil {
		if v, ok := l.lookupEnv(name); ok && v != "" {
			if err := oidc.CheckClientSecret(v); err != nil {
				l.problem(base+".secret_env", secretEnvAt, "the value of %s: %v", name, err)
			} else {
				c.envSecretHash = secret.Hash(v)
			}
		}
	}
	return c
}

// clientList reads a list-valued key of a clients entry: a YAML list of
// single values, or one value. An item that is not a single value is kept
// as "" so that the others keep their positions.
func (l *loader) clientList(path, key string, n *yaml.Node) []string {
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	case n.Kind != yaml.SequenceNode:
		l.problem(key, fmt.Sprintf("%s:%d", path, n.Line), "must be a list")
		return nil
	}
	var out []string
	for j, it := range n.Content {
		it = deref(it)
		itemKey := fmt.Sprintf("%s[%d]", key, j)
		at := fmt.Sprintf("%s:%d", path, it.Line)
		l.origins[itemKey] = at
		if it.Kind != yaml.ScalarNode {
			l.problem(itemKey, at, "must be a single value, not a list or mapping")
			out = append(out, "")
			continue
		}
		out = append(out, scalarValue(it))
	}
	return out
}

// scalarValue is a scalar's text, "" for null.
func scalarValue(n *yaml.Node) string {
	if isNull(n) {
		return ""
	}
	return n.Value
}

func clientKeyNames() string {
	names := make([]string, len(clientKeys))
	for i, k := range clientKeys {
		names[i] = k.key
	}
	return strings.Join(names, ", ")
}

// closestClientKey suggests the clients entry key nearest to a misspelt
// one, or "".
func closestClientKey(key string) string {
	best, bestDist := "", 4
	for _, k := range clientKeys {
		if d := editDistance(key, k.key); d < bestDist {
			best, bestDist = k.key, d
		}
	}
	return best
}

// validEnvName reports whether s can name an environment variable that a
// shell can set: letters, digits and _, not starting with a digit.
func validEnvName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// validateClients checks every clients entry with the rules of `portti
// client add` (oidc.ClientSpec.Validate), plus what is the file's own:
// how the secret is named, and unique IDs.
func validateClients(c Config, ps *Problems) {
	const how = `printf %s "$SECRET" | sha256sum`
	first := map[string]int{} // ID → position
	for i, cl := range c.Clients {
		base := clientPath(i)
		secretKey := "secret_sha256"
		if cl.SecretEnv != "" {
			secretKey = "secret_env"
		}
		spec := cl.Spec()
		switch {
		case cl.SecretSHA256 != "" && cl.SecretEnv != "":
			ps.add(base+".secret_env", "give secret_sha256 or secret_env, not both")
			spec.SecretHash = ""
		case cl.Public && (cl.SecretSHA256 != "" || cl.SecretEnv != ""):
			ps.add(base+"."+secretKey, "a public client has no secret; leave out %s", secretKey)
			spec.SecretHash = ""
		case cl.Public:
		case cl.SecretSHA256 == "" && cl.SecretEnv == "":
			ps.add(base, "a confidential client needs secret_sha256 (the SHA-256 of its secret: %s) "+
				"or secret_env (the name of an environment variable holding the secret); or say public: true", how)
		case cl.SecretEnv != "" && !validEnvName(cl.SecretEnv):
			ps.add(base+".secret_env", "must name an environment variable (letters, digits and _), got %q", cl.SecretEnv)
		case cl.SecretEnv != "" && cl.envSecretHash == "":
			ps.add(base+".secret_env", "environment variable %s is not set or is empty; it must hold the client's secret", cl.SecretEnv)
		}
		for _, p := range spec.Validate() {
			field := p.Field
			if field == "secret" {
				field = secretKey
			}
			key := base
			if field != "" {
				key += "." + field
			}
			ps.add(key, "%s", p.Message)
		}
		if cl.ID == "" {
			continue
		}
		if j, dup := first[cl.ID]; dup {
			ps.add(base+".id", "client ID %q is already the ID of %s; every client needs its own", cl.ID, clientPath(j))
			continue
		}
		first[cl.ID] = i
	}
}
