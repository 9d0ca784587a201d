package oidc

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// The refresh reuse grace period (Config.RefreshReuseGrace, config
// refresh_reuse_grace).
//
// Rotation with reuse detection (RFC 9700 4.14.2) revokes a whole grant
// when a rotated refresh token comes back: two parties hold it, and the
// server cannot tell the thief from the owner. But an authenticating
// reverse proxy with cookie sessions, or a single-page application with
// several tabs or requests in flight, refreshes in parallel: four requests
// arriving together with the same token are one client racing itself,
// and revoking the grant for that signs the person out. So, for a short
// time after a rotation, the same client presenting the rotated token
// gets the same successor again — the very refresh token the first
// request got, with a fresh access token — whichever response the client
// keeps is then valid. After the grace period, or from another client,
// or once the successor has itself been used or revoked, reuse revokes
// the chain as before.
//
// The successor must be reproduced, yet refresh tokens are stored only as
// SHA-256 hashes. Two ways were weighed:
//
//   - Derive the successor from the presented token with an HMAC under a
//     server secret. No storage, but portti has no secret shared by every
//     node unless key_encryption_key is set, and it is optional; a
//     derivation from the token alone would let whoever stole a token
//     compute every future token of the chain without asking portti.
//   - Keep the successor, sealed, for the grace period only. This is the
//     design: the successor is a fresh random token as always, and a row
//     of refresh_successors holds it encrypted (AES-256-GCM) under a key
//     derived with HKDF-SHA256 from the presented token itself — which the
//     database does not hold — salted with a key derived from
//     key_encryption_key when one is configured. A copy of the database
//     opens nothing (nor does a stolen token without the database, nor,
//     with a key encryption key, both without it); the row is bound to
//     its token by the GCM additional data, is refused once its grace
//     period is over, and is deleted by the next clean-up sweep
//     (DeleteExpired, every 10 minutes), so no successor is kept, even
//     sealed, much beyond the window.
//
// Race freedom: the rotation and the replays all go through
// UpdateRefreshToken on the presented token inside one transaction each,
// which on PostgreSQL locks the row (SELECT … FOR UPDATE) and on SQLite
// holds the single write lock. The first rotates and stores the sealed
// successor in the same commit; every later one sees the token used, the
// successor row committed, and issues only an access token. Holding the
// presented token's row also orders a replay against a revocation of the
// chain, which updates that row too: the access token a replay issues is
// either refused or revoked with the rest.

// errWithinGrace: the token was rotated within the grace period by this
// client; the successor may be handed out again.
var errWithinGrace = errors.New("refresh token rotated within the reuse grace period")

// successorSealV1 is the first byte of a sealed successor: AES-256-GCM,
// 12-byte nonce, then ciphertext and tag.
const successorSealV1 byte = 1

// graceSaltFor derives the salt mixed into every successor key from the
// key encryption key; nil without one.
func graceSaltFor(kek []byte) ([]byte, error) {
	if len(kek) == 0 {
		return nil, nil
	}
	salt, err := hkdf.Key(sha256.New, kek, nil, "portti refresh successor salt v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive refresh successor salt: %w", err)
	}
	return salt, nil
}

// successorAEAD is the cipher sealing the successor of presented.
func (p *Provider) successorAEAD(presented string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(presented), p.graceSalt, "portti refresh successor v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// successorAAD binds a sealed successor to the hash of the token it
// replaced: a row copied to another token does not open.
func successorAAD(presentedHash string) []byte {
	return []byte("portti refresh successor\x00" + presentedHash)
}

// sealSuccessor seals successor for the presented token (hash
// presentedHash).
func (p *Provider) sealSuccessor(presented, presentedHash, successor string) ([]byte, error) {
	aead, err := p.successorAEAD(presented)
	if err != nil {
		return nil, fmt.Errorf("seal refresh successor: %w", err)
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(successor)+aead.Overhead())
	out[0] = successorSealV1
	if _, err := io.ReadFull(p.cfg.Random, out[1:]); err != nil {
		return nil, fmt.Errorf("seal refresh successor: random: %w", err)
	}
	return aead.Seal(out, out[1:], []byte(successor), successorAAD(presentedHash)), nil
}

// openSuccessor returns the successor sealed for the presented token.
func (p *Provider) openSuccessor(presented, presentedHash string, sealed []byte) (string, error) {
	aead, err := p.successorAEAD(presented)
	if err != nil {
		return "", err
	}
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != successorSealV1 {
		return "", errors.New("malformed sealed refresh successor")
	}
	plain, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], successorAAD(presentedHash))
	if err != nil {
		return "", errors.New("sealed refresh successor does not open")
	}
	return string(plain), nil
}

// repeatRefresh answers a refresh with a token old that client c rotated
// within the grace period: the same successor as then, and a new access
// token of the chain. tx holds old's row. errTokenReused when the
// successor cannot be handed out again (none stored, its record past its
// grace, or it has been used, revoked or has expired meanwhile): the
// caller then revokes the chain. The account's state is the caller's to
// report: errDisabled and ErrNotFound come back wrapped in accountError.
func (p *Provider) repeatRefresh(ctx context.Context, tx storage.Storage, c *client, old storage.RefreshToken, presented string, asked []string, tgt *target, now time.Time) (*oidc.AccessTokenResponse, error) {
	rs, err := tx.GetRefreshSuccessor(ctx, old.Hash)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errTokenReused // rotated with no grace, or cleaned up
	}
	if err != nil {
		return nil, err
	}
	if !rs.ExpiresAt.After(now) {
		return nil, errTokenReused
	}
	successor, err := p.openSuccessor(presented, old.Hash, rs.Sealed)
	if err != nil {
		// Altered, or key_encryption_key changed within the last seconds.
		p.log.WarnContext(ctx, "oidc: cannot open a refresh token's stored successor; treating the token as reused",
			"client_id", c.rec.ID, "error", err)
		return nil, errTokenReused
	}
	// Read, not locked: a revocation of the chain also takes old's row,
	// which this transaction holds (see the comment at the top).
	next, err := tx.GetRefreshToken(ctx, secret.Hash(successor))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errTokenReused
	}
	if err != nil {
		return nil, err
	}
	if next.ChainID != old.ChainID || next.ClientID != c.rec.ID || !next.RevokedAt.IsZero() ||
		!next.UsedAt.IsZero() || !next.ExpiresAt.After(now) {
		return nil, errTokenReused
	}
	for _, s := range asked {
		if !slices.Contains(next.Scopes, s) {
			return nil, errBadScope
		}
	}
	acct, err := activeAccountIn(ctx, tx, next.AccountID)
	if err != nil {
		return nil, &accountErr{err}
	}
	g := grant{
		chainID: next.ChainID, accountID: acct.ID, sessionID: next.SessionID, scopes: next.Scopes,
		authTime: next.AuthTime, amr: next.AMR, target: tgt,
	}
	scopes := next.Scopes
	if len(asked) > 0 {
		scopes = asked
	}
	scopes, ok := tgt.limit(scopes) // the API (RFC 8707) the request names, if any
	if !ok {
		return nil, errNoTargetScope
	}
	resp := &oidc.AccessTokenResponse{TokenType: oidc.BearerToken, Scope: scopes, ExpiresIn: uint64(p.cfg.AccessTokenTTL.Seconds())}
	if resp.AccessToken, err = p.issueAccessTokenIn(ctx, tx, c, g, scopes, now); err != nil {
		return nil, err
	}
	resp.RefreshToken = successor
	p.log.DebugContext(ctx, "oidc: a refresh token rotated moments ago came again from its client; handed out the same successor",
		"client_id", c.rec.ID, "since_rotation", now.Sub(old.UsedAt))
	return resp, nil
}

// accountErr marks an error about the account (disabled, removed, or
// unreadable) met while refreshing.
type accountErr struct{ err error }

func (e *accountErr) Error() string { return e.err.Error() }
func (e *accountErr) Unwrap() error { return e.err }
