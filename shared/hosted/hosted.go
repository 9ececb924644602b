// Package hosted keeps the sessions of Tok's hosted pages, where a customer picks the bank of
// a consent, payment or VRP consent created without one. The API answers such a request with a link to
// the pages; the link is single-use, short-lived and unguessable, and bound to that one
// consent or payment. Opening it trades it for a cookie scoped to the session's pages (the
// browser never holds an API key), so a forwarded or replayed link finds nothing.
//
// Sessions live in one global collection keyed by their ID; only hashes of the link secret
// and of the cookie are stored.
package hosted

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/random"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// Collection is the global collection of hosted-page sessions.
const Collection = "hostedSessions"

// Prefix is the ID prefix of sessions ("hps_…").
const Prefix = "hps"

// TTL is how long a link and its session live: the time the customer has to pick a bank
// (the bank's SCA then has its own window).
const TTL = 15 * time.Minute

// Kinds of what a session picks the bank for.
const (
	KindConsent    = "consent"
	KindPayment    = "payment"
	KindVRPConsent = "vrp_consent"
)

// CookieName is the session cookie; its Path is the session's pages (CookiePath), so
// several sessions in one browser do not meet.
const CookieName = "tok_hosted"

// Session is one pending bank choice.
type Session struct {
	ID         string `firestore:"id"`
	Env        string `firestore:"env"`
	OrgID      string `firestore:"orgId"`
	Kind       string `firestore:"kind"`
	ResourceID string `firestore:"resourceId"`
	// Locale is the request's locale field ("" to follow the browser).
	Locale     string    `firestore:"locale"`
	LinkHash   string    `firestore:"linkHash"`
	LinkUsed   bool      `firestore:"linkUsed"`
	CookieHash string    `firestore:"cookieHash"`
	Done       bool      `firestore:"done"`
	ExpiresAt  time.Time `firestore:"expiresAt"`
	CreatedAt  time.Time `firestore:"createdAt"`
}

// Tenant is the session's owner.
func (s Session) Tenant() tenant.Tenant { return tenant.Tenant{Env: s.Env, OrgID: s.OrgID} }

// Errors of Open and Get; the pages answer each with its own explanation.
var (
	ErrUnknown = errors.New("hosted: no such session, or not this browser's")
	ErrUsed    = errors.New("hosted: the link was already used")
	ErrExpired = errors.New("hosted: the link has expired")
)

// New makes a session for the consent or payment resourceID of t, and the secret of its
// link (Link).
func New(t tenant.Tenant, kind, resourceID, locale string, now time.Time) (Session, string) {
	secret := random.Token(32)
	return Session{ID: ids.New(Prefix), Env: t.Env, OrgID: t.OrgID, Kind: kind, ResourceID: resourceID, Locale: locale,
		LinkHash: hash("link", secret), ExpiresAt: now.Add(TTL), CreatedAt: now}, secret
}

// Link is the URL the API answers as redirectUrl: publicURL is the API's base URL without /v1.
func (s Session) Link(publicURL, secret string) string {
	return strings.TrimSuffix(publicURL, "/") + "/v1/hosted/" + s.ID + "/open/" + secret
}

// CookiePath is the path of the session's pages, the cookie's Path.
func CookiePath(sessionID string) string { return "/v1/hosted/" + sessionID }

// CSRF is the anti-forgery token of the session's forms: derived from the cookie, so a page
// of another origin can neither read nor compute it.
func CSRF(cookie string) string { return hash("csrf", cookie) }

// CheckCSRF reports whether token is the form token of cookie, in constant time.
func CheckCSRF(cookie, token string) bool {
	return cookie != "" && subtle.ConstantTimeCompare([]byte(CSRF(cookie)), []byte(token)) == 1
}

func hash(purpose, secret string) string {
	sum := sha256.Sum256([]byte("tok-hosted-" + purpose + "\x00" + secret))
	return hex.EncodeToString(sum[:])
}

func equalHash(stored, purpose, secret string) bool {
	return stored != "" && secret != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(hash(purpose, secret))) == 1
}

// Store reads and writes sessions.
type Store struct {
	Client *firestore.Client
}

func (st Store) ref(id string) *firestore.DocumentRef {
	return st.Client.Collection(Collection).Doc(id)
}

// Create stores a new session in tx, beside the consent or payment it picks the bank for.
func (st Store) Create(tx *firestore.Transaction, s Session) error {
	return tx.Create(st.ref(s.ID), s)
}

// Open trades the link's secret for the session's cookie, exactly once. The browser that
// opened it and presents its cookie (cookie) may open it again and gets no new cookie ("").
func (st Store) Open(ctx context.Context, id, secret, cookie string, now time.Time) (Session, string, error) {
	if !ids.Valid(Prefix, id) || len(secret) > 64 {
		return Session{}, "", ErrUnknown
	}
	var (
		s      Session
		issued string
	)
	err := st.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if s, err = st.read(tx, id); err != nil {
			return err
		}
		if !equalHash(s.LinkHash, "link", secret) {
			return ErrUnknown
		}
		switch {
		case s.LinkUsed && equalHash(s.CookieHash, "cookie", cookie) && !s.Done:
			issued = ""
		case s.LinkUsed || s.Done:
			return ErrUsed
		case !now.Before(s.ExpiresAt):
			return ErrExpired
		default:
			issued = random.Token(32)
			s.LinkUsed, s.CookieHash = true, hash("cookie", issued)
			return tx.Update(st.ref(id), []firestore.Update{{Path: "linkUsed", Value: true}, {Path: "cookieHash", Value: s.CookieHash}})
		}
		if !now.Before(s.ExpiresAt) {
			return ErrExpired
		}
		return nil
	})
	if err != nil {
		return Session{}, "", err
	}
	return s, issued, nil
}

func (st Store) read(tx *firestore.Transaction, id string) (Session, error) {
	return store.GetTx[Session](tx, st.ref(id), "hosted session", ErrUnknown)
}

// Get is the session of the browser holding cookie, while the customer has not finished.
func (st Store) Get(ctx context.Context, id, cookie string, now time.Time) (Session, error) {
	if !ids.Valid(Prefix, id) {
		return Session{}, ErrUnknown
	}
	s, err := store.Get[Session](ctx, st.ref(id), "hosted session", ErrUnknown)
	if err != nil {
		return Session{}, err
	}
	return s, s.usable(cookie, now)
}

func (s Session) usable(cookie string, now time.Time) error {
	switch {
	case !equalHash(s.CookieHash, "cookie", cookie):
		return ErrUnknown
	case s.Done:
		return ErrUsed
	case !now.Before(s.ExpiresAt):
		return ErrExpired
	}
	return nil
}

// Finish ends the session in tx, once the customer went on to the bank or cancelled: the
// same cookie then opens nothing. It fails with the reason if the session is no longer
// usable, so of two concurrent submissions only one goes on.
func (st Store) Finish(tx *firestore.Transaction, id, cookie string, now time.Time) error {
	s, err := st.read(tx, id)
	if err != nil {
		return err
	}
	if err := s.usable(cookie, now); err != nil {
		return err
	}
	return tx.Update(st.ref(id), []firestore.Update{{Path: "done", Value: true}})
}
