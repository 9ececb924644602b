package keylock

import (
	"sync"
	"testing"
)

// Holders of one key never overlap; other keys do not wait; no mutex is left behind.
func TestLocks(t *testing.T) {
	var l Locks
	var wg sync.WaitGroup
	inside := map[string]int{}
	var mu sync.Mutex
	for i := range 200 {
		wg.Go(func() {
			key := []string{"a", "b"}[i%2]
			unlock := l.Lock(key)
			mu.Lock()
			inside[key]++
			if inside[key] > 1 {
				t.Errorf("two holders of %s", key)
			}
			mu.Unlock()
			mu.Lock()
			inside[key]--
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	if len(l.locks) != 0 {
		t.Fatalf("%d mutexes left", len(l.locks))
	}
}
