// Package provision takes accounts and groups from the registries that
// decide who has an account (issue 11): a SCIM 2.0 service provider at
// /scim/v2 (RFC 7643, RFC 7644) over storage.ProvisionStorage, and the
// user types assigned from login addresses. Package scim under it is the
// protocol; this package maps resources onto accounts, in one transaction
// per request, so nothing is ever half-applied.
package provision

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/provision/scim"
	"github.com/portti/portti/internal/storage"
)

// Scope is the OAuth scope a client needs for /scim/v2.
const Scope = "scim"

// Audit event kinds.
const (
	EventUserCreated  = "provision.user_created"
	EventUserUpdated  = "provision.user_updated"
	EventUserDeleted  = "provision.user_deleted"
	EventGroupCreated = "provision.group_created"
	EventGroupUpdated = "provision.group_updated"
	EventGroupDeleted = "provision.group_deleted"
)

// Limits.
const (
	DefaultMaxBody = 1 << 20 // a request body; larger gets 413
	defaultCount   = 100
	maxCount       = 1000
)

// TokenVerifier checks a bearer access token (oidc.Provider's
// VerifyClientToken, adapted in app.go) and returns the client and its
// scopes; ok false for a token that is not valid.
type TokenVerifier func(ctx context.Context, token string) (clientID string, scopes []string, ok bool, err error)

// Config configures a Server.
type Config struct {
	Store     storage.Storage
	Audit     *audit.Recorder
	Verify    TokenVerifier
	UserTypes *UserTypes
	// Policy is the lifecycle's timing: grace, retention, notices.
	Policy Policy
	// Identifiers hashes registry identifiers (proofing.Hasher); nil
	// refuses them.
	Identifiers IdentifierHasher
	// BaseURL is portti's public URL (the issuer), without a trailing
	// slash: resource locations are BaseURL/scim/v2/….
	BaseURL string
	MaxBody int64 // default DefaultMaxBody
	// Invite is called in the transaction that creates a provisioned
	// account, and in the one that makes a pending or disabled one
	// usable (SCIM now; the CSV import and the lifecycle worker should
	// call it too): package account's InviteProvisioned, which e-mails
	// the invitation (never to an account already activated) and answers
	// the waitlist. Its error fails the request, so no account becomes
	// usable without its invitation queued. Nil: nothing.
	Invite func(ctx context.Context, tx storage.Storage, a storage.Account, p storage.Provisioned) error
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the SCIM service provider.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// New returns a Server; mount it at /scim/v2/.
func New(cfg Config) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	m := s.mux
	m.HandleFunc("GET /scim/v2/ServiceProviderConfig", s.serviceProviderConfig)
	m.HandleFunc("GET /scim/v2/ResourceTypes", s.resourceTypes)
	m.HandleFunc("GET /scim/v2/ResourceTypes/{name}", s.resourceTypes)
	m.HandleFunc("GET /scim/v2/Schemas", s.schemas)
	m.HandleFunc("GET /scim/v2/Schemas/{id}", s.schemas)
	m.HandleFunc("GET /scim/v2/Users", s.listUsers)
	m.HandleFunc("POST /scim/v2/Users/.search", s.searchUsers)
	m.HandleFunc("POST /scim/v2/Users", s.createUser)
	m.HandleFunc("GET /scim/v2/Users/{id}", s.getUser)
	m.HandleFunc("PUT /scim/v2/Users/{id}", s.replaceUser)
	m.HandleFunc("PATCH /scim/v2/Users/{id}", s.patchUser)
	m.HandleFunc("DELETE /scim/v2/Users/{id}", s.deleteUser)
	m.HandleFunc("GET /scim/v2/Groups", s.listGroups)
	m.HandleFunc("POST /scim/v2/Groups/.search", s.searchGroups)
	m.HandleFunc("POST /scim/v2/Groups", s.createGroup)
	m.HandleFunc("GET /scim/v2/Groups/{id}", s.getGroup)
	m.HandleFunc("PUT /scim/v2/Groups/{id}", s.replaceGroup)
	m.HandleFunc("PATCH /scim/v2/Groups/{id}", s.patchGroup)
	m.HandleFunc("DELETE /scim/v2/Groups/{id}", s.deleteGroup)
	m.HandleFunc("/scim/v2/", func(w http.ResponseWriter, r *http.Request) {
		// Bulk, /Me and anything else: not implemented (RFC 7644 3.7, 3.11).
		s.fail(w, r, scim.Errorf(http.StatusNotImplemented, "", "%s %s is not supported by portti", r.Method, r.URL.Path))
	})
	return s
}

// ServeHTTP authenticates the client and serves the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	client, err := s.authenticate(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), clientKey{}, client))
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	s.mux.ServeHTTP(w, r)
}

type clientKey struct{}

func clientOf(r *http.Request) string { c, _ := r.Context().Value(clientKey{}).(string); return c }

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		return "", scim.Errorf(http.StatusUnauthorized, "", "a bearer access token is required")
	}
	client, scopes, ok, err := s.cfg.Verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return "", err
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim", error="invalid_token"`)
		return "", scim.Errorf(http.StatusUnauthorized, "", "the access token is invalid or expired")
	}
	if !slices.Contains(scopes, Scope) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim", error="insufficient_scope", scope="scim"`)
		return "", scim.Errorf(http.StatusForbidden, "", "the access token lacks the scim scope")
	}
	return client, nil
}

// write sends a SCIM JSON response.
func (s *Server) write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.cfg.Logger.Error("scim: encode response", slog.Any("error", err))
		status, b = http.StatusInternalServerError, []byte(`{"schemas":["`+scim.ErrorSchema+`"],"status":"500"}`)
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// fail sends an error: a *scim.Error as it is, anything else as a 500
// whose cause is logged, not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *scim.Error
	if !errors.As(err, &se) {
		s.cfg.Logger.ErrorContext(r.Context(), "scim: request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		se = scim.Errorf(http.StatusInternalServerError, "", "portti could not complete the request; nothing was changed")
	}
	s.write(w, se.Status, se)
}

// readJSON reads a request body object. An oversized body is a 413.
func (s *Server) readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return scim.Errorf(http.StatusRequestEntityTooLarge, "", "the request body is larger than %d bytes", s.cfg.MaxBody)
	}
	if err != nil {
		return scim.BadRequest(scim.InvalidSyntax, "the request body could not be read")
	}
	if err := scim.DecodeJSON(b, v); err != nil {
		var se *scim.Error
		if errors.As(err, &se) {
			return se
		}
		return scim.BadRequest(scim.InvalidSyntax, "the request body is not valid JSON: %s", jsonProblem(err))
	}
	return nil
}

// readResource reads a resource from the body, in canonical form.
func (s *Server) readResource(r *http.Request, rt *scim.ResourceType) (map[string]any, error) {
	var in map[string]any
	if err := s.readJSON(r, &in); err != nil {
		return nil, err
	}
	return rt.Canonical(in)
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return "syntax error at byte " + strconv.FormatInt(syn.Offset, 10)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return "expected " + typ.Type.String() + " at byte " + strconv.FormatInt(typ.Offset, 10)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the body ends too early"
	}
	return "malformed"
}

// ifMatch checks an If-Match header against the current version (RFC
// 7644 3.14, RFC 9110 13.1.1): 412 when it names another.
func ifMatch(r *http.Request, version int64) error {
	h := r.Header.Get("If-Match")
	if h == "" || strings.TrimSpace(h) == "*" {
		return nil
	}
	cur := etag(version)
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		// Weak comparison: W/"3" and "3" name the same version.
		if strings.TrimPrefix(t, "W/") == strings.TrimPrefix(cur, "W/") {
			return nil
		}
	}
	return scim.Errorf(http.StatusPreconditionFailed, "", "the resource has changed: its version is now %s", cur)
}

// notModified answers If-None-Match on a GET.
func notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	h := r.Header.Get("If-None-Match")
	if h == "" {
		return false
	}
	cur := strings.TrimPrefix(etag(version), "W/")
	for _, t := range strings.Split(h, ",") {
		if t = strings.TrimSpace(t); t == "*" || strings.TrimPrefix(t, "W/") == cur {
			w.Header().Set("ETag", etag(version))
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

func (s *Server) record(ctx context.Context, tx storage.Storage, r *http.Request, kind, accountID, detail string) error {
	if s.cfg.Audit == nil {
		return nil
	}
	reason := "client " + clientOf(r)
	if detail != "" {
		reason += ": " + detail
	}
	return s.cfg.Audit.Record(ctx, tx, storage.Event{Kind: kind, AccountID: accountID, Reason: reason})
}

// newID returns a random ID like the account package's: 130 random bits,
// base32, lower case.
func newID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:26]
}

// listParams are the paging and projection parameters (RFC 7644 3.4.2).
type listParams struct {
	Filter     string
	StartIndex int
	Count      int
	Attributes []string
	Excluded   []string
}

func paramsFromQuery(r *http.Request) (listParams, error) {
	q := r.URL.Query()
	p := listParams{Filter: q.Get("filter"), StartIndex: 1, Count: defaultCount}
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, scim.BadRequest(scim.InvalidValue, "startIndex must be an integer")
		}
		p.StartIndex = n
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, scim.BadRequest(scim.InvalidValue, "count must be an integer")
		}
		p.Count = n
	}
	p.Attributes, p.Excluded = splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))
	return p.normal(), nil
}

func paramsFromSearch(s *Server, r *http.Request) (listParams, error) {
	var body struct {
		Schemas            []string `json:"schemas"`
		Filter             string   `json:"filter"`
		StartIndex         *int     `json:"startIndex"`
		Count              *int     `json:"count"`
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
	}
	if err := s.readJSON(r, &body); err != nil {
		return listParams{}, err
	}
	if !slices.Contains(body.Schemas, scim.SearchRequest) {
		return listParams{}, scim.BadRequest(scim.InvalidSyntax, "schemas must be [%q]", scim.SearchRequest)
	}
	p := listParams{Filter: body.Filter, StartIndex: 1, Count: defaultCount, Attributes: body.Attributes, Excluded: body.ExcludedAttributes}
	if body.StartIndex != nil {
		p.StartIndex = *body.StartIndex
	}
	if body.Count != nil {
		p.Count = *body.Count
	}
	return p.normal(), nil
}

// normal applies RFC 7644 3.4.2.4: a startIndex below 1 is 1, a negative
// count is 0; portti returns at most maxCount (ServiceProviderConfig).
func (p listParams) normal() listParams {
	p.StartIndex = max(p.StartIndex, 1)
	p.Count = min(max(p.Count, 0), maxCount)
	return p
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// project applies attributes / excludedAttributes (RFC 7644 3.4.2.5) to
// top-level and extension attributes; id, schemas and meta always stay.
func project(rt *scim.ResourceType, res map[string]any, include, exclude []string) map[string]any {
	if len(include) == 0 && len(exclude) == 0 {
		return res
	}
	type key struct{ urn, attr string }
	names := func(list []string) map[key]bool {
		out := map[key]bool{}
		for _, n := range list {
			p, err := scim.ParseAttrPath(n)
			if err != nil {
				continue
			}
			urn := ""
			if sch := rt.Schema(p.URN); sch != nil && sch != rt.Core {
				urn = sch.ID
			}
			name := strings.ToLower(p.Attr)
			if p.URN != "" && rt.Schema(p.URN+":"+p.Attr) != nil { // a whole extension
				urn, name = rt.Schema(p.URN+":"+p.Attr).ID, ""
			}
			out[key{urn, name}] = true
		}
		return out
	}
	inc, exc := names(include), names(exclude)
	keepAttr := func(urn, attr string) bool {
		k, whole := key{urn, strings.ToLower(attr)}, key{urn, ""}
		if len(inc) > 0 {
			return inc[k] || (urn != "" && inc[whole])
		}
		return !exc[k] && !(urn != "" && exc[whole])
	}
	out := map[string]any{}
	for k, v := range res {
		switch k {
		case "id", "schemas", "meta":
			out[k] = v
			continue
		}
		if ext := rt.Schema(k); ext != nil && ext != rt.Core {
			m := map[string]any{}
			for n, x := range v.(map[string]any) {
				if keepAttr(ext.ID, n) {
					m[n] = x
				}
			}
			if len(m) > 0 {
				out[k] = m
			}
			continue
		}
		if keepAttr("", k) {
			out[k] = v
		}
	}
	return out
}

// page returns the bounds of the requested page in total matches.
func (p listParams) page(total int) (from, to int) {
	from = min(p.StartIndex-1, total)
	return from, min(from+p.Count, total)
}

// listResponse writes a ListResponse of one page of matches.
func (s *Server) listResponse(w http.ResponseWriter, rt *scim.ResourceType, p listParams, matches []map[string]any) {
	total := len(matches)
	from, to := p.page(total)
	page := make([]any, 0, to-from)
	for _, m := range matches[from:to] {
		page = append(page, project(rt, m, p.Attributes, p.Excluded))
	}
	s.write(w, http.StatusOK, map[string]any{
		"schemas":      []string{scim.ListSchema},
		"totalResults": total,
		"startIndex":   p.StartIndex,
		"itemsPerPage": len(page),
		"Resources":    page,
	})
}

// writeResource writes one resource with its ETag and Location.
func (s *Server) writeResource(w http.ResponseWriter, r *http.Request, status int, rt *scim.ResourceType, res map[string]any, version int64) {
	w.Header().Set("ETag", etag(version))
	if meta, ok := res["meta"].(map[string]any); ok {
		if loc, ok := meta["location"].(string); ok {
			w.Header().Set("Location", loc)
		}
	}
	q := r.URL.Query()
	s.write(w, status, project(rt, res, splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))))
}

// mapStorageError turns a storage error into a SCIM one where it has a
// meaning for the client.
func mapStorageError(err error, what string) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return scim.Errorf(http.StatusNotFound, "", "%s not found", what)
	}
	return err
}
