package mail

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/portti/portti/internal/storage"
)

// memStore is an in-memory outbox: the few Storage methods package mail
// uses. Calling any other method panics on the nil embedded interface.
type memStore struct {
	storage.Storage

	mu     sync.Mutex
	mails  map[int64]storage.Mail
	nextID int64
	claims int // ClaimMail calls, for tests that wait for the worker
}

func newMemStore() *memStore { return &memStore{mails: make(map[int64]storage.Mail)} }

func (s *memStore) EnqueueMail(_ context.Context, m storage.Mail) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	m.ID = s.nextID
	s.mails[m.ID] = m
	return m.ID, nil
}

// ClaimMail is what the SQL backends do in one transaction: pick due,
// unsent messages, oldest due first, and push them out of reach for lease.
func (s *memStore) ClaimMail(_ context.Context, now time.Time, lease time.Duration, limit int) ([]storage.Mail, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims++
	var due []storage.Mail
	for _, m := range s.mails {
		if m.SentAt.IsZero() && !m.NextAttemptAt.After(now) {
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b storage.Mail) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	if len(due) > limit {
		due = due[:limit]
	}
	for i := range due {
		due[i].NextAttemptAt = now.Add(lease)
		due[i].Unreachable = false
		s.mails[due[i].ID] = due[i]
	}
	return due, nil
}

func (s *memStore) UpdateMail(_ context.Context, id int64, fn func(storage.Mail) (storage.Mail, error)) (storage.Mail, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mails[id]
	if !ok {
		return storage.Mail{}, storage.ErrNotFound
	}
	m, err := fn(m)
	if err != nil {
		return storage.Mail{}, err
	}
	m.ID = id
	s.mails[id] = m
	return m, nil
}

func (s *memStore) ListMail(_ context.Context, limit int) ([]storage.Mail, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []storage.Mail
	for _, m := range s.mails {
		all = append(all, m)
	}
	slices.SortFunc(all, func(a, b storage.Mail) int { return int(b.ID - a.ID) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

func (s *memStore) RenewMailLease(_ context.Context, id int64, until, newUntil time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mails[id]
	if !ok || !m.SentAt.IsZero() || !m.NextAttemptAt.Equal(until) {
		return false, nil
	}
	m.NextAttemptAt = newUntil
	s.mails[id] = m
	return true, nil
}

func (s *memStore) ResumeMail(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, m := range s.mails {
		if m.Unreachable && m.SentAt.IsZero() {
			m.NextAttemptAt, m.Unreachable = now, false
			s.mails[id] = m
			n++
		}
	}
	return n, nil
}

func (s *memStore) get(id int64) storage.Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mails[id]
}

func (s *memStore) claimCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims
}
