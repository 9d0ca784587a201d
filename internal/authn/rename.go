package authn

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/storage"
)

// MaxNameLen bounds a credential's name, in bytes.
const MaxNameLen = 64

// CleanName keeps a person's name for a credential printable and short:
// spaces collapsed, control characters dropped, at most MaxNameLen bytes
// of whole characters.
func CleanName(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > MaxNameLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Rename gives one of a's credentials (not the recovery codes) a new name
// ("work laptop", "YubiKey"). A name changes nothing about signing in, so
// no fresh sign-in is asked and the owner is not e-mailed; it is audited.
func (s *Service) Rename(ctx context.Context, a storage.Account, id, name string, m account.Meta) error {
	c, err := s.cfg.Store.GetCredential(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || err == nil && (c.AccountID != a.ID || s.isBackupKind(c.Kind)) {
		return ErrUnknownMethod
	}
	if err != nil {
		return err
	}
	name = CleanName(name)
	_, err = s.cfg.Store.UpdateCredential(ctx, id, func(c storage.Credential) (storage.Credential, error) {
		c.Name = name
		return c, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return ErrUnknownMethod
	}
	if err != nil {
		return err
	}
	s.event(ctx, nil, m, storage.Event{Kind: audit.MFARenamed, AccountID: a.ID, Email: a.Email, Reason: c.Kind})
	return nil
}
