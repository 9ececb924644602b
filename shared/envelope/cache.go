package envelope

import (
	"container/list"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"
)

// keyCache is a bounded LRU of unwrapped data keys with a time to live, keyed by the SHA-256 of
// the wrapped key. A hit only saves the KMS call: the AES-GCM layer still checks the caller's
// associated data, so a cached key never opens a blob moved to another record.
type keyCache struct {
	size int
	ttl  time.Duration
	now  func() time.Time

	mu    sync.Mutex
	order *list.List // front is most recently used; values are *cacheEntry
	byKey map[[sha256.Size]byte]*list.Element
}

type cacheEntry struct {
	id      [sha256.Size]byte
	dek     []byte
	expires time.Time
}

func newKeyCache(size int, ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{size: size, ttl: ttl, now: now, order: list.New(), byKey: map[[sha256.Size]byte]*list.Element{}}
}

// get returns an AEAD for the data key cached under id. The AEAD is built while the lock is
// held, because eviction zeroes the key bytes and AES copies them into its own schedule.
func (c *keyCache) get(id [sha256.Size]byte) (cipher.AEAD, bool) {
	if c.size <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[id]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	gcm, err := newGCM(e.dek)
	if err != nil {
		return nil, false
	}
	c.order.MoveToFront(el)
	return gcm, true
}

// put stores a copy of dek under id, evicting the least recently used entry when full.
func (c *keyCache) put(id [sha256.Size]byte, dek []byte) {
	if c.size <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[id]; ok {
		c.remove(el)
	}
	for c.order.Len() >= c.size {
		c.remove(c.order.Back())
	}
	e := &cacheEntry{id: id, dek: append([]byte(nil), dek...), expires: c.now().Add(c.ttl)}
	c.byKey[id] = c.order.PushFront(e)
}

// remove drops an entry and zeroes its key bytes. The caller holds c.mu.
func (c *keyCache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	clear(e.dek)
	delete(c.byKey, e.id)
	c.order.Remove(el)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("envelope: data key: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("envelope: data key: %w", err)
	}
	return gcm, nil
}
