package storage

import (
	"context"
	"time"
)

// MailDeliveryStorage is what the outbox needs, beyond enqueueing and
// claiming, to deliver each message once under faults: short leases kept
// alive while a node works, and a way to end every back-off at once when
// the SMTP server answers again after an outage.
type MailDeliveryStorage interface {
	// RenewMailLease moves the lease of a claimed, unsent message from
	// until (the NextAttemptAt its claimer holds) to newUntil. It reports
	// false, changing nothing, when the message has been sent or its
	// NextAttemptAt is no longer until: the lease ran out and someone else
	// may have claimed it.
	RenewMailLease(ctx context.Context, id int64, until, newUntil time.Time) (bool, error)
	// ResumeMail makes every unsent message marked Unreachable due at now
	// and clears the mark. It returns how many it resumed.
	ResumeMail(ctx context.Context, now time.Time) (int, error)
}
