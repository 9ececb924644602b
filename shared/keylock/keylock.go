// Package keylock serialises work on one key within a process. Firestore transactions that
// read and write one hot document (a VRP consent's counters, a mandate's ledger) are
// correct under any concurrency but slow when they contend: each holds a read lock the
// others need to write, so all but one abort and retry (the emulator waits out a 2 s lock
// timeout first). Queueing them in the process first keeps the transaction as the
// guarantee across instances and leaves it nothing to contend with within one.
package keylock

import "sync"

// Locks is a set of per-key mutexes; the zero value is ready to use. A key's mutex exists
// only while someone holds or waits for it.
type Locks struct {
	mu    sync.Mutex
	locks map[string]*entry
}

type entry struct {
	mu      sync.Mutex
	waiters int
}

// Lock takes key's mutex and returns its unlock.
func (l *Locks) Lock(key string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*entry{}
	}
	e := l.locks[key]
	if e == nil {
		e = &entry{}
		l.locks[key] = e
	}
	e.waiters++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.waiters--; e.waiters == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
