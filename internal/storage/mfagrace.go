package storage

import (
	"context"
	"time"
)

// MFAGraceStorage keeps when the operator's requirement of a second factor
// first met a person who had none: the enrolment grace period
// (mfa.enrolment_grace) runs from then, once per account.
type MFAGraceStorage interface {
	// StartMFAGrace records now as the start of account accountID's grace
	// period unless one is recorded already, and returns the recorded
	// start (the older one). Deleting the account deletes it.
	StartMFAGrace(ctx context.Context, accountID string, now time.Time) (time.Time, error)
}
