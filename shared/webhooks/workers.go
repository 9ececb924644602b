package webhooks

import "time"

// workerIdle is how long a worker waits for its next attempt before it ends.
const workerIdle = 30 * time.Second

// workers run attempts on goroutines that outlive one attempt: a new goroutine's stack grows
// to what an HTTP round trip needs, copied at each doubling, which cost a fan-out more CPU than
// signing its deliveries. A worker kept busy grows it once. There is no bound and no queue: an
// attempt goes to an idle worker or to a new one at once (the per-endpoint load bounds how many
// run).
type workers struct {
	next chan func()
}

func newWorkers() *workers { return &workers{next: make(chan func())} }

// run runs f on an idle worker, or on a new one if none is idle.
func (w *workers) run(f func()) {
	select {
	case w.next <- f:
	default:
		go w.loop(f)
	}
}

// loop runs f, then whatever run hands it, until it has been idle for workerIdle.
func (w *workers) loop(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-w.next:
		case <-idle.C:
			return
		}
	}
}
