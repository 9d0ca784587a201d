package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// Error messages name the account but not the device: its ID is the hash of
// the device cookie.

const (
	deviceColumns = `account_id, device_id, first_seen_at, last_seen_at,
	failed_logins, locked_until`

	selectDevice = `SELECT ` + deviceColumns + ` FROM known_devices
	WHERE account_id = $1 AND device_id = $2`
	// An all-zero row for UpsertKnownDevice to lock and update. When
	// another transaction is inserting the same key, PostgreSQL waits for
	// it here and then does nothing, so concurrent upserts of a new device
	// serialise on the row instead of one failing with a conflict.
	insertBlankDevice = `INSERT INTO known_devices (account_id, device_id)
	VALUES ($1, $2) ON CONFLICT (account_id, device_id) DO NOTHING`
	updateDevice = `UPDATE known_devices SET first_seen_at = $3,
	last_seen_at = $4, failed_logins = $5, locked_until = $6
	WHERE account_id = $1 AND device_id = $2`
	deleteDevice = `DELETE FROM known_devices
	WHERE account_id = $1 AND device_id = $2`
)

func scanDevice(r scanner) (storage.KnownDevice, error) {
	var (
		d                        storage.KnownDevice
		first, last, lockedUntil int64
	)
	err := r.Scan(&d.AccountID, &d.DeviceID, &first, &last, &d.FailedLogins, &lockedUntil)
	if err != nil {
		return storage.KnownDevice{}, classify(err)
	}
	d.FirstSeenAt = goTime(first)
	d.LastSeenAt = goTime(last)
	d.LockedUntil = goTime(lockedUntil)
	return d, nil
}

// GetKnownDevice returns the record of the account's owner using a browser.
func (s *Store) GetKnownDevice(ctx context.Context, accountID, deviceID string) (storage.KnownDevice, error) {
	d, err := scanDevice(s.q.QueryRowContext(ctx, selectDevice, accountID, deviceID))
	if err != nil {
		return storage.KnownDevice{}, fmt.Errorf("sqlstore: get known device of account %q: %w", accountID, err)
	}
	return d, nil
}

// UpsertKnownDevice applies fn to the stored record, or to a zero one with
// the keys set, and writes the result, in one transaction. fn must not
// change the keys. ErrNotFound when the account does not exist.
func (s *Store) UpsertKnownDevice(ctx context.Context, accountID, deviceID string, fn func(storage.KnownDevice) (storage.KnownDevice, error)) (storage.KnownDevice, error) {
	var out storage.KnownDevice
	err := s.withTx(ctx, func(tx *Store) error {
		inserted, err := tx.exec(ctx, insertBlankDevice, accountID, deviceID)
		if err != nil {
			return fmt.Errorf("sqlstore: upsert known device of account %q: %w", accountID, err)
		}
		old, err := scanDevice(tx.q.QueryRowContext(ctx, selectDevice+tx.forUpdate(), accountID, deviceID))
		if err != nil {
			return fmt.Errorf("sqlstore: upsert known device of account %q: %w", accountID, err)
		}
		d, err := fn(old)
		if err == nil && (d.AccountID != accountID || d.DeviceID != deviceID) {
			err = fmt.Errorf("sqlstore: upsert known device of account %q: the update changed the keys", accountID)
		}
		if err != nil {
			if inserted > 0 {
				// Inside a caller's transaction the blank row would
				// otherwise be committed with the rest.
				if _, delErr := tx.exec(ctx, deleteDevice, accountID, deviceID); delErr != nil {
					return errors.Join(err, fmt.Errorf("sqlstore: upsert known device of account %q: %w", accountID, delErr))
				}
			}
			return err
		}
		args := []any{accountID, deviceID, dbTime(d.FirstSeenAt), dbTime(d.LastSeenAt), d.FailedLogins, dbTime(d.LockedUntil)}
		if _, err := tx.exec(ctx, updateDevice, args...); err != nil {
			return fmt.Errorf("sqlstore: upsert known device of account %q: %w", accountID, err)
		}
		d.FirstSeenAt = roundTrip(d.FirstSeenAt)
		d.LastSeenAt = roundTrip(d.LastSeenAt)
		d.LockedUntil = roundTrip(d.LockedUntil)
		out = d
		return nil
	})
	if err != nil {
		return storage.KnownDevice{}, err
	}
	return out, nil
}

// ClearDeviceLocks implements storage.Storage.
func (s *Store) ClearDeviceLocks(ctx context.Context, accountID string) (int, error) {
	n, err := s.exec(ctx, `UPDATE known_devices SET failed_logins = 0, locked_until = 0
		WHERE account_id = $1 AND (failed_logins <> 0 OR locked_until <> 0)`, accountID)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: clear device locks: %w", err)
	}
	return int(n), nil
}
