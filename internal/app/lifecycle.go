package app

import (
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/provision"
)

// identifierHasher is proofing's keyed hash for the registry identifiers
// that SCIM and the CSV import bind; nil (an interface holding nothing,
// so that provision refuses identifiers) without a key encryption key.
func identifierHasher(cfg config.Config) provision.IdentifierHasher {
	h, err := proofing.NewHasher(cfg.KeyEncryptionKeyBytes())
	if err != nil {
		return nil
	}
	return h
}
