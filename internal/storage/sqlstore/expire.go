package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// How long records stay after they stop being useful.
const (
	// Expired tokens stay a week, so that someone following an old link is
	// told it expired rather than that it is unknown.
	expiredTokenRetention = 7 * 24 * time.Hour
	// Attempt windows are minutes to hours long; after a day a counter is
	// certainly stale.
	attemptRetention = 24 * time.Hour
	// Sent mail stays a month for operators tracing a delivery question.
	sentMailRetention = 30 * 24 * time.Hour
)

// DeleteExpired removes tokens expired over a week ago, expired sessions,
// attempt counters whose window started over a day ago and mail sent over
// 30 days ago. Each DELETE commits on its own (unless the Store is bound to
// a transaction), so the janitor never holds SQLite's write lock for long.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) error {
	steps := []struct {
		what  string
		query string
		arg   time.Time
	}{
		{"tokens", `DELETE FROM tokens WHERE expires_at < $1`, now.Add(-expiredTokenRetention)},
		{"sessions", `DELETE FROM sessions WHERE expires_at < $1`, now},
		{"attempts", `DELETE FROM attempts WHERE window_start < $1`, now.Add(-attemptRetention)},
		{"mail", `DELETE FROM mail WHERE sent_at <> 0 AND sent_at < $1`, now.Add(-sentMailRetention)},
	}
	for _, step := range steps {
		if _, err := s.exec(ctx, step.query, dbTime(step.arg)); err != nil {
			return fmt.Errorf("sqlstore: delete expired %s: %w", step.what, err)
		}
	}
	return nil
}
