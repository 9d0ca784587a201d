// Package password hashes passwords and checks them against a password
// policy.
//
// # Hashing
//
// A [Hasher] produces argon2id hashes in the PHC string format used by the
// reference implementation:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// where salt and hash are standard base64 without padding. [DefaultParams]
// is the OWASP minimum for argon2id (19 MiB, two passes, one lane).
// [Hasher.Verify] also accepts bcrypt hashes ($2a$, $2b$, $2y$) of imported
// accounts and reports that they need rehashing, as it does for argon2id
// hashes made with parameters other than the Hasher's. Parameters read from
// a stored hash are bounded, so a tampered row cannot make one login attempt
// use gigabytes of memory or minutes of CPU. [Hasher.DummyVerify] does the
// work of a verification for logins to accounts that do not exist.
//
// Before argon2id hashing, a password is put in Unicode Normalization Form C
// (NFC), so the same password typed on systems that compose characters
// differently ("ä" as one code point or as "a" plus a combining diaeresis)
// verifies. This is part of the stored format and must not change. bcrypt
// hashes, made by other systems, are checked against the password as typed.
//
// # Policy
//
// A [Policy] checks a new password and returns [Violation] values whose
// codes are stable translation keys. Two presets exist:
//
//   - "nist" (the default): NIST SP 800-63B rev. 4. At least 8 and at most
//     256 characters, not a commonly used password, not the user's e-mail
//     address or name; no composition rules.
//   - "classes": the City of Kouvola rule. At least 6 and at most 256
//     characters, with at least one lower-case letter, one upper-case letter,
//     one digit and one special character. Kouvola's rule says nothing about
//     common passwords or personal information, so this preset checks
//     neither.
//
// Characters are Unicode code points counted after NFC normalisation.
//
// # Violation and rule codes
//
// [Policy.Check] returns these codes, in this order:
//
//	password.invalid_chars   invalid UTF-8 or a control character; no Args
//	password.too_short       fewer than Min characters; Args {"Min": int}
//	password.too_long        more than Max characters; Args {"Max": int}
//	password.needs_lower     no lower-case letter; no Args
//	password.needs_upper     no upper-case letter; no Args
//	password.needs_digit     no digit; no Args
//	password.needs_special   no special character; no Args
//	password.common          in the list of common passwords; no Args
//	password.personal        contains the e-mail address, its local part or
//	                         a name given to Check; no Args
//
// [Policy.Requirements] returns these codes, in this order, so a page can
// show the rules before the user types:
//
//	password.rule.min_length   Args {"Min": int}
//	password.rule.max_length   Args {"Max": int}
//	password.rule.classes      Args {"Lower", "Upper", "Digit", "Special": bool},
//	                           true for each class that is required
//	password.rule.not_common   no Args
//	password.rule.not_personal no Args
//
// The codes are exported as constants (CodeTooShort, RuleMinLength, ...).
package password
