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
	// Expired refresh tokens stay a week, so that an old token presented
	// again is recognised (and its reuse reported) rather than unknown.
	expiredRefreshTokenRetention = 7 * 24 * time.Hour
	// Expired access tokens stay a day, for introspection and audit.
	expiredAccessTokenRetention = 24 * time.Hour
	// Delivered logout tokens stay a month, as sent mail does.
	deliveredLogoutRetention = 30 * 24 * time.Hour
	// A SAML service record whose session has ended stays a day.
	samlParticipantRetention = 24 * time.Hour
)

// DeleteExpired removes tokens expired over a week ago, expired sessions,
// attempt counters whose window started over a day ago, mail sent over 30
// days ago, expired auth requests, refresh tokens expired over a week ago,
// access tokens expired over a day ago, deny-list entries of revoked JWTs
// that have expired, logout tokens delivered over 30 days ago and
// refresh-token successors past their grace period. A refresh or access token whose ExpiresAt is zero does not
// expire and stays. Each DELETE commits on its own (unless the Store is
// bound to a transaction), so the janitor never holds SQLite's write lock
// for long.
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
		{"auth requests", `DELETE FROM auth_requests WHERE expires_at < $1`, now},
		{"refresh tokens", `DELETE FROM refresh_tokens WHERE expires_at <> 0 AND expires_at < $1`, now.Add(-expiredRefreshTokenRetention)},
		{"access tokens", `DELETE FROM access_tokens WHERE expires_at <> 0 AND expires_at < $1`, now.Add(-expiredAccessTokenRetention)},
		// Sealed successors are kept for the grace period only.
		{"refresh successors", `DELETE FROM refresh_successors WHERE expires_at < $1`, now},
		// A revoked JWT past its own expiry is refused by its "exp".
		{"revoked jtis", `DELETE FROM revoked_jtis WHERE expires_at < $1`, now},
		{"saml message ids", `DELETE FROM saml_message_ids WHERE expires_at < $1`, now},
		// A service record outlives its session briefly (a sign-in that
		// replaces the session takes it over); a day is plenty.
		{"saml participants", `DELETE FROM saml_participants WHERE created_at < $1
		AND session_id NOT IN (SELECT id FROM sessions)`, now.Add(-samlParticipantRetention)},
		{"logout deliveries", `DELETE FROM logout_deliveries WHERE delivered_at <> 0 AND delivered_at < $1`, now.Add(-deliveredLogoutRetention)},
		{"provisioning waitlist", `DELETE FROM provision_waitlist WHERE expires_at < $1`, now},
	}
	for _, step := range steps {
		if _, err := s.exec(ctx, step.query, dbTime(step.arg)); err != nil {
			return fmt.Errorf("sqlstore: delete expired %s: %w", step.what, err)
		}
	}
	return nil
}
