package provision

import (
	"context"
	"embed"
	"errors"

	"github.com/portti/portti/internal/storage"
)

// Templates are the pages this package adds to the web front (register
// them with web.Server.AddPages(Templates, "templates")).
//
//go:embed templates/*.html
var Templates embed.FS

// Directory answers what the registries say about an account: its user
// type and groups, for the OpenID Connect claims (portti_user_type,
// groups), for clients limited to groups and for the MFA policy by user
// type.
type Directory struct {
	Store     storage.Storage
	UserTypes *UserTypes
}

// UserType is the account's user type: what its registry said, else what
// the address's domain says (UserTypes), else "".
func (d *Directory) UserType(ctx context.Context, a storage.Account) (string, error) {
	pa, err := d.Store.GetProvisioned(ctx, a.ID)
	switch {
	case err == nil && pa.Provisioned.UserType != "":
		return pa.Provisioned.UserType, nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return "", err
	}
	return d.UserTypes.For(a.Email), nil
}

// Affiliation returns the account's user type and, when groups is true,
// the names of its groups in name order.
func (d *Directory) Affiliation(ctx context.Context, a storage.Account, groups bool) (string, []string, error) {
	t, err := d.UserType(ctx, a)
	if err != nil || !groups {
		return t, nil, err
	}
	gs, err := d.Store.ListAccountGroups(ctx, a.ID)
	if err != nil {
		return "", nil, err
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.DisplayName
	}
	return t, names, nil
}
