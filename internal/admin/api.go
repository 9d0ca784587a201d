package admin

import (
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/refcode"
	"github.com/portti/portti/internal/storage"
)

// openAPI describes the API (OpenAPI 3.1); a test validates live answers
// against it.
//
//go:embed openapi.json
var openAPI []byte

// The API mirrors the console: the same operations (Service), the same
// rules and the same audit trail, for scripts. A client authenticates
// with a client_credentials access token (RFC 6750 bearer) carrying
// ScopeHelpdesk or ScopeAdmin; the actor in the audit trail is
// "client:ID". Errors are {"error": code, "message": text} with a status
// that says which kind (RFC 6750 for the token's).

// apiError is an error answer.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="portti-admin", error="invalid_token"`)
	}
	if code == "insufficient_scope" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="portti-admin", error="insufficient_scope", scope="`+ScopeHelpdesk+` `+ScopeAdmin+`"`)
	}
	writeJSON(w, status, apiError{Error: code, Message: msg})
}

// apiErr maps an operation's error to an answer.
func (s *Service) apiErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such account, notice or role")
	case errors.Is(err, account.ErrInvalidEmail):
		writeError(w, http.StatusNotFound, "not_found", "no such account")
	case errors.Is(err, ErrReasonRequired):
		writeError(w, http.StatusBadRequest, "reason_required", "a reason is required")
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request", "the request is not valid")
	case errors.Is(err, ErrUnknownAction):
		writeError(w, http.StatusNotFound, "unknown_action", "no such action")
	case errors.Is(err, ErrSelf):
		writeError(w, http.StatusForbidden, "own_account", "staff cannot do this to their own account")
	case errors.Is(err, ErrProtected):
		writeError(w, http.StatusForbidden, "protected_account", "only an admin can act on an admin's account")
	case errors.Is(err, ErrAdminOnly):
		writeError(w, http.StatusForbidden, "insufficient_scope", "this needs the scope "+ScopeAdmin)
	case errors.Is(err, ErrNotApplicable):
		writeError(w, http.StatusConflict, "not_applicable", "the action does not apply to the account as it is")
	default:
		ref := refcode.New()
		s.cfg.Logger.ErrorContext(r.Context(), "admin api request failed", "ref", ref, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "server_error", "internal error, reference "+ref)
	}
}

// apiActor authenticates the request's bearer token.
func (s *Service) apiActor(w http.ResponseWriter, r *http.Request) (Actor, bool) {
	if s.cfg.VerifyToken == nil {
		writeError(w, http.StatusNotFound, "not_found", "the admin API is off")
		return Actor{}, false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		writeError(w, http.StatusUnauthorized, "invalid_token", "a bearer access token is required")
		return Actor{}, false
	}
	ct, err := s.cfg.VerifyToken(r.Context(), strings.TrimSpace(token))
	if err != nil {
		writeError(w, http.StatusUnauthorized, "invalid_token", "the access token is not valid")
		return Actor{}, false
	}
	admin := slices.Contains(ct.Scopes, ScopeAdmin)
	if !admin && !slices.Contains(ct.Scopes, ScopeHelpdesk) {
		writeError(w, http.StatusForbidden, "insufficient_scope", "the access token needs the scope "+ScopeHelpdesk+" or "+ScopeAdmin)
		return Actor{}, false
	}
	return Actor{Name: "client:" + ct.ClientID, Admin: admin}, true
}

func (s *Service) apiMeta(r *http.Request) account.Meta {
	return account.Meta{ClientIP: s.cfg.ClientIP(r), UserAgent: r.UserAgent(), Lang: "en"}
}

// maxAPIBody bounds a request body: a reason or a notice.
const maxAPIBody = 16 << 10

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "the body is not the expected JSON object")
		return false
	}
	return true
}

func (s *Service) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/api/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(openAPI)
	})
	h := func(pattern string, fn func(http.ResponseWriter, *http.Request, Actor)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			actor, ok := s.apiActor(w, r)
			if ok {
				fn(w, r, actor)
			}
		})
	}
	h("GET /admin/api/accounts", s.apiSearch)
	h("GET /admin/api/accounts/{id}", s.apiExplain)
	h("GET /admin/api/accounts/{id}/events", s.apiEvents)
	h("POST /admin/api/accounts/{id}/actions/{action}", s.apiAction)
	h("GET /admin/api/events/{ref}", s.apiEventByRef)
	h("GET /admin/api/notices", s.apiNotices)
	h("POST /admin/api/notices", s.apiAddNotice)
	h("DELETE /admin/api/notices/{id}", s.apiRemoveNotice)
	h("GET /admin/api/roles", s.apiRoles)
	h("POST /admin/api/roles", s.apiGrant)
	h("DELETE /admin/api/roles", s.apiRevoke)
	mux.HandleFunc("/admin/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	return mux
}

// The API's records: stable JSON names, times in RFC 3339 UTC.

type apiAccount struct {
	ID         string     `json:"id"`
	Email      string     `json:"email"`
	GivenName  string     `json:"given_name"`
	FamilyName string     `json:"family_name"`
	Locale     string     `json:"locale"`
	CreatedAt  time.Time  `json:"created_at"`
	Activated  bool       `json:"activated"`
	Disabled   bool       `json:"disabled"`
	LockedTill *time.Time `json:"locked_until,omitempty"`
}

func toAPIAccount(a storage.Account) apiAccount {
	out := apiAccount{ID: a.ID, Email: a.Email, GivenName: a.GivenName, FamilyName: a.FamilyName, Locale: a.Locale,
		CreatedAt: a.CreatedAt.UTC(), Activated: a.Activated(), Disabled: a.Disabled}
	if !a.LockedUntil.IsZero() {
		t := a.LockedUntil.UTC()
		out.LockedTill = &t
	}
	return out
}

type apiEvent struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	AccountID string    `json:"account_id"`
	Email     string    `json:"email"`
	ClientIP  string    `json:"client_ip"`
	UserAgent string    `json:"user_agent"`
	Reason    string    `json:"reason"`
	Ref       string    `json:"ref"`
}

func toAPIEvent(e storage.Event) apiEvent {
	return apiEvent{e.ID, e.Time.UTC(), e.Kind, e.AccountID, e.Email, e.ClientIP, e.UserAgent, e.Reason, e.Ref}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

type apiExplanation struct {
	Account  apiAccount `json:"account"`
	Roles    []string   `json:"roles"`
	Problems []Problem  `json:"problems"`

	ActivationSentAt    *time.Time   `json:"activation_sent_at,omitempty"`
	ActivationExpiresAt *time.Time   `json:"activation_expires_at,omitempty"`
	FailedLogins        int          `json:"failed_logins"`
	FailedFrom          []string     `json:"failed_from"`
	PasswordExpiresAt   *time.Time   `json:"password_expires_at,omitempty"`
	MFARequired         bool         `json:"mfa_required"`
	MFAEnabled          bool         `json:"mfa_enabled"`
	IdentityBoundAt     *time.Time   `json:"identity_bound_at,omitempty"`
	IdentityProvider    string       `json:"identity_provider,omitempty"`
	Methods             []apiMethod  `json:"methods"`
	Sessions            []apiSession `json:"sessions"`
	Apps                []apiApp     `json:"apps"`
	Failures            []apiEvent   `json:"failures"`
}

type apiMethod struct {
	Kind       string     `json:"kind"`
	Name       string     `json:"name"`
	AddedAt    time.Time  `json:"added_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

type apiSession struct {
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	ClientIP   string    `json:"client_ip"`
	UserAgent  string    `json:"user_agent"`
}

type apiApp struct {
	ClientID   string     `json:"client_id"`
	ClientName string     `json:"client_name"`
	LastUsed   *time.Time `json:"last_used,omitempty"`
}

func (s *Service) apiSearch(w http.ResponseWriter, r *http.Request, _ Actor) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "give q, a part of an e-mail address or a name")
		return
	}
	found, err := s.cfg.Store.SearchAccounts(r.Context(), q, searchLimit)
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	out := make([]apiAccount, 0, len(found))
	for _, a := range found {
		out = append(out, toAPIAccount(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": out})
}

func (s *Service) apiExplain(w http.ResponseWriter, r *http.Request, _ Actor) {
	x, err := s.Explain(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	out := apiExplanation{
		Account: toAPIAccount(x.Account), Roles: append([]string{}, x.Roles...), Problems: append([]Problem{}, x.Problems...),
		ActivationSentAt: timePtr(x.ActivationSentAt), ActivationExpiresAt: timePtr(x.ActivationExpiresAt),
		FailedLogins: x.FailedLogins, FailedFrom: append([]string{}, x.FailedFrom...),
		PasswordExpiresAt: timePtr(x.PasswordExpiry), MFARequired: x.MFARequired, MFAEnabled: x.MFAEnabled,
		IdentityBoundAt: timePtr(x.IdentityBoundAt), IdentityProvider: x.IdentityProvider,
		Methods: []apiMethod{}, Sessions: []apiSession{}, Apps: []apiApp{}, Failures: []apiEvent{},
	}
	for i, p := range out.Problems {
		args := map[string]any{}
		for k, v := range p.Args {
			if t, ok := v.(time.Time); ok {
				if t.IsZero() {
					continue
				}
				v = t.UTC()
			}
			args[strings.ToLower(k)] = v
		}
		out.Problems[i].Args = args
	}
	for _, m := range x.Methods {
		out.Methods = append(out.Methods, apiMethod{m.Kind, m.Name, m.AddedAt.UTC(), timePtr(m.LastUsedAt)})
	}
	for _, se := range x.Sessions {
		out.Sessions = append(out.Sessions, apiSession{se.CreatedAt.UTC(), se.LastSeenAt.UTC(), se.ExpiresAt.UTC(), se.ClientIP, se.UserAgent})
	}
	for _, a := range x.Apps {
		out.Apps = append(out.Apps, apiApp{a.ClientID, a.ClientName, timePtr(a.LastUsed)})
	}
	for _, e := range x.Failures {
		out.Failures = append(out.Failures, toAPIEvent(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) apiEvents(w http.ResponseWriter, r *http.Request, _ Actor) {
	a, err := s.cfg.Store.GetAccount(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	events, err := s.cfg.Store.ListEventsBefore(r.Context(), a.ID, before, limit)
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	out := make([]apiEvent, 0, len(events))
	for _, e := range events {
		out = append(out, toAPIEvent(e))
	}
	res := map[string]any{"events": out}
	if len(events) == limit {
		res["next_before"] = events[len(events)-1].ID
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Service) apiEventByRef(w http.ResponseWriter, r *http.Request, _ Actor) {
	ref := strings.ToUpper(r.PathValue("ref"))
	if !refcode.Valid(ref) {
		writeError(w, http.StatusBadRequest, "invalid_request", "not a reference code (ABCD-EFGH)")
		return
	}
	e, err := s.cfg.Store.EventByRef(r.Context(), ref)
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIEvent(e))
}

func (s *Service) apiAction(w http.ResponseWriter, r *http.Request, actor Actor) {
	var body struct {
		Reason string `json:"reason"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	act := Action(r.PathValue("action"))
	out, err := s.Act(r.Context(), actor, r.PathValue("id"), act, body.Reason, s.apiMeta(r))
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	done := map[string]any{"account_id": r.PathValue("id"), "action": string(act), "status": "done"}
	if out.AccessPass != "" {
		// The only time the pass exists in clear (writeJSON: no-store).
		done["access_pass"], done["expires_at"] = out.AccessPass, out.Expires.UTC()
	}
	writeJSON(w, http.StatusOK, done)
}

type apiNotice struct {
	ID        string    `json:"id"`
	From      time.Time `json:"from"`
	Until     time.Time `json:"until"`
	TextFI    string    `json:"text_fi"`
	TextSV    string    `json:"text_sv"`
	TextEN    string    `json:"text_en"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

func toAPINotice(n storage.Notice) apiNotice {
	return apiNotice{n.ID, n.StartsAt.UTC(), n.EndsAt.UTC(), n.TextFI, n.TextSV, n.TextEN, n.CreatedAt.UTC(), n.CreatedBy}
}

func (s *Service) apiNotices(w http.ResponseWriter, r *http.Request, _ Actor) {
	all, err := s.Notices(r.Context())
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	out := make([]apiNotice, 0, len(all))
	for _, n := range all {
		out = append(out, toAPINotice(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"notices": out})
}

func (s *Service) apiAddNotice(w http.ResponseWriter, r *http.Request, actor Actor) {
	var body struct {
		From   time.Time `json:"from"`
		Until  time.Time `json:"until"`
		TextFI string    `json:"text_fi"`
		TextSV string    `json:"text_sv"`
		TextEN string    `json:"text_en"`
	}
	if !actor.Admin {
		s.apiErr(w, r, ErrAdminOnly)
		return
	}
	if !readJSON(w, r, &body) {
		return
	}
	n, err := s.AddNotice(r.Context(), actor, NoticeInput{body.From, body.Until, body.TextFI, body.TextSV, body.TextEN}, s.apiMeta(r))
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toAPINotice(n))
}

func (s *Service) apiRemoveNotice(w http.ResponseWriter, r *http.Request, actor Actor) {
	if err := s.RemoveNotice(r.Context(), actor, r.PathValue("id"), s.apiMeta(r)); err != nil {
		s.apiErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type apiRole struct {
	AccountID string    `json:"account_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	GrantedAt time.Time `json:"granted_at"`
	GrantedBy string    `json:"granted_by"`
}

func (s *Service) apiRoles(w http.ResponseWriter, r *http.Request, actor Actor) {
	if !actor.Admin {
		s.apiErr(w, r, ErrAdminOnly)
		return
	}
	members, err := s.Staff(r.Context())
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	out := []apiRole{}
	for _, m := range members {
		for _, ro := range m.Roles {
			out = append(out, apiRole{m.Account.ID, m.Account.Email, ro.Role, ro.GrantedAt.UTC(), ro.GrantedBy})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": out})
}

type roleBody struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

func (s *Service) apiGrant(w http.ResponseWriter, r *http.Request, actor Actor) {
	s.apiRoleChange(w, r, actor, true)
}

func (s *Service) apiRevoke(w http.ResponseWriter, r *http.Request, actor Actor) {
	s.apiRoleChange(w, r, actor, false)
}

func (s *Service) apiRoleChange(w http.ResponseWriter, r *http.Request, actor Actor, grant bool) {
	if !actor.Admin {
		s.apiErr(w, r, ErrAdminOnly)
		return
	}
	var body roleBody
	if !readJSON(w, r, &body) {
		return
	}
	change := s.Revoke
	if grant {
		change = s.Grant
	}
	a, err := change(r.Context(), actor, body.Email, body.Role, s.apiMeta(r))
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	roles, err := s.Roles(r.Context(), a.ID)
	if err != nil {
		s.apiErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"account_id": a.ID, "email": a.Email, "roles": append([]string{}, roles...)})
}
