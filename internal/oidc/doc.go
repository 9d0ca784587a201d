// Package oidc is portti's OpenID Connect provider: the single sign-on
// every application of the organisation uses.
//
// It is built on github.com/zitadel/oidc/v3/pkg/op, which parses and
// validates protocol requests, authenticates clients and writes protocol
// errors. portti implements zitadel's op.Storage on its own storage
// (opstorage.go) and overrides the parts of zitadel's Server that decide
// what a token is (server.go, tokens.go, introspect.go); the login itself
// is portti's login form, reached by redirect (authorize.go).
//
// # Endpoints
//
// Relative to the issuer (config public_url):
//
//	/.well-known/openid-configuration  discovery, from memory, ETag, max-age 5 min
//	/oauth2/jwks                       signing keys, from memory, ETag, max-age 5 min
//	/oauth2/authorize                  authorization code flow (GET or POST)
//	/oauth2/authorize/continue?id=ID   portti's step between authorize and login:
//	                                   the chooser and consent pages (GET), their answers (POST)
//	/oauth2/token                      authorization_code, refresh_token, client_credentials
//	/oauth2/userinfo                   claims for an access token (Authorization header only)
//	/oauth2/introspect                 RFC 7662, for confidential clients
//	/oauth2/revoke                     RFC 7009
//	/oauth2/end_session                RP-initiated logout with back-channel logout
//
// # Clients
//
// Clients are stored (portti client add/list/remove) and read through a
// cache of Config.ClientCacheTTL (2 s): the token endpoint's steady state
// reads no client, and a change reaches every node within 2 s without a
// restart. Redirect URIs match exactly, byte for byte; they are validated
// at registration (https, http only on loopback, private-use schemes only
// for public clients, no fragments or wildcards). Public clients must use
// PKCE with S256; "plain" is refused for everyone. Confidential clients
// authenticate with client_secret_basic or client_secret_post; the secret
// (256 random bits when portti makes it) is stored as its SHA-256 and
// compared in constant time. Grant types come from the client record.
// The configuration file's clients: list is kept in the database by
// SyncClients (at start-up and on SIGHUP), marked storage.ClientSourceConfig
// so that the list and `portti client add` never touch each other's
// clients; both are checked by ClientSpec.Validate (clientspec.go).
//
// # Tokens
//
// A person's access and refresh tokens are opaque 256-bit random values
// stored only as SHA-256, so revocation and introspection are lookups and
// a copy of the database holds no usable token. Refresh tokens are issued
// for the offline_access scope, rotated at every use, and reusing a
// rotated one revokes its whole chain. Codes are random too, stored
// hashed, valid 2 minutes and single-use; a second use revokes what the
// first got. A client's own access token (client_credentials) is an ES256
// JWT (RFC 9068) that is not stored: the grant costs a cached lookup and a
// signature, and it lives AccessTokenTTL (10 min) unless its client
// revokes it, which puts its jti on a deny list in the database until it
// expires; introspection reads that list on every node. A token asked for
// an API with RFC 8707's resource parameter has the API's identifier as
// its aud, and the API sees it at introspection (resource.go). id_tokens are RS256 (ES256 if the client was
// registered so) and carry sub (the account's stable ID, never the
// e-mail), sid, auth_time, amr, nonce, at_hash and the claims of the
// granted scopes. "sid" is derived one way from the browser session's ID
// (SessionSID). Refresh grants return no new id_token.
//
// # Keys
//
// An RS256 (2048-bit) and an ES256 key are created on first start and
// stored; every node reads them from the database (refreshing every 30 s
// and when a token names an unknown kid), so all nodes sign and publish
// the same keys. Private keys are stored as PKCS#8 sealed with AES-256-GCM
// under a key derived (HKDF-SHA256) from config key_encryption_key, with
// the kid and algorithm as additional data. Without key_encryption_key
// (development) they are stored unencrypted and portti warns at every
// start; portti refuses to start when stored keys do not open with the
// configured key rather than replace them. Changing key_encryption_key is
// not supported yet.
//
// Rotation (portti keys rotate, Provider.RotateKeys) adds keys that are
// published at once but sign only after Config.KeyPublishDelay (10 min,
// twice the JWKS cache lifetime), and retires the current keys at that
// same instant; a retired key stays in JWKS until every token it signed
// has expired. Signing uses the newest key whose time has come, so at any
// moment exactly one key per algorithm signs, on every node.
//
// # The person in front of the browser (authorize.go, chooser.go, restrict.go)
//
// authenticate decides everything about a sign-in in one place, at
// GET /oauth2/authorize/continue: network-restricted clients (a client
// with --allowed-network is signed in to only from those ranges; the
// address is the web front's, X-Forwarded-For only from a trusted proxy;
// checked at the authorize endpoint before anything is stored and again
// at every step, never at the token endpoint, whose caller is the
// application's server), then the session (a hint's account, the only
// one, or the account chooser when several accounts are signed in here
// or the client sends prompt=select_account), then, for third-party
// clients, consent (asked once per scope set and remembered; prompt=consent
// asks again). The chooser and the consent page post their answers to
// the same path; the answer is stored in the request and the browser
// comes back to the GET. The pages are the web front's (Config.Pages),
// and so are the error pages (Config.ErrorPage).
//
// # Logout (logout.go, backchannel.go)
//
// end_session ends the session named by the id_token_hint's sid, or,
// without a hint, asks first and ends every session of the browser on a
// POSTed confirmation. Ending a session — there, on the chooser, or
// through the web front's log out (SessionEnded) — revokes its refresh
// tokens and queues an OpenID Connect back-channel logout token for every
// client the session signed in to that has a back-channel logout URI;
// the session's clients are forgotten in the same transaction. The
// logout page delivers them at once and lists which applications
// confirmed; RunLogoutWorker retries the others with backoff, never
// giving up. Sessions that end otherwise (expiry, a password change, an
// operator) send no logout tokens yet.
package oidc
