// Package idempotency makes every POST endpoint honour the Idempotency-Key header: the first
// request with a key runs and its response is stored under the tenant for 24 hours; a
// retry with the same key and the same request gets the same response again without
// running anything; the same key with a different request is 422 IDEMPOTENCY_KEY_REUSED.
// Concurrent duplicates are serialised through a pending record that exactly one of them
// creates, so exactly one of them runs the handler.
package idempotency

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// ReplayedHeader is set on a response served from the store.
const ReplayedHeader = "Idempotent-Replayed"

// Collection holds the records under the tenant (envs/{env}/orgs/{org}/idempotencyKeys).
const Collection = "idempotencyKeys"

// Defaults.
const (
	TTL        = 24 * time.Hour
	PendingTTL = 60 * time.Second
	maxKeyLen  = 255
	// storeTimeout bounds storing the answer after the handler ran; an answer not stored
	// leaves the key pending until PendingTTL.
	storeTimeout = 5 * time.Second
)

// record is the stored state of one key. ExpiresAt is the Firestore TTL field.
type record struct {
	RequestHash string `firestore:"requestHash"`
	State       string `firestore:"state"` // pending | done
	Status      int    `firestore:"status"`
	ContentType string `firestore:"contentType"`
	Location    string `firestore:"location"`
	Body        []byte `firestore:"body"` // sealed: see sealer

	LockedUntil time.Time `firestore:"lockedUntil"`
	ExpiresAt   time.Time `firestore:"expiresAt"`
	CreatedAt   time.Time `firestore:"createdAt"`
}

// Store keeps idempotency records in Firestore.
type Store struct {
	Client *firestore.Client
	// Secret (the API key pepper) and the client's Idempotency-Key together derive the key
	// that seals each stored response: a response can carry a secret shown once (a new API
	// key pair, a webhook signing secret), and the database alone must not reveal it.
	Secret []byte
	Now    func() time.Time
	// Wait bounds how long a duplicate waits for the first request to finish (default 20 s).
	Wait time.Duration
}

func (s *Store) now() time.Time { return clock.Now(s.Now) }

func reusedError() *httpapi.Error {
	return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: httpapi.CodeIdempotencyKeyReused,
		Message: "This Idempotency-Key was already used with a different request. Use a new key for a new request."}
}

// Wrap returns h honouring Idempotency-Key. Requests without the header run h directly.
// Responses with status 5xx are not stored (the client may retry with the same key).
func (s *Store) Wrap(h httpapi.HandlerFunc) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get(Header)
		if key == "" {
			return h(w, r)
		}
		if len(key) > maxKeyLen {
			return httpapi.InvalidField(Header, fmt.Sprintf("must be at most %d characters", maxKeyLen))
		}
		t, err := tenant.From(r.Context())
		if err != nil {
			return err
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, httpapi.MaxBodyBytes))
		if err != nil {
			return &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Code: httpapi.CodePayloadTooLarge, Message: "The request body is too large."}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.New()
		// The query string is part of the request: the same key with other parameters is
		// another request.
		_, _ = fmt.Fprintf(sum, "%s %s?%s\n", r.Method, r.URL.Path, r.URL.Query().Encode())
		sum.Write(body)
		hash := hex.EncodeToString(sum.Sum(nil))
		keySum := sha256.Sum256([]byte(key))
		ref := store.For(s.Client, t).Collection(Collection).Doc(hex.EncodeToString(keySum[:]))
		seal, err := s.sealer(key, ref.Path)
		if err != nil {
			return err
		}

		rec, run, err := s.claim(r.Context(), ref, hash)
		if err != nil {
			return err
		}
		if !run {
			if len(rec.Body) < seal.NonceSize() {
				return errors.New("idempotency: stored response is not sealed")
			}
			body, err := seal.Open(nil, rec.Body[:seal.NonceSize()], rec.Body[seal.NonceSize():], nil)
			if err != nil {
				return fmt.Errorf("idempotency: open stored response: %w", err)
			}
			replay(w, rec, body)
			return nil
		}
		// Run the handler into a recorder, then store and send what it answered.
		out := httpapi.NewRecorder()
		if err := h(out, r); err != nil {
			httpapi.WriteError(out, r, err)
		}
		out.WriteHeader(http.StatusOK) // kept only when the handler wrote no status
		status := out.Status()
		// Stored even when the client has gone, within a deadline of its own.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
		defer cancel()
		if status >= 500 {
			_, _ = ref.Delete(ctx)
		} else {
			now := s.now()
			nonce := make([]byte, seal.NonceSize(), seal.NonceSize()+len(out.Body())+seal.Overhead())
			_, _ = rand.Read(nonce)
			_, _ = ref.Set(ctx, record{RequestHash: hash, State: "done", Status: status,
				ContentType: out.Header().Get("Content-Type"), Location: out.Header().Get("Location"),
				Body: seal.Seal(nonce, nonce, out.Body(), nil), ExpiresAt: now.Add(TTL), CreatedAt: now})
		}
		out.Replay(w)
		return nil
	}
}

// Middleware honours Idempotency-Key on every POST that next serves. shared/platform puts
// it in front of every authenticated function, so no creating endpoint can forget it.
func (s *Store) Middleware(next http.Handler) http.Handler {
	h := s.Wrap(func(w http.ResponseWriter, r *http.Request) error {
		next.ServeHTTP(w, r)
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if err := h(w, r); err != nil {
			httpapi.WriteError(w, r, err)
		}
	})
}

// claim returns the stored response (run false), or claims the key for this request (run
// true). The claim is a Create, which exactly one of any number of concurrent duplicates
// wins without a transaction (transactions on one hot document queue behind each other);
// the others read the record and wait while it is pending. A stale record (expired, or a
// pending claim whose holder died) is deleted under a precondition on its update time, so
// one of the waiters removes it and the race to Create starts again.
func (s *Store) claim(ctx context.Context, ref *firestore.DocumentRef, hash string) (record, bool, error) {
	wait := s.Wait
	if wait <= 0 {
		wait = 20 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		now := s.now()
		_, err := ref.Create(ctx, record{RequestHash: hash, State: "pending", LockedUntil: now.Add(PendingTTL), ExpiresAt: now.Add(TTL), CreatedAt: now})
		if err == nil {
			return record{}, true, nil
		}
		// Aborted: many concurrent Creates of one document can outlast its lock (the
		// emulator's 2 s); another duplicate may hold the claim, so read it as if it did.
		if c := status.Code(err); c != codes.AlreadyExists && c != codes.Aborted {
			return record{}, false, fmt.Errorf("idempotency: claim: %w", err)
		}
		snap, err := ref.Get(ctx)
		if status.Code(err) == codes.NotFound {
			continue // the holder answered 5xx and let the key go
		}
		if err != nil {
			return record{}, false, fmt.Errorf("idempotency: read: %w", err)
		}
		var rec record
		if err := snap.DataTo(&rec); err != nil {
			return record{}, false, fmt.Errorf("idempotency: decode: %w", err)
		}
		if !rec.ExpiresAt.After(now) || (rec.State != "done" && !rec.LockedUntil.After(now)) {
			if _, err := ref.Delete(ctx, firestore.LastUpdateTime(snap.UpdateTime)); err != nil && status.Code(err) != codes.FailedPrecondition {
				return record{}, false, fmt.Errorf("idempotency: remove stale record: %w", err)
			}
			continue
		}
		if rec.RequestHash != hash {
			return record{}, false, reusedError()
		}
		if rec.State == "done" {
			return rec, false, nil
		}
		if time.Now().After(deadline) {
			return record{}, false, httpapi.Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
		}
		select {
		case <-ctx.Done():
			return record{}, false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sealer is the AES-256-GCM AEAD for one key's stored response, its key derived with
// HKDF-SHA256 from the store's secret, the record's path and the client's Idempotency-Key.
func (s *Store) sealer(idempotencyKey, path string) (cipher.AEAD, error) {
	if len(s.Secret) == 0 {
		return nil, errors.New("idempotency: no secret to seal responses with")
	}
	k, err := hkdf.Key(sha256.New, s.Secret, []byte(path), "tok idempotent response v1\x00"+idempotencyKey, 32)
	if err != nil {
		return nil, fmt.Errorf("idempotency: derive key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	return cipher.NewGCM(block)
}

func replay(w http.ResponseWriter, rec record, body []byte) {
	if rec.ContentType != "" {
		w.Header().Set("Content-Type", rec.ContentType)
	}
	if rec.Location != "" {
		w.Header().Set("Location", rec.Location)
	}
	w.Header().Set(ReplayedHeader, "true")
	w.WriteHeader(rec.Status)
	_, _ = w.Write(body) //nolint:gosec // G705: the response Tok itself produced for this key, replayed
}
