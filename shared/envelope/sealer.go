package envelope

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Blob layout, version 1:
//
//	format (1 byte, 0x01) | wrapped key length (uint16, big endian) | wrapped key | nonce (12) | ciphertext+tag
const (
	formatV1    byte = 1
	dataKeySize      = 32
	headerSize       = 1 + 2
)

// Defaults for the data key cache: enough for a sync worker's batch, short enough that a
// disabled KMS key version stops working within minutes.
const (
	DefaultCacheSize = 1024
	DefaultCacheTTL  = 5 * time.Minute
)

// Sealer seals and opens records under one KMS key. It is safe for concurrent use.
type Sealer struct {
	km      KeyManager
	keyName string
	size    int
	ttl     time.Duration
	now     func() time.Time
	cache   *keyCache
}

// Option configures a Sealer.
type Option func(*Sealer)

// WithCacheSize bounds the number of unwrapped data keys kept in memory; 0 disables the cache.
func WithCacheSize(n int) Option { return func(s *Sealer) { s.size = n } }

// WithCacheTTL sets how long an unwrapped data key stays cached.
func WithCacheTTL(d time.Duration) Option { return func(s *Sealer) { s.ttl = d } }

// New returns a Sealer that wraps data keys with km under keyName.
func New(km KeyManager, keyName string, opts ...Option) (*Sealer, error) {
	if km == nil || keyName == "" {
		return nil, errors.New("envelope: a key manager and a key name are required")
	}
	s := &Sealer{km: km, keyName: keyName, size: DefaultCacheSize, ttl: DefaultCacheTTL, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.size < 0 || s.ttl <= 0 {
		return nil, fmt.Errorf("envelope: invalid cache size %d or ttl %s", s.size, s.ttl)
	}
	s.cache = newKeyCache(s.size, s.ttl, s.now)
	return s, nil
}

// Seal encrypts plaintext under a fresh data key bound to aad, which must identify the record
// (for bank tokens: the organisation and connection IDs).
func (s *Sealer) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	if len(aad) == 0 {
		return nil, errors.New("envelope: seal: associated data is required")
	}
	dek := make([]byte, dataKeySize)
	defer clear(dek)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("envelope: seal: data key: %w", err)
	}
	wrapped, err := s.km.Encrypt(ctx, s.keyName, dek, aad)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: wrap data key: %w", err)
	}
	if len(wrapped) > 0xFFFF {
		return nil, fmt.Errorf("envelope: seal: wrapped key of %d bytes does not fit the format", len(wrapped))
	}
	gcm, err := newGCM(dek)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	n := gcm.NonceSize()
	blob := make([]byte, headerSize, headerSize+len(wrapped)+n+len(plaintext)+gcm.Overhead())
	blob[0] = formatV1
	binary.BigEndian.PutUint16(blob[1:], uint16(len(wrapped))) // #nosec G115 -- checked above
	blob = append(blob, wrapped...)
	nonceAt := len(blob)
	blob = blob[:nonceAt+n]
	if _, err := rand.Read(blob[nonceAt:]); err != nil {
		return nil, fmt.Errorf("envelope: seal: nonce: %w", err)
	}
	return gcm.Seal(blob, blob[nonceAt:], plaintext, dataAD(aad)), nil
}

// Open decrypts a blob made by Seal with the same aad. Any integrity failure wraps ErrDecrypt.
func (s *Sealer) Open(ctx context.Context, blob, aad []byte) ([]byte, error) {
	if len(aad) == 0 {
		return nil, errors.New("envelope: open: associated data is required")
	}
	if len(blob) < headerSize || blob[0] != formatV1 {
		return nil, fmt.Errorf("%w: unknown blob format", ErrDecrypt)
	}
	wlen := int(binary.BigEndian.Uint16(blob[1:]))
	if len(blob) < headerSize+wlen {
		return nil, fmt.Errorf("%w: truncated blob", ErrDecrypt)
	}
	wrapped, rest := blob[headerSize:headerSize+wlen], blob[headerSize+wlen:]

	id := sha256.Sum256(wrapped)
	gcm, ok := s.cache.get(id)
	if !ok {
		dek, err := s.km.Decrypt(ctx, s.keyName, wrapped, aad)
		if err != nil {
			return nil, fmt.Errorf("envelope: open: unwrap data key: %w", err)
		}
		defer clear(dek)
		if len(dek) != dataKeySize {
			return nil, fmt.Errorf("%w: data key has %d bytes", ErrDecrypt, len(dek))
		}
		if gcm, err = newGCM(dek); err != nil {
			return nil, fmt.Errorf("envelope: open: %w", err)
		}
		s.cache.put(id, dek)
	}
	n := gcm.NonceSize()
	if len(rest) < n+gcm.Overhead() {
		return nil, fmt.Errorf("%w: truncated blob", ErrDecrypt)
	}
	pt, err := gcm.Open(nil, rest[:n], rest[n:], dataAD(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: wrong associated data or tampered blob", ErrDecrypt)
	}
	return pt, nil
}

// dataAD prefixes the format byte to the caller's aad, so a blob cannot be reinterpreted under
// a later format.
func dataAD(aad []byte) []byte {
	ad := make([]byte, 0, 1+len(aad))
	return append(append(ad, formatV1), aad...)
}
