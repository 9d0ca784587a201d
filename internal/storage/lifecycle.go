package storage

import "context"

// LifecycleStorage is what the provisioned accounts' lifecycle (package
// provision, issue 11) needs beyond ProvisionStorage; Storage embeds it.
type LifecycleStorage interface {
	// PseudonymiseEvents removes from an account's audit events what
	// names the person (the address, client IP and user agent), keeping
	// the kind, time, reason and account ID, which names nobody once the
	// account is deleted. It returns how many events it changed.
	PseudonymiseEvents(ctx context.Context, accountID string) (int, error)
}
