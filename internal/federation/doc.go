// Package federation is sign-in with a home organisation: portti as the
// relying party of upstream OpenID Connect identity providers (another
// university's login service, a HAKA-connected broker), offered on /login
// through a searchable home-organisation chooser.
//
// An upstream identity opens a local account only through an explicit
// link (storage.FederatedLink): the owner links it from the account pages
// after signing in locally (password, and a fresh second factor when they
// have one), or an operator pre-links it (`portti user link`). Nothing is
// ever matched on an e-mail address an upstream provider asserts: an
// unverified address is how accounts are taken over (Keycloak issue
// 53041). An upstream identity with no link gets a page that says so.
//
// The upstream sign-in is spoken with proofing's relying-party client
// (state, nonce and PKCE S256 checked; signed request objects, private_key_jwt
// and encrypted id_tokens when configured); the flows under way are kept in
// proofing's flow table, and the provider's tokens are used once and
// dropped. The session's factors record the sign-in as "fed"; when the
// provider is trusted for it (trust_mfa) and asserts the REFEDS MFA profile,
// as "fedmfa", which counts as the second factor (a guest does their MFA
// at home).
package federation
