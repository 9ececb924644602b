// Package secrets reads Secret Manager values (API key peppers, webhook signing keys, bank
// client credentials) with a short in-memory cache, so a function instance does not call
// Secret Manager on every request. Secret values never appear in errors or logs.
package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"golang.org/x/sync/singleflight"
)

// fetchTimeout bounds a shared fetch, which outlives the caller that started it.
const fetchTimeout = 30 * time.Second

// ErrCorrupt reports a payload whose CRC32C is missing or does not match its data.
var ErrCorrupt = errors.New("payload checksum missing or mismatched")

// Reader reads secrets of one project. It is safe for concurrent use.
type Reader struct {
	client  *secretmanager.Client
	project string
	ttl     time.Duration
	now     func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	value   []byte
	expires time.Time
}

// New returns a Reader for project whose Get caches each secret's latest value for ttl.
func New(client *secretmanager.Client, project string, ttl time.Duration) *Reader {
	return &Reader{client: client, project: project, ttl: ttl, now: time.Now, cache: map[string]cached{}}
}

// Get returns the latest enabled version of secretID, from the cache when it is fresher than the
// ttl. Concurrent callers that miss the cache share one fetch.
func (r *Reader) Get(ctx context.Context, secretID string) ([]byte, error) {
	r.mu.Lock()
	c, ok := r.cache[secretID]
	r.mu.Unlock()
	if ok && r.now().Before(c.expires) {
		return bytes.Clone(c.value), nil
	}
	ch := r.group.DoChan(secretID, func() (any, error) {
		// The fetch is shared, so one caller's cancellation must not fail the others.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		v, err := r.access(fctx, secretID, "latest")
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.cache[secretID] = cached{value: v, expires: r.now().Add(r.ttl)}
		r.mu.Unlock()
		return v, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("secrets: get %s: %w", secretID, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return bytes.Clone(res.Val.([]byte)), nil
	}
}

// Version returns a specific version ("3", or "latest") of secretID, uncached: pinned reads
// are rare (rotation tooling) and must see a version being disabled at once.
func (r *Reader) Version(ctx context.Context, secretID, version string) ([]byte, error) {
	return r.access(ctx, secretID, version)
}

func (r *Reader) access(ctx context.Context, secretID, version string) ([]byte, error) {
	name := fmt.Sprintf("projects/%s/secrets/%s/versions/%s", r.project, secretID, version)
	resp, err := r.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return nil, fmt.Errorf("secrets: access %s: %w", name, err)
	}
	p := resp.GetPayload()
	if p.DataCrc32C == nil || int64(crc32.Checksum(p.GetData(), crc32.MakeTable(crc32.Castagnoli))) != p.GetDataCrc32C() {
		return nil, fmt.Errorf("secrets: access %s: %w", name, ErrCorrupt)
	}
	return p.GetData(), nil
}
