package webhooks

import (
	"context"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// A fan-out needs the tenant's enabled endpoints, a query returning every one of them, made
// ready to deliver to (targets: URLs checked, secrets opened). The instance keeps the last
// answer per tenant with the version of the tenant's endpoints it was
// read at: every change of an endpoint (create, update, delete, rotation, a health change)
// increments that version in its transaction, and each fan-out reads it in the same call as
// its fan-out record, so it reuses the list only while nothing changed. The time to live only
// bounds what a writer that does not count (an older release during a rollout) could leave
// stale.
const (
	endpointCacheTTL     = time.Minute
	endpointCacheTenants = 1024
)

// Where the version of a tenant's endpoints is kept.
const (
	configCollection = "webhookConfig"
	versionDoc       = "endpoints"
	versionField     = "version"
)

type endpointCache struct {
	mu sync.Mutex
	by map[tenant.Tenant]cachedEndpoints
}

type cachedEndpoints struct {
	version int64
	read    time.Time
	enabled []*target
}

// get returns t's enabled endpoints if they were read at version within the time to live.
func (c *endpointCache) get(t tenant.Tenant, version int64) ([]*target, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.by[t]
	if !ok || e.version != version || time.Since(e.read) > endpointCacheTTL {
		return nil, false
	}
	return e.enabled, true
}

// put keeps t's enabled endpoints as read at version (read before the endpoints were).
func (c *endpointCache) put(t tenant.Tenant, version int64, enabled []*target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil || len(c.by) >= endpointCacheTenants {
		c.by = map[tenant.Tenant]cachedEndpoints{} // bounded: start over rather than track use
	}
	c.by[t] = cachedEndpoints{version: version, read: time.Now(), enabled: enabled}
}

func (s *Service) endpointsVersion(t tenant.Tenant) *firestore.DocumentRef {
	return store.For(s.fs, t).Collection(configCollection).Doc(versionDoc)
}

// touchEndpoints records in tx that t's endpoints changed, so no instance reuses its list.
func (s *Service) touchEndpoints(tx *firestore.Transaction, t tenant.Tenant) error {
	return tx.Set(s.endpointsVersion(t), map[string]any{versionField: firestore.Increment(1)}, firestore.MergeAll)
}

// enabledEndpoints returns t's enabled endpoints as of version, as targets.
func (s *Service) enabledEndpoints(ctx context.Context, t tenant.Tenant, version int64) ([]*target, error) {
	if tgs, ok := s.cache.get(t, version); ok {
		return tgs, nil
	}
	eps, err := lists.Documents(ctx, s.endpoints(t).Where("enabled", "==", true), func(ep Endpoint) Endpoint { return ep })
	if err != nil {
		return nil, err
	}
	now := s.clock()
	tgs := make([]*target, len(eps))
	for i, ep := range eps {
		if tgs[i], err = s.newTarget(ctx, t, ep, now); err != nil {
			return nil, err
		}
	}
	s.cache.put(t, version, tgs)
	return tgs, nil
}

// versionOf reads the version from its document's snapshot (0 before the first change).
func versionOf(snap *firestore.DocumentSnapshot) (int64, error) {
	if !snap.Exists() {
		return 0, nil
	}
	v, err := snap.DataAt(versionField)
	if err != nil {
		return 0, err
	}
	n, _ := v.(int64)
	return n, nil
}
