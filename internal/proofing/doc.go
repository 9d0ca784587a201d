// Package proofing is strong electronic identification: portti as the
// relying party of one or more upstream OpenID Connect identity-proofing
// providers (a Finnish Trust Network broker, a document-based identity
// service), and the self-service flows that need a person's proven
// identity rather than a password or a second factor:
//
//   - "I lost my authenticator": when the identity matches the account
//     being signed in to, every second factor is removed (authn's reset),
//     every session ends, the owner is told, and the person enrols anew;
//   - "I forgot my username": the e-mail addresses of the accounts bound
//     to the identity;
//   - a forgotten password set anew without the mailbox (the second
//     factor still applies at the next sign-in);
//   - binding the identity to a signed-in account (password and a fresh
//     second factor).
//
// Providers are spoken to under the FTN OpenID Connect profile (Traficom
// recommendation 213/2023 S): the authorisation request goes as a signed
// request object, the client authenticates with private_key_jwt, the
// id_token arrives encrypted to portti's own key (JWE), and state, nonce
// and PKCE are checked. The provider's tokens are used once and dropped.
//
// The registry identifier (a personal identity code) is never stored: an
// account holds its keyed hash (Hasher). Every flow answers a mismatch
// with the same page, and no page tells anything about an account the
// proven person does not hold.
package proofing
