package sqlstore

import "sync"

// background runs the Store's own goroutines (statement preparation, WAL
// checkpoints) and lets Close wait for them: a goroutine still holding a
// connection after Close would keep the database file open, and one
// starting after it would reopen it.
type background struct {
	mu     sync.Mutex
	closed bool // guarded by mu
	wg     sync.WaitGroup
}

// goRun runs fn in a goroutine unless the Store is closing.
func (b *background) goRun(fn func()) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn()
	}()
}

// close refuses new goroutines and waits for the running ones.
func (b *background) close() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wg.Wait()
}
