package sqlstore

import "time"

// Times are stored as INTEGER (SQLite) / BIGINT (PostgreSQL) unix
// microseconds, UTC by definition, with the zero time.Time as 0. One integer
// representation on both backends means "expired before now" is a plain
// integer comparison in SQL, needs no driver-specific time handling, and
// sorts correctly. Microseconds are PostgreSQL's own timestamp precision.
//
// A consequence: a non-zero time exactly at the unix epoch reads back as
// the zero time. No record of portti's has a reason to hold that instant.

// dbTime converts a time to its stored form.
func dbTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// goTime converts a stored time back, in UTC.
func goTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// roundTrip returns t as it reads back after being stored: truncated to the
// microsecond, in UTC. Update* methods return records in this form, so that
// what they return equals what a later Get returns.
func roundTrip(t time.Time) time.Time { return goTime(dbTime(t)) }

// dbBool converts a boolean to its stored form, INTEGER 0 or 1.
func dbBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
