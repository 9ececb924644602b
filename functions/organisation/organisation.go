// Package organisation is the Organisation function: the caller's organisation, its API key
// pairs and its members.
//
//	GET    /v1/organisation              any role
//	PATCH  /v1/organisation              admin; the settings (origins, callback URL, branding)
//	GET    /v1/api-keys                  admin (masked keys only)
//	POST   /v1/api-keys                  admin; 201 with the two keys, shown this once
//	POST   /v1/api-keys/{id}/rotate      admin; 201 with the new pair
//	DELETE /v1/api-keys/{id}             admin; 204, immediate revocation
//	GET    /v1/members, /v1/members/{id} any role
//	POST   /v1/members                   admin
//	PATCH  /v1/members/{id}              admin
//	DELETE /v1/members/{id}              admin
//
// The organisation is always the authenticated caller's (auth.CallerFrom); another
// organisation's key pair or member is 404. A key may revoke its own pair: it stops working
// at once on this instance and within auth.CacheTTL everywhere, and the call itself
// succeeds. That is the caller's choice (e.g. a leaked admin key disabling itself).
//
// Key pairs, members and the organisation are organisation-wide and decide live access, so
// changing them needs a live admin key; shared/orgs refuses every change made with a sandbox
// key, however strong its role (403, auth.MayAffectLive). Sandbox admin keys may read them.
package organisation

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
)

func init() {
	platform.HTTP("Organisation", build)
}

// build makes the handler on the instance's first request.
var build = platform.With(platform.Orgs, handler)

func handler(repo *orgs.Repo) http.Handler {
	fs := repo.Client()
	return NewHandler(repo, &payments.Store{FS: fs}, connections.NewRepo(fs), time.Now)
}

type server struct {
	repo *orgs.Repo
	// refunds keeps the refund account of each tenant (the key's environment), accounts
	// reads the accounts it may name.
	refunds  *payments.Store
	accounts payments.Accounts
	now      func() time.Time
}

// NewHandler returns the function's routes on repo. Requests must carry an auth.Caller.
func NewHandler(repo *orgs.Repo, refunds *payments.Store, accounts payments.Accounts, now func() time.Time) http.Handler {
	s := &server{repo: repo, refunds: refunds, accounts: accounts, now: now}
	rt := httpapi.NewRouter()
	rt.Handle("GET /v1/organisation", s.getOrganisation)
	rt.Handle("PATCH /v1/organisation", s.updateOrganisation)
	rt.Handle("GET /v1/api-keys", s.listKeyPairs)
	rt.Handle("POST /v1/api-keys", s.createKeyPair)
	rt.Handle("POST /v1/api-keys/{id}/rotate", s.rotateKeyPair)
	rt.Handle("DELETE /v1/api-keys/{id}", s.revokeKeyPair)
	rt.Handle("GET /v1/members", s.listMembers)
	rt.Handle("POST /v1/members", s.addMember)
	rt.Handle("GET /v1/members/{id}", s.getMember)
	rt.Handle("PATCH /v1/members/{id}", s.updateMember)
	rt.Handle("DELETE /v1/members/{id}", s.removeMember)
	return rt
}

// change answers a request whose key holds at least need, with a JSON body In: do's
// answer is written with status.
func change[In, Out any](w http.ResponseWriter, r *http.Request, need auth.Role, status int, do func(ctx context.Context, c auth.Caller, in In) (Out, error)) error {
	c, err := auth.CallerWithRole(r.Context(), need)
	if err != nil {
		return err
	}
	var in In
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	out, err := do(r.Context(), c, in)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, status, out)
	return nil
}

// remove answers an admin's DELETE of one of the organisation's key pairs or members (what):
// 204 once do has removed it.
func remove(w http.ResponseWriter, r *http.Request, what string, do func(ctx context.Context, orgID, id string) error) error {
	c, err := auth.CallerWithRole(r.Context(), auth.RoleAdmin)
	if err != nil {
		return err
	}
	if err := do(r.Context(), c.Tenant.OrgID, r.PathValue("id")); err != nil {
		return apiError(err, what)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiError turns a repository error into the API's.
func apiError(err error, what string) error {
	var (
		v *orgs.ValidationError
		c *orgs.ConflictError
	)
	switch {
	case errors.As(err, &v):
		return httpapi.InvalidField(v.Field, v.Message)
	case errors.As(err, &c):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict, Message: c.Reason, Err: err}
	case errors.Is(err, orgs.ErrConflict):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict, Message: "The request conflicts with the current state.", Err: err}
	case errors.Is(err, orgs.ErrNotFound):
		e := httpapi.NotFound(what)
		e.Err = err
		return e
	}
	return err
}

// ---- organisation

type organisationJSON struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Tier           string   `json:"tier"`
	AllowedOrigins []string `json:"allowedOrigins"`
	CallbackURL    *string  `json:"callbackUrl"`
	DisplayName    *string  `json:"displayName"`
	LogoURL        *string  `json:"logoUrl"`
	BrandColor     *string  `json:"brandColor"`
	Environment    string   `json:"environment"`
	// RefundAccountID is the environment's refund account (of the key's environment).
	RefundAccountID *string   `json:"refundAccountId"`
	CreatedAt       time.Time `json:"createdAt"`
}

// out is the organisation as the caller's key sees it, with its environment's refund account.
func (s *server) out(ctx context.Context, o orgs.Org, env string) (organisationJSON, error) {
	scope, err := store.ForCaller(ctx, s.refunds.FS)
	if err != nil {
		return organisationJSON{}, err
	}
	acc, err := s.refunds.RefundAccount(ctx, scope)
	if err != nil {
		return organisationJSON{}, err
	}
	j := organisationOut(o, env)
	j.RefundAccountID = httpapi.Optional(acc)
	return j, nil
}

func organisationOut(o orgs.Org, env string) organisationJSON {
	origins := o.AllowedOrigins
	if origins == nil {
		origins = []string{}
	}
	return organisationJSON{ID: o.ID, Name: o.Name, Tier: o.Tier, AllowedOrigins: origins,
		CallbackURL: httpapi.Optional(o.CallbackURL), DisplayName: httpapi.Optional(o.DisplayName), LogoURL: httpapi.Optional(o.LogoURL),
		BrandColor: httpapi.Optional(o.BrandColor), Environment: env, CreatedAt: o.CreatedAt}
}

func (s *server) getOrganisation(w http.ResponseWriter, r *http.Request) error {
	c, err := auth.CallerWithRole(r.Context(), auth.RoleReadOnly)
	if err != nil {
		return err
	}
	o, err := s.repo.GetOrg(r.Context(), c.Tenant.OrgID)
	if err != nil {
		return apiError(err, "The organisation")
	}
	out, err := s.out(r.Context(), o, c.Tenant.Env)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// updateOrganisationRequest holds the settings a PATCH may change; an absent field stays.
type updateOrganisationRequest struct {
	AllowedOrigins *[]string `json:"allowedOrigins"`
	CallbackURL    *string   `json:"callbackUrl"`
	DisplayName    *string   `json:"displayName"`
	LogoURL        *string   `json:"logoUrl"`
	BrandColor     *string   `json:"brandColor"`
	// RefundAccountID names the refund account of the key's environment ("" clears it);
	// unlike the organisation-wide settings, a sandbox admin key may set the sandbox one.
	RefundAccountID *string `json:"refundAccountId"`
}

func (s *server) updateOrganisation(w http.ResponseWriter, r *http.Request) error {
	return change(w, r, auth.RoleAdmin, http.StatusOK, s.applySettings)
}

// applySettings checks every change of req before it makes any.
func (s *server) applySettings(ctx context.Context, c auth.Caller, req updateOrganisationRequest) (organisationJSON, error) {
	settings := orgs.SettingsPatch{AllowedOrigins: req.AllowedOrigins, CallbackURL: req.CallbackURL, DisplayName: req.DisplayName,
		LogoURL: req.LogoURL, BrandColor: req.BrandColor}
	changesOrg := settings != (orgs.SettingsPatch{})
	o, err := s.repo.GetOrg(ctx, c.Tenant.OrgID)
	if err != nil {
		return organisationJSON{}, apiError(err, "The organisation")
	}
	// Everything is checked before anything is written: the settings on a copy.
	if changesOrg {
		if err := auth.MayAffectLive(ctx); err != nil {
			return organisationJSON{}, apiError(err, "The organisation")
		}
		dry := o
		if err := settings.Apply(&dry); err != nil {
			return organisationJSON{}, apiError(err, "The organisation")
		}
	}
	if req.RefundAccountID != nil {
		scope, err := store.ForCaller(ctx, s.refunds.FS)
		if err != nil {
			return organisationJSON{}, err
		}
		if err := s.refunds.SetRefundAccount(ctx, scope, s.accounts, *req.RefundAccountID); err != nil {
			return organisationJSON{}, err
		}
	}
	if changesOrg {
		if o, err = s.repo.UpdateSettings(ctx, c.Tenant.OrgID, settings); err != nil {
			return organisationJSON{}, apiError(err, "The organisation")
		}
	}
	return s.out(ctx, o, c.Tenant.Env)
}

// ---- key pairs

type keyPairJSON struct {
	ID               string     `json:"id"`
	Role             auth.Role  `json:"role"`
	Status           string     `json:"status"`
	LiveKeyMasked    string     `json:"liveKeyMasked"`
	SandboxKeyMasked string     `json:"sandboxKeyMasked"`
	CreatedAt        time.Time  `json:"createdAt"`
	CreatedBy        string     `json:"createdBy"`
	ExpiresAt        *time.Time `json:"expiresAt"`
	RevokedAt        *time.Time `json:"revokedAt"`
	ReplacedBy       *string    `json:"replacedBy"`
	Replaces         *string    `json:"replaces"`
}

type newKeyPairJSON struct {
	keyPairJSON
	LiveKey    string `json:"liveKey"`
	SandboxKey string `json:"sandboxKey"`
	// ReplacedKeyExpiresAt is set by rotation: when the replaced pair stops working.
	ReplacedKeyExpiresAt *time.Time `json:"replacedKeyExpiresAt,omitempty"`
}

func (s *server) keyPairOut(p orgs.KeyPair) keyPairJSON {
	return keyPairJSON{ID: p.ID, Role: p.Role, Status: p.Status(s.now()), LiveKeyMasked: p.LiveKeyMasked,
		SandboxKeyMasked: p.SandboxKeyMasked, CreatedAt: p.CreatedAt, CreatedBy: p.CreatedBy,
		ExpiresAt: p.ExpiresAt, RevokedAt: p.RevokedAt, ReplacedBy: httpapi.Optional(p.ReplacedBy), Replaces: httpapi.Optional(p.Replaces)}
}

func (s *server) newKeyPairOut(p orgs.NewKeyPair) newKeyPairJSON {
	return newKeyPairJSON{keyPairJSON: s.keyPairOut(p.KeyPair), LiveKey: p.LiveKey, SandboxKey: p.SandboxKey,
		ReplacedKeyExpiresAt: p.ReplacedExpiresAt}
}

func (s *server) listKeyPairs(w http.ResponseWriter, r *http.Request) error {
	return serveAll(w, r, auth.RoleAdmin, s.repo.ListKeyPairs, s.keyPairOut, func(p keyPairJSON) string { return p.ID })
}

type createKeyPairRequest struct {
	Role     *string `json:"role"`
	MemberID *string `json:"memberId"`
}

func (s *server) createKeyPair(w http.ResponseWriter, r *http.Request) error {
	return change(w, r, auth.RoleAdmin, http.StatusCreated, func(ctx context.Context, c auth.Caller, req createKeyPairRequest) (newKeyPairJSON, error) {
		if req.Role == nil {
			return newKeyPairJSON{}, httpapi.InvalidField("role", "is required (admin, developer or read_only)")
		}
		role, err := orgs.ValidateKeyRole(*req.Role)
		if err != nil {
			return newKeyPairJSON{}, apiError(err, "")
		}
		createdBy := c.KeyPairID
		if req.MemberID != nil {
			if !ids.Valid(ids.Member, *req.MemberID) {
				return newKeyPairJSON{}, httpapi.InvalidField("memberId", "must be a member ID (mem_…)")
			}
			m, err := s.repo.GetMember(ctx, c.Tenant.OrgID, *req.MemberID)
			if err != nil {
				return newKeyPairJSON{}, apiError(err, "The member")
			}
			if ceiling := orgs.MaxKeyRole(m.Role); !ceiling.Covers(role) {
				return newKeyPairJSON{}, httpapi.Forbidden(fmt.Sprintf("Member %s has the role %s and may create keys with at most the role %s, not %s.", m.ID, m.Role, ceiling, role))
			}
			createdBy = m.ID
		}
		p, err := s.repo.CreateKeyPair(ctx, c.Tenant.OrgID, string(role), createdBy)
		if err != nil {
			return newKeyPairJSON{}, apiError(err, "The organisation")
		}
		return s.newKeyPairOut(p), nil
	})
}

type rotateRequest struct {
	GracePeriodSeconds *float64 `json:"gracePeriodSeconds"`
}

// maxGraceSeconds is orgs.MaxGrace in seconds (604800).
var maxGraceSeconds = int64(orgs.MaxGrace / time.Second)

func (s *server) rotateKeyPair(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := auth.CallerWithRole(ctx, auth.RoleAdmin)
	if err != nil {
		return err
	}
	// Another organisation's pair is 404 whatever the key's environment.
	if _, err := s.repo.GetKeyPair(ctx, c.Tenant.OrgID, r.PathValue("id")); err != nil {
		return apiError(err, "The key pair")
	}
	var req rotateRequest
	// The body is optional: no body at all means the default grace period.
	if empty, err := emptyBody(r); err != nil {
		return err
	} else if !empty {
		if err := httpapi.DecodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	grace := orgs.DefaultGrace
	if g := req.GracePeriodSeconds; g != nil {
		if *g != math.Trunc(*g) || *g < 0 || *g > float64(maxGraceSeconds) {
			return httpapi.InvalidField("gracePeriodSeconds", "must be a whole number of seconds from 0 to "+strconv.FormatInt(maxGraceSeconds, 10))
		}
		grace = time.Duration(*g) * time.Second
	}
	p, err := s.repo.RotateKeyPair(ctx, c.Tenant.OrgID, r.PathValue("id"), grace)
	if err != nil {
		return apiError(err, "The key pair")
	}
	httpapi.WriteJSON(w, http.StatusCreated, s.newKeyPairOut(p))
	return nil
}

// emptyBody reports whether the request has no body, without consuming a non-empty one.
func emptyBody(r *http.Request) (bool, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true, nil
	}
	br := bufio.NewReader(r.Body)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return true, nil
	} else if err != nil {
		return false, httpapi.Validation("The request body could not be read.")
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return false, nil
}

func (s *server) revokeKeyPair(w http.ResponseWriter, r *http.Request) error {
	return remove(w, r, "The key pair", s.repo.RevokeKeyPair)
}

// ---- members

type memberJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func memberOut(m orgs.Member) memberJSON {
	return memberJSON{ID: m.ID, Email: m.Email, Role: m.Role, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func (s *server) listMembers(w http.ResponseWriter, r *http.Request) error {
	return serveAll(w, r, auth.RoleReadOnly, s.repo.ListMembers, memberOut, func(m memberJSON) string { return m.ID })
}

func (s *server) getMember(w http.ResponseWriter, r *http.Request) error {
	c, err := auth.CallerWithRole(r.Context(), auth.RoleReadOnly)
	if err != nil {
		return err
	}
	m, err := s.repo.GetMember(r.Context(), c.Tenant.OrgID, r.PathValue("id"))
	if err != nil {
		return apiError(err, "The member")
	}
	httpapi.WriteJSON(w, http.StatusOK, memberOut(m))
	return nil
}

type addMemberRequest struct {
	Email *string `json:"email"`
	Role  *string `json:"role"`
}

func (s *server) addMember(w http.ResponseWriter, r *http.Request) error {
	return change(w, r, auth.RoleAdmin, http.StatusCreated, func(ctx context.Context, c auth.Caller, req addMemberRequest) (memberJSON, error) {
		var missing []httpapi.FieldError
		if req.Email == nil {
			missing = append(missing, httpapi.FieldError{Field: "email", Message: "is required"})
		}
		if req.Role == nil {
			missing = append(missing, httpapi.FieldError{Field: "role", Message: "is required (owner, admin, developer or viewer)"})
		}
		if len(missing) > 0 {
			return memberJSON{}, httpapi.Validation("The request is invalid: required fields are missing.", missing...)
		}
		m, err := s.repo.AddMember(ctx, c.Tenant.OrgID, *req.Email, *req.Role)
		if err != nil {
			return memberJSON{}, apiError(err, "The organisation")
		}
		return memberOut(m), nil
	})
}

type updateMemberRequest struct {
	Role *string `json:"role"`
}

func (s *server) updateMember(w http.ResponseWriter, r *http.Request) error {
	return change(w, r, auth.RoleAdmin, http.StatusOK, func(ctx context.Context, c auth.Caller, req updateMemberRequest) (memberJSON, error) {
		if req.Role == nil {
			return memberJSON{}, httpapi.InvalidField("role", "is required (owner, admin, developer or viewer)")
		}
		m, err := s.repo.UpdateMember(ctx, c.Tenant.OrgID, r.PathValue("id"), *req.Role)
		if err != nil {
			return memberJSON{}, apiError(err, "The member")
		}
		return memberOut(m), nil
	})
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request) error {
	return remove(w, r, "The member", s.repo.RemoveMember)
}

// ---- lists

// serveAll answers one page of the organisation's key pairs or members, listed whole (list)
// and shown by out: they are few, so the list is held in memory, in order; the signed
// cursor holds the last ID of the previous page.
func serveAll[T, J any](w http.ResponseWriter, r *http.Request, need auth.Role, list func(ctx context.Context, orgID string) ([]T, error),
	out func(T) J, id func(J) string) error {
	c, err := auth.CallerWithRole(r.Context(), need)
	if err != nil {
		return err
	}
	all, err := list(r.Context(), c.Tenant.OrgID)
	if err != nil {
		return apiError(err, "The organisation")
	}
	items := make([]J, 0, len(all))
	for _, v := range all {
		items = append(items, out(v))
	}
	return lists.Serve(w, r, lists.Spec[string, J]{Fetch: lists.InMemory(items, id), Position: id})
}
