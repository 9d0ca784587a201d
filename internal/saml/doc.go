// Package saml is portti's SAML 2.0 identity provider, to the profile the
// HAKA federation asks of its identity providers (saml2int): signed
// metadata at /saml/metadata, Web Browser SSO with the HTTP-Redirect and
// HTTP-POST bindings (and IdP-initiated SSO for services the operator
// lists), signed responses and/or assertions, assertions encrypted with
// AES-256-GCM, signed AuthnRequests checked when a service's metadata
// says it signs them, attributes by the funetEduPerson schema released
// only as far as both the operator and the service's metadata allow,
// persistent pairwise NameIDs, and front-channel Single Logout both ways.
//
// It is written directly on goxmldsig (XML signatures) and etree rather
// than on a SAML library: crewjam/saml's identity provider has no Single
// Logout and encrypts only with AES-128-CBC, and zitadel/saml brings its
// own storage and login model; what an identity provider needs beyond
// signatures is message building and checking, which is kept small here
// and fuzzed.
//
// Every inbound message is size-limited before and after inflating,
// refused when it carries a document type declaration, parsed once, and
// read only from the element the signature check returns (no signature
// wrapping); message IDs go to a replay cache in the database.
//
// The HTTP-POST binding arrives as a cross-site POST: no session cookie
// (SameSite=Lax) comes with it, so the request, once checked, continues
// on a same-site GET (/saml/sso/continue) carrying it sealed, and only
// there is the browser's session looked up.
package saml
