package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// Scenario (j): SCIM provisioning (issue 11). Each operation is what a
// registry does for a new person and then a change: POST /scim/v2/Users
// (the account and its registry record, in one transaction) and a PATCH
// of it (Microsoft Entra ID's shape: Replace of active and of a
// value-filtered e-mail address). The registry's client is registered
// with the scim scope; its client_credentials token is taken once.

const benchRegistry = "bench-registry"

type scimLoad struct {
	token string
	run   string // this run's prefix: userNames stay unique on a reused database
	next  atomic.Int64
}

// scimSetup registers the registry client (before the server starts) —
// see registerSCIMClient — and takes its token.
func (b *bench) scimToken(ctx context.Context) (*scimLoad, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"scim"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/oauth2/token", bytes.NewBufferString(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(benchRegistry, b.secret)
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		return nil, fmt.Errorf("scim token: %d %v", resp.StatusCode, err)
	}
	return &scimLoad{token: tr.AccessToken, run: strconv.FormatInt(time.Now().UnixNano(), 36)}, nil
}

// scimCreatePatch is one operation of (j).
func (b *bench) scimCreatePatch(ctx context.Context, w *wire, l *scimLoad) error {
	n := l.next.Add(1)
	user := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%s-%d@bench.example.fi",`+
		`"externalId":"%s-%d","active":true,"name":{"givenName":"Bench","familyName":"User %d"},`+
		`"emails":[{"type":"work","primary":true,"value":"u%s-%d@bench.example.fi"}]}`, l.run, n, l.run, n, n, l.run, n)
	auth := "Bearer " + l.token
	status, body, err := w.roundTrip(ctx, b.rawRequest(http.MethodPost, "/scim/v2/Users", user,
		"Content-Type", "application/scim+json", "Authorization", auth))
	if err != nil {
		return fmt.Errorf("scim create: %w", err)
	}
	if status != http.StatusCreated {
		return &statusError{"scim create", status, string(body)}
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
		return fmt.Errorf("scim create: no id in %.200s", body)
	}
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` +
		`{"op":"Replace","path":"active","value":false},` +
		`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"changed-` + strconv.FormatInt(n, 10) + `@bench.example.fi"}]}`
	status, body, err = w.roundTrip(ctx, b.rawRequest(http.MethodPatch, "/scim/v2/Users/"+created.ID, patch,
		"Content-Type", "application/scim+json", "Authorization", auth))
	if err != nil {
		return fmt.Errorf("scim patch: %w", err)
	}
	if status != http.StatusOK {
		return &statusError{"scim patch", status, string(body)}
	}
	return nil
}
