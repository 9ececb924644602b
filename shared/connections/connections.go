// Package connections is Tok's record of bank connections, consents and accounts (AIS), and
// Service, which puts them together with the token vault (shared/tokenvault), the connector
// registry (shared/connectors) and the events a connection's life publishes.
//
// A connection is one organisation's link to one bank for one PSU; it outlives its consents
// (a renewal puts a new consent on the same connection, so account IDs and history stay).
// Layout, all under the tenant (store.Scope):
//
//	envs/{env}/orgs/{org}/consents/{con_…}     Consent: the PSD2 consent and its redirect flow
//	envs/{env}/orgs/{org}/connections/{cxn_…}  Connection: current consent, sealed tokens, sync times
//	envs/{env}/orgs/{org}/accounts/{acc_…}     Account: derived ID (bank + IBAN), balances
//
// Bank tokens are sealed with shared/envelope (AES-256-GCM data key wrapped by Cloud KMS) with
// the associated data orgId + "/" + connectionId; only Service.Session opens them.
package connections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/tokenvault"
)

// PrefixConnection is the ID prefix of connections ("cxn_…").
const PrefixConnection = "cxn"

// Collections under the tenant.
const (
	CollConsents    = "consents"
	CollConnections = "connections"
	CollAccounts    = "accounts"
)

// Consent statuses (the API's).
const (
	ConsentAwaiting   = "AWAITING_AUTHORIZATION"
	ConsentAuthorized = "AUTHORIZED"
	ConsentRejected   = "REJECTED"
	ConsentFailed     = "FAILED"
	ConsentRevoked    = "REVOKED"
	ConsentExpired    = "EXPIRED"
	// ConsentReplaced: a renewal authorised a newer consent on the same connection
	// (Consent.ReplacedBy names it).
	ConsentReplaced = "REPLACED"
)

// Who revoked a consent (Consent.RevokedBy).
const (
	RevokedByBank         = "bank"         // the bank reported it revoked (by the PSU or the bank)
	RevokedByOrganisation = "organisation" // DELETE /v1/consents/{id}
)

// Connection statuses. Only an ACTIVE connection whose ValidUntil is in the future may be
// used (Connection.EffectiveStatus).
const (
	StatusActive  = "ACTIVE"
	StatusExpired = "EXPIRED"
	StatusRevoked = "REVOKED"
)

// Event types this package's users publish.
const (
	EventConsentAuthorized = "consent.authorized"
	EventConsentRejected   = "consent.rejected"
	EventConsentFailed     = "consent.failed"
	EventConsentRevoked    = "consent.revoked"
	EventConsentExpiring   = "consent.expiring"
	EventConsentExpired    = "consent.expired"
)

// Connection is one organisation's link to one bank for one PSU.
type Connection struct {
	ID              string    `firestore:"id"`
	Env             string    `firestore:"env"`
	OrgID           string    `firestore:"orgId"`
	BankID          string    `firestore:"bankId"`
	ConsentID       string    `firestore:"consentId"`     // the current consent
	BankConsentID   string    `firestore:"bankConsentId"` // the bank's ID of the current consent
	Status          string    `firestore:"status"`
	Access          []string  `firestore:"access"`
	ValidUntil      time.Time `firestore:"validUntil"`
	FrequencyPerDay int       `firestore:"frequencyPerDay"`
	// Tokens is the sealed bank.Tokens (JSON), nil once destroyed.
	Tokens         []byte            `firestore:"tokens"`
	TokenExpiresAt time.Time         `firestore:"tokenExpiresAt"`
	RefreshLease   *tokenvault.Lease `firestore:"refreshLease"`
	LastSyncAt     *time.Time        `firestore:"lastSyncAt"`
	NextSyncAt     *time.Time        `firestore:"nextSyncAt"`
	// ExpiringNotified is the consent for which consent.expiring was published.
	ExpiringNotified string    `firestore:"expiringNotified"`
	CreatedAt        time.Time `firestore:"createdAt"`
	UpdatedAt        time.Time `firestore:"updatedAt"`
}

// EffectiveStatus is Status, with an ACTIVE connection past ValidUntil reported EXPIRED
// (reads check expiry themselves; the consentexpiry function records it).
func (c Connection) EffectiveStatus(now time.Time) string {
	if c.Status == StatusActive && !c.ValidUntil.IsZero() && !now.Before(c.ValidUntil) {
		return StatusExpired
	}
	return c.Status
}

// Tenant is the connection's owner.
func (c Connection) Tenant() tenant.Tenant { return tenant.Tenant{Env: c.Env, OrgID: c.OrgID} }

// AAD is the associated data sealing the connection's tokens.
func AAD(orgID, connectionID string) []byte { return []byte(orgID + "/" + connectionID) }

// sealed is what the token vault needs of the connection.
func (c Connection) sealed() tokenvault.Sealed {
	return tokenvault.Sealed{Tokens: c.Tokens, TokenExpiresAt: c.TokenExpiresAt, RefreshLease: c.RefreshLease}
}

// Consent is a PSD2 consent as Tok records it.
type Consent struct {
	ID              string     `firestore:"id"`
	Env             string     `firestore:"env"`
	OrgID           string     `firestore:"orgId"`
	BankID          string     `firestore:"bankId"`
	ConnectionID    string     `firestore:"connectionId"`
	BankConsentID   string     `firestore:"bankConsentId"`
	Status          string     `firestore:"status"`
	Access          []string   `firestore:"access"`
	CallbackURL     string     `firestore:"callbackUrl"`
	RedirectURL     string     `firestore:"redirectUrl"`
	AuthorizeBy     time.Time  `firestore:"authorizeBy"`
	ValidUntil      time.Time  `firestore:"validUntil"`
	FrequencyPerDay int        `firestore:"frequencyPerDay"`
	Renews          string     `firestore:"renews"`
	ReplacedBy      string     `firestore:"replacedBy"`
	StateHash       string     `firestore:"stateHash"`
	Error           string     `firestore:"error"`
	AuthorizedAt    *time.Time `firestore:"authorizedAt"`
	RevokedAt       *time.Time `firestore:"revokedAt"`
	RevokedBy       string     `firestore:"revokedBy"` // RevokedByBank or RevokedByOrganisation
	CreatedAt       time.Time  `firestore:"createdAt"`
	UpdatedAt       time.Time  `firestore:"updatedAt"`
}

// EffectiveStatus is Status with an AUTHORIZED consent past ValidUntil reported EXPIRED,
// and one still awaiting authorisation past AuthorizeBy reported FAILED.
func (c Consent) EffectiveStatus(now time.Time) string {
	switch {
	case c.Status == ConsentAuthorized && !now.Before(c.ValidUntil):
		return ConsentExpired
	case c.Status == ConsentAwaiting && !now.Before(c.AuthorizeBy):
		return ConsentFailed
	}
	return c.Status
}

// Balance is one balance of an account, amount in the wire format (4 decimals).
type Balance struct {
	Type          string `firestore:"type" json:"type"`
	Amount        string `firestore:"amount" json:"amount"`
	Currency      string `firestore:"currency" json:"currency"`
	ReferenceDate string `firestore:"referenceDate" json:"referenceDate,omitempty"`
}

// Account is one bank account reached through a connection.
type Account struct {
	ID           string     `firestore:"id"`
	ConnectionID string     `firestore:"connectionId"`
	ConsentID    string     `firestore:"consentId"`
	BankID       string     `firestore:"bankId"`
	BankName     string     `firestore:"bankName"`
	ResourceID   string     `firestore:"resourceId"` // the bank's account ID
	IBAN         string     `firestore:"iban"`
	Currency     string     `firestore:"currency"`
	Name         string     `firestore:"name"`
	Product      string     `firestore:"product"`
	OwnerName    string     `firestore:"ownerName"`
	Balances     []Balance  `firestore:"balances"`
	BalancesAt   *time.Time `firestore:"balancesAt"`
	LastSyncAt   *time.Time `firestore:"lastSyncAt"`
	CreatedAt    time.Time  `firestore:"createdAt"`
	UpdatedAt    time.Time  `firestore:"updatedAt"`
}

// AccountID is the stable ID of a bank account in a tenant: the same IBAN (or, without one,
// the bank's resource ID) at the same bank keeps its ID across consents and connections.
func AccountID(t tenant.Tenant, bankID, iban, resourceID string) string {
	key := strings.ToUpper(strings.ReplaceAll(iban, " ", ""))
	if key == "" {
		key = "resource:" + resourceID
	}
	return ids.Derive(ids.Account, t.Env, t.OrgID, bankID, key)
}

// ErrNotFound is returned for a missing record (or one of another tenant: the scope cannot
// even address it).
var ErrNotFound = errors.New("not found")

// Repo reads and writes connections, consents and accounts of tenants.
type Repo struct {
	Client *firestore.Client
}

// NewRepo returns a Repo on client.
func NewRepo(client *firestore.Client) *Repo { return &Repo{Client: client} }

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// Get returns a connection of the scope's tenant.
func (r *Repo) Get(ctx context.Context, scope store.Scope, id string) (Connection, error) {
	return store.GetID[Connection](ctx, scope.Collection(CollConnections), PrefixConnection, id, "connection", ErrNotFound)
}

// GetConsent returns a consent of the scope's tenant.
func (r *Repo) GetConsent(ctx context.Context, scope store.Scope, id string) (Consent, error) {
	return store.GetID[Consent](ctx, scope.Collection(CollConsents), ids.Consent, id, "consent", ErrNotFound)
}

// GetAccount returns an account of the scope's tenant.
func (r *Repo) GetAccount(ctx context.Context, scope store.Scope, id string) (Account, error) {
	return store.GetID[Account](ctx, scope.Collection(CollAccounts), ids.Account, id, "account", ErrNotFound)
}

// ConnectionsByID reads several connections of the tenant at once; missing ones are absent.
func (r *Repo) ConnectionsByID(ctx context.Context, scope store.Scope, idList []string) (map[string]Connection, error) {
	out := map[string]Connection{}
	if len(idList) == 0 {
		return out, nil
	}
	refs := make([]*firestore.DocumentRef, 0, len(idList))
	seen := map[string]bool{}
	for _, id := range idList {
		if !seen[id] && ids.Valid(PrefixConnection, id) {
			seen[id] = true
			refs = append(refs, scope.Collection(CollConnections).Doc(id))
		}
	}
	snaps, err := r.Client.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("get connections: %w", err)
	}
	for _, s := range snaps {
		if !s.Exists() {
			continue
		}
		var c Connection
		if err := s.DataTo(&c); err != nil {
			return nil, fmt.Errorf("decode connection %s: %w", s.Ref.ID, err)
		}
		out[c.ID] = c
	}
	return out, nil
}

// TenantOf reads the tenant from a document path envs/{env}/orgs/{org}/{coll}/{id}, for
// collection-group queries; ok is false for documents elsewhere.
func TenantOf(ref *firestore.DocumentRef) (tenant.Tenant, bool) {
	org := ref.Parent.Parent
	if org == nil || org.Parent == nil || org.Parent.ID != "orgs" {
		return tenant.Tenant{}, false
	}
	env := org.Parent.Parent
	if env == nil || env.Parent == nil || env.Parent.ID != "envs" || env.Parent.Parent != nil {
		return tenant.Tenant{}, false
	}
	t := tenant.Tenant{Env: env.ID, OrgID: org.ID}
	return t, t.Valid()
}
