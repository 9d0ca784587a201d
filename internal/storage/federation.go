package storage

import (
	"context"
	"time"
)

// FederatedLink binds an identity at an upstream identity provider (a
// home organisation) to a local account (package federation). A link is
// made only on purpose: by the account's owner after signing in locally,
// or by an operator; never by matching an e-mail address. One upstream
// identity (Provider, Subject) opens at most one account; an account may
// hold several links.
type FederatedLink struct {
	Provider  string // the configured provider's id
	Subject   string // the provider's stable identifier of the person (sub)
	AccountID string
	LinkedBy  string // "self", "operator" or "invitation"
	LinkedAt  time.Time
}

// FederationStorage keeps upstream identity links.
type FederationStorage interface {
	// CreateFederatedLink records a link. When the
	// upstream identity is linked already (to any account): ErrConflict; ErrNotFound
	// when the account does not exist.
	CreateFederatedLink(ctx context.Context, l FederatedLink) error
	// GetFederatedLink returns the link of an upstream identity; ErrNotFound if none.
	GetFederatedLink(ctx context.Context, provider, subject string) (FederatedLink, error)
	// ListFederatedLinks lists an account's links, oldest first.
	ListFederatedLinks(ctx context.Context, accountID string) ([]FederatedLink, error)
	// DeleteFederatedLink removes an account's link to an upstream
	// identity; ErrNotFound when the account holds no such link.
	DeleteFederatedLink(ctx context.Context, accountID, provider, subject string) error
}
