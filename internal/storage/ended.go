package storage

import (
	"context"
	"time"
)

// EndedSession says why a browser session was ended from elsewhere, so that
// the browser holding its cookie is told on its next page ("You were signed
// out of this browser because your password was changed").
type EndedSession struct {
	ID        string // the session's ID
	Reason    string // a stable code, e.g. "password_changed"
	EndedAt   time.Time
	ExpiresAt time.Time // when the session would have expired; the note goes then
}

// EndedSessionStorage keeps those notes. Part of Storage.
type EndedSessionStorage interface {
	// NoteEndedSessions records notes (replacing any for the same ID) and
	// drops notes that expired before now.
	NoteEndedSessions(ctx context.Context, notes []EndedSession, now time.Time) error
	// TakeEndedSession returns the note about session id and deletes it,
	// so it is told once; ErrNotFound when there is none or it expired.
	TakeEndedSession(ctx context.Context, id string, now time.Time) (EndedSession, error)
}
