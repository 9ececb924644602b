package envelope

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

var (
	token = []byte(`{"access_token":"at-123","refresh_token":"rt-456"}`)
	aadA  = []byte("org_01HZY|con_01HZY")
	aadB  = []byte("org_01HZY|con_02HZY")
)

func mustSealer(t testing.TB, km KeyManager, opts ...Option) *Sealer {
	t.Helper()
	s, err := New(km, "projects/p/locations/global/keyRings/tok/cryptoKeys/bank-tokens", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	ctx := context.Background()
	km := NewInMemory()
	s := mustSealer(t, km)
	blob, err := s.Seal(ctx, token, aadA)
	if err != nil {
		t.Fatal(err)
	}
	if blob[0] != formatV1 || bytes.Contains(blob, token) {
		t.Fatalf("blob format byte %d or plaintext visible", blob[0])
	}
	again, err := s.Seal(ctx, token, aadA)
	if err != nil {
		t.Fatal(err)
	}
	unwrap := func(b []byte) []byte {
		t.Helper()
		wlen := int(b[1])<<8 | int(b[2])
		dek, err := km.Decrypt(ctx, s.keyName, b[headerSize:headerSize+wlen], aadA)
		if err != nil || len(dek) != dataKeySize {
			t.Fatalf("unwrap: %d bytes, %v", len(dek), err)
		}
		return dek
	}
	if bytes.Equal(unwrap(blob), unwrap(again)) {
		t.Fatal("two seals used the same data key")
	}
	got, err := s.Open(ctx, blob, aadA)
	if err != nil || !bytes.Equal(got, token) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Seal(ctx, token, nil); err == nil {
		t.Fatal("Seal accepted empty associated data")
	}
	if _, err := s.Open(ctx, blob, nil); err == nil {
		t.Fatal("Open accepted empty associated data")
	}
	if _, err := New(nil, "k"); err == nil {
		t.Fatal("New accepted a nil key manager")
	}
	if _, err := New(NewInMemory(), "k", WithCacheTTL(0)); err == nil {
		t.Fatal("New accepted a zero ttl")
	}
}

func TestOpenFailsClosed(t *testing.T) {
	ctx := context.Background()
	for _, cacheSize := range []int{0, DefaultCacheSize} {
		t.Run(fmt.Sprintf("cache=%d", cacheSize), func(t *testing.T) {
			km := &counting{KeyManager: NewInMemory()}
			s := mustSealer(t, km, WithCacheSize(cacheSize))
			blob, err := s.Seal(ctx, token, aadA)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Open(ctx, blob, aadA); err != nil { // warms the cache when there is one
				t.Fatal(err)
			}
			if _, err := s.Open(ctx, blob, aadB); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("wrong aad: %v, want ErrDecrypt", err)
			}
			wlen := int(blob[1])<<8 | int(blob[2])
			regions := map[string]int{
				"format": 0, "length": 2, "wrapped key": headerSize + wlen/2,
				"nonce": headerSize + wlen + 1, "ciphertext": headerSize + wlen + 14, "tag": len(blob) - 1,
			}
			for region, i := range regions {
				bad := bytes.Clone(blob)
				bad[i] ^= 0x01
				if _, err := s.Open(ctx, bad, aadA); !errors.Is(err, ErrDecrypt) {
					t.Errorf("%s byte %d flipped: %v, want ErrDecrypt", region, i, err)
				}
			}
			for _, n := range []int{0, 2, headerSize + wlen, len(blob) - 1} {
				if _, err := s.Open(ctx, blob[:n], aadA); !errors.Is(err, ErrDecrypt) {
					t.Errorf("truncated to %d: %v, want ErrDecrypt", n, err)
				}
			}
		})
	}
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	clock := time.Unix(1_700_000_000, 0)
	km := &counting{KeyManager: NewInMemory()}
	s := mustSealer(t, km, WithCacheSize(2), WithCacheTTL(time.Minute), withClock(func() time.Time { return clock }))
	var blobs [3][]byte
	for i := range blobs {
		var err error
		if blobs[i], err = s.Seal(ctx, token, aadA); err != nil {
			t.Fatal(err)
		}
	}
	open := func(i int, wantCalls int64) {
		t.Helper()
		before := km.decrypts.Load()
		if _, err := s.Open(ctx, blobs[i], aadA); err != nil {
			t.Fatal(err)
		}
		if got := km.decrypts.Load() - before; got != wantCalls {
			t.Fatalf("open blob %d: %d KMS calls, want %d", i, got, wantCalls)
		}
	}
	open(0, 1)
	open(0, 0) // warm
	open(1, 1)
	open(0, 0) // blob 0 is now the most recently used
	open(2, 1) // evicts blob 1, the least recently used
	open(0, 0)
	open(1, 1)

	clock = clock.Add(time.Minute)
	open(1, 1) // expired
}

func TestEvictionZeroesDataKey(t *testing.T) {
	ctx := context.Background()
	s := mustSealer(t, NewInMemory(), WithCacheSize(1))
	first, err := s.Seal(ctx, token, aadA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, first, aadA); err != nil {
		t.Fatal(err)
	}
	wlen := int(first[1])<<8 | int(first[2])
	id := sha256.Sum256(first[headerSize : headerSize+wlen])
	dek := s.cache.byKey[id].Value.(*cacheEntry).dek
	if bytes.Equal(dek, make([]byte, dataKeySize)) {
		t.Fatal("cached data key is already zero")
	}
	second, err := s.Seal(ctx, token, aadB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, second, aadB); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dek, make([]byte, dataKeySize)) {
		t.Fatal("evicted data key was not zeroed")
	}
	if _, err := s.Open(ctx, first, aadA); err != nil {
		t.Fatalf("reopen after eviction: %v", err)
	}
}

// TestRotation uses the official client against the emulator: after the KMS key's primary
// version changes, old blobs still open and new blobs use the new version.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	client, key := emulatedKMS(t)
	s, err := New(NewKMS(client), key, WithCacheSize(0))
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Seal(ctx, token, aadA)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := client.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: key, CryptoKeyVersion: &kmspb.CryptoKeyVersion{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: key, CryptoKeyVersionId: "2"}); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.Seal(ctx, token, aadA)
	if err != nil {
		t.Fatal(err)
	}
	for name, blob := range map[string][]byte{"old": old, "new": fresh} {
		if got, err := s.Open(ctx, blob, aadA); err != nil || !bytes.Equal(got, token) {
			t.Fatalf("%s blob after rotation: %q, %v", name, got, err)
		}
		if _, err := s.Open(ctx, blob, aadB); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%s blob with wrong aad: %v, want ErrDecrypt", name, err)
		}
	}
	// Disabling the new version proves the new blob really depends on it.
	if _, err := client.DestroyCryptoKeyVersion(ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: v2.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, fresh, aadA); err == nil {
		t.Fatal("new blob opened after its key version was destroyed")
	}
	if _, err := s.Open(ctx, old, aadA); err != nil {
		t.Fatalf("old blob after destroying version 2: %v", err)
	}
}

func withClock(now func() time.Time) Option { return func(s *Sealer) { s.now = now } }

func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	client, key := emulatedKMS(b)
	for _, bc := range []struct {
		name string
		size int
	}{{"warm", DefaultCacheSize}, {"cold-kms", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := New(NewKMS(client), key, WithCacheSize(bc.size))
			if err != nil {
				b.Fatal(err)
			}
			blob, err := s.Seal(ctx, token, aadA)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Open(ctx, blob, aadA); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Open(ctx, blob, aadA); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
