package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// String lists ([]string: redirect URIs, scopes, audiences) are stored as a
// JSON array in a TEXT column, the same text on both backends. They are
// read whole and never searched in SQL, so a child table would only add
// joins to the token endpoint's hot paths. An empty list is stored as "[]"
// and, like a nil one, reads back as nil. json.Marshal replaces invalid
// UTF-8 with U+FFFD; the lists hold URIs, scope names and CIDRs, all ASCII.
//
// Byte strings (sealed keys, encoded requests) read back as nil when empty,
// whatever the driver returns for an empty BLOB or BYTEA.
//
// An account ID that may be empty (an auth request before sign-in, a
// client_credentials access token) is stored as NULL when empty, so that
// its column can reference accounts; SELECTs read it through
// COALESCE(account_id, '').

// dbList converts a string list to its stored form.
func dbList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	// Marshalling a []string cannot fail.
	b, _ := json.Marshal(l)
	return string(b)
}

// listDecoder decodes stored string lists, keeping the first error, so that
// a scan function decodes several lists and checks once.
type listDecoder struct{ err error }

func (d *listDecoder) list(s string) []string {
	if d.err != nil || s == "" || s == "[]" {
		return nil
	}
	if l, ok := plainList(s); ok {
		return l
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		d.err = fmt.Errorf("decode list: %w", err)
		return nil
	}
	return roundTripList(l)
}

// plainList decodes the lists dbList writes for plain values, ["a","b"]
// (no spaces, no escapes, valid UTF-8), without encoding/json's
// reflection: every token read decodes two (scopes, audience). Anything
// else is left to encoding/json (ok false); FuzzPlainList checks the two
// agree.
func plainList(s string) (_ []string, ok bool) {
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' || !utf8.ValidString(s) {
		return nil, false
	}
	body := s[1 : len(s)-1]
	l := make([]string, 0, strings.Count(body, `","`)+1)
	for {
		if len(body) < 2 || body[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(body[1:], '"') + 1
		if end == 0 {
			return nil, false
		}
		v := body[1:end]
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] == '\\' {
				return nil, false
			}
		}
		l = append(l, v)
		body = body[end+1:]
		if body == "" {
			return l, true
		}
		if body[0] != ',' {
			return nil, false
		}
		body = body[1:]
	}
}

// roundTripList returns l as it reads back after being stored.
func roundTripList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// dbBytes converts a byte string to its stored form: never NULL.
func dbBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// goBytes converts a stored byte string back.
func goBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullIfEmpty stores an optional account ID: NULL for none.
func nullIfEmpty(id string) any {
	if id == "" {
		return nil
	}
	return id
}
