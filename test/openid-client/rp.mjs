// An independent relying party: the npm package openid-client (an OpenID
// Certified library, https://github.com/panva/openid-client) run against a
// live portti. internal/app/openidclient_test.go starts portti, registers
// the client and the account, and runs this script; it can also be run by
// hand against any portti:
//
//   ISSUER=http://127.0.0.1:8080 CLIENT_ID=rp CLIENT_SECRET=... \
//   REDIRECT_URI=http://127.0.0.1:9/callback \
//   LOGIN_EMAIL=aino@example.fi LOGIN_PASSWORD=... node rp.mjs
//
// Environment:
//   ISSUER          portti's issuer (public_url)
//   CLIENT_ID       a confidential client with the grants authorization_code,
//   CLIENT_SECRET   refresh_token and client_credentials, registered with
//   REDIRECT_URI    this redirect URI (nothing needs to listen there: the
//                   script reads the code from portti's redirect)
//   LOGIN_EMAIL     the account the script signs in with, through portti's
//   LOGIN_PASSWORD  real login form (it plays the browser with fetch)
//   SERVER_TIME     optional: portti's current time in Unix seconds, when
//                   portti runs on a test clock; sets openid-client's
//                   clockSkew so the tokens' iat/exp are judged by it
//
// It runs discovery, the authorization code flow with PKCE (S256), state
// and nonce, userinfo, a refresh (which must rotate the refresh token; the
// rotated one must then be refused) and the client credentials grant,
// prints a JSON summary on stdout and exits 0; on any failure it prints
// what failed on stderr and exits 1.

import { webcrypto } from 'node:crypto'
import * as client from 'openid-client'

// Node 18 (Debian 12's nodejs, what scripts/test.sh installs there) has Web
// Crypto only as node:crypto's webcrypto, not as the global openid-client
// uses; Node 20 and later have the global.
if (!globalThis.crypto) globalThis.crypto = webcrypto

const env = (name, optional = false) => {
  const v = process.env[name]
  if (!v && !optional) fail(`environment variable ${name} is required`)
  return v
}

function fail(msg, cause) {
  let detail = ''
  if (cause) {
    detail = `\n  ${cause.name ?? 'Error'}: ${cause.message ?? cause}`
    if (cause.code) detail += `\n  code: ${cause.code}`
    if (cause.error) detail += `\n  error: ${cause.error} ${cause.error_description ?? ''}`
    if (cause.status) detail += `\n  status: ${cause.status}`
    if (cause.cause instanceof Error) detail += `\n  cause: ${cause.cause.name}: ${cause.cause.message}`
    else if (cause.cause !== undefined) detail += `\n  cause: ${JSON.stringify(cause.cause, null, 2) ?? cause.cause}`
  }
  const trail = exchanges.map((e) => `  ${e.method} ${e.url} -> ${e.status}`).join('\n')
  process.stderr.write(`openid-client RP: FAIL: ${msg}${detail}\n` + (trail ? `requests openid-client made:\n${trail}\n` : ''))
  process.exit(1)
}

// Every request openid-client makes, for the failure report and for the
// checks openid-client leaves to the caller (Cache-Control on tokens).
const exchanges = []
async function recordingFetch(url, options) {
  const res = await fetch(url, options)
  exchanges.push({
    method: options?.method ?? 'GET',
    url: String(url),
    status: res.status,
    cacheControl: res.headers.get('cache-control'),
  })
  return res
}

function check(ok, msg) {
  if (!ok) fail(msg)
}

// step runs one stage and turns any exception into a clear failure.
async function step(name, fn) {
  try {
    return await fn()
  } catch (err) {
    fail(name, err)
  }
}

const issuer = new URL(env('ISSUER'))
const clientId = env('CLIENT_ID')
const clientSecret = env('CLIENT_SECRET')
const redirectUri = env('REDIRECT_URI')
const loginEmail = env('LOGIN_EMAIL')
const loginPassword = env('LOGIN_PASSWORD')
const serverTime = env('SERVER_TIME', true)

const metadata = { client_secret: clientSecret }
if (serverTime) {
  const skew = Number(serverTime) - Math.floor(Date.now() / 1000)
  check(Number.isFinite(skew), `SERVER_TIME ${serverTime} is not a number`)
  metadata[client.clockSkew] = skew
}
// portti in the tests listens on loopback http; openid-client refuses
// plain http unless told, and is told only for that reason.
const insecure = issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)
const execute = [client.enableNonRepudiationChecks] // verify id_token signatures against the JWKS too
if (insecure) execute.push(client.allowInsecureRequests)

// 1. Discovery.
const config = await step('discovery', () =>
  client.discovery(issuer, clientId, metadata, client.ClientSecretPost(clientSecret), {
    execute,
    [client.customFetch]: recordingFetch,
  }))
const server = config.serverMetadata()
check(server.supportsPKCE(), `discovery: code_challenge_methods_supported ${JSON.stringify(server.code_challenge_methods_supported)} lacks S256`)

// 2. The authorization request: PKCE S256, state, nonce.
const codeVerifier = client.randomPKCECodeVerifier()
const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
const state = client.randomState()
const nonce = client.randomNonce()
const authURL = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid email profile offline_access',
  code_challenge: codeChallenge,
  code_challenge_method: 'S256',
  state,
  nonce,
})

// 3. The browser: sign in through portti's login form.
const callbackURL = await step('sign-in through the login form', () => signIn(authURL))

// 4. Code exchange: openid-client checks state, iss, the id_token (iss,
// aud, exp, iat, nonce, signature) and sends the PKCE verifier.
const tokens = await step('authorization code grant', () =>
  client.authorizationCodeGrant(config, callbackURL, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  }))
const claims = tokens.claims()
check(claims, 'authorization code grant: no id_token')
check(typeof claims.sub === 'string' && claims.sub !== '', 'id_token: no sub')
check(claims.sub.toLowerCase() !== loginEmail.toLowerCase() && !claims.sub.includes('@'), `id_token: sub ${claims.sub} is the e-mail`)
check(claims.email === loginEmail.toLowerCase(), `id_token: email ${claims.email}, want ${loginEmail.toLowerCase()}`)
check(claims.aud === clientId || (Array.isArray(claims.aud) && claims.aud.includes(clientId)), `id_token: aud ${JSON.stringify(claims.aud)}`)
check(tokens.access_token, 'authorization code grant: no access_token')
check(tokens.token_type?.toLowerCase() === 'bearer', `authorization code grant: token_type ${tokens.token_type}`)
check(tokens.refresh_token, 'authorization code grant: no refresh_token for offline_access')

// 5. Userinfo, which must be about the same subject.
const userinfo = await step('userinfo', () => client.fetchUserInfo(config, tokens.access_token, claims.sub))
check(userinfo.email === claims.email, `userinfo: email ${userinfo.email}, id_token says ${claims.email}`)

// 6. Refresh: a new access token and a rotated refresh token.
const refreshed = await step('refresh token grant', () => client.refreshTokenGrant(config, tokens.refresh_token))
check(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'refresh: no new access token')
check(refreshed.refresh_token, 'refresh: no refresh_token in the response')
check(refreshed.refresh_token !== tokens.refresh_token, 'refresh: the refresh token did not rotate')
const userinfo2 = await step('userinfo with the refreshed access token', () =>
  client.fetchUserInfo(config, refreshed.access_token, claims.sub))
check(userinfo2.sub === claims.sub, 'userinfo after refresh: another subject')

// The rotated-out refresh token must now be refused (invalid_grant).
let reuse = 'accepted'
try {
  await client.refreshTokenGrant(config, tokens.refresh_token)
} catch (err) {
  reuse = err instanceof client.ResponseBodyError ? err.error : `${err.name}: ${err.message}`
}
check(reuse === 'invalid_grant', `refresh with the rotated-out refresh token: ${reuse}, want invalid_grant`)

// 7. Client credentials, authenticating with client_secret_basic this time.
const basic = new client.Configuration(server, clientId, metadata, client.ClientSecretBasic(clientSecret))
for (const f of execute) f(basic)
basic[client.customFetch] = recordingFetch
const cc = await step('client credentials grant', () => client.clientCredentialsGrant(basic, { scope: 'grades:read' }))
check(cc.access_token, 'client credentials: no access_token')
check(cc.token_type?.toLowerCase() === 'bearer', `client credentials: token_type ${cc.token_type}`)
check(!cc.refresh_token, 'client credentials: a refresh_token (RFC 6749 4.4.3 says it should not)')
check(cc.scope === 'grades:read', `client credentials: scope ${cc.scope}, want the one asked for`)

// RFC 6749 5.1: a response carrying tokens MUST say Cache-Control: no-store.
const tokenResponses = exchanges.filter((e) => e.url === server.token_endpoint && e.status === 200)
check(tokenResponses.length === 3, `expected 3 successful token responses, saw ${tokenResponses.length}`)
for (const e of tokenResponses) {
  check(/(^|,)\s*no-store\s*(,|$)/i.test(e.cacheControl ?? ''),
    `token response without Cache-Control: no-store (RFC 6749 5.1): ${e.method} ${e.url} had Cache-Control ${JSON.stringify(e.cacheControl)}`)
}

const summary = {
  ok: true,
  library: 'openid-client',
  node: process.version,
  issuer: server.issuer,
  sub: claims.sub,
  email: claims.email,
  email_verified: claims.email_verified,
  name: claims.name,
  sid: claims.sid,
  id_token_alg: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url')).alg,
  scope: tokens.scope,
  userinfo_sub: userinfo.sub,
  userinfo_email: userinfo.email,
  refresh_rotated: true,
  refreshed_expires_in: refreshed.expires_in,
  reused_refresh_token: reuse,
  client_credentials_token_type: cc.token_type,
  client_credentials_expires_in: cc.expires_in,
  client_credentials_scope: cc.scope,
  requests: exchanges.map((e) => `${e.method} ${new URL(e.url).pathname} ${e.status}`),
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n')

// signIn plays a browser: it follows the authorization request's redirects
// (keeping cookies) to portti's login form, submits it, and follows the
// redirects until one goes to the redirect URI, whose URL it returns
// without fetching it.
async function signIn(start) {
  const jar = new Map()
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
  const keep = (res) => {
    for (const c of setCookies(res.headers)) {
      const [pair, ...attrs] = c.split(';')
      const i = pair.indexOf('=')
      const name = pair.slice(0, i).trim()
      const value = pair.slice(i + 1).trim()
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a))
      if (gone || value === '') jar.delete(name)
      else jar.set(name, value)
    }
  }
  const trail = []
  // go requests url and follows redirects until the redirect URI (returned)
  // or a page (returned as {url, res, body}).
  const go = async (url, init = {}) => {
    for (let hops = 0; hops < 20; hops++) {
      if (url.href.startsWith(redirectUri)) return { done: url }
      check(url.origin === issuer.origin, `sign-in: redirected off portti to ${url.href} (trail: ${trail.join(' -> ')})`)
      const headers = { ...init.headers, Cookie: cookieHeader() }
      const res = await fetch(url, { ...init, headers, redirect: 'manual' })
      keep(res)
      trail.push(`${init.method ?? 'GET'} ${url.pathname} ${res.status}`)
      const loc = res.headers.get('location')
      if (res.status >= 300 && res.status < 400 && loc) {
        await res.body?.cancel()
        url = new URL(loc, url)
        init = {} // a 302/303 after the POST is a GET
        continue
      }
      return { url, res, body: await res.text() }
    }
    fail(`sign-in: too many redirects (trail: ${trail.join(' -> ')})`)
  }

  const page = await go(start)
  check(!page.done, 'sign-in: portti redirected back without a login (a session with no cookies?)')
  check(page.res.status === 200 && page.url.pathname === '/login',
    `sign-in: want the login form, got ${page.res.status} at ${page.url.href}:\n${page.body.slice(0, 2000)}`)
  const form = page.body.match(/<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i)
  check(form, `sign-in: no form on the login page:\n${page.body.slice(0, 2000)}`)
  const fields = new URLSearchParams()
  for (const input of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const attr = (n) => input[0].match(new RegExp(`\\b${n}="([^"]*)"`, 'i'))?.[1]
    if (attr('type')?.toLowerCase() === 'hidden' && attr('name')) fields.set(attr('name'), unescapeHTML(attr('value') ?? ''))
  }
  check(fields.get('return'), 'sign-in: the login form carries no return field')
  fields.set('email', loginEmail)
  fields.set('password', loginPassword)
  const action = new URL(unescapeHTML(form[1]), page.url)
  const after = await go(action, {
    method: 'POST',
    // What a browser sends with a same-origin form.
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: issuer.origin, 'Sec-Fetch-Site': 'same-origin' },
    body: fields.toString(),
  })
  check(after.done, `sign-in: the login did not lead to the redirect URI; ended with ${after.res?.status} at ${after.url?.href}:\n${after.body?.slice(0, 2000)}`)
  const q = after.done.searchParams
  check(!q.get('error'), `sign-in: portti returned error=${q.get('error')} ${q.get('error_description') ?? ''}`)
  return after.done
}

// setCookies returns the Set-Cookie header fields of a response. Node's
// own fetch has Headers.getSetCookie; Debian's Node 18 (whose fetch is an
// older system undici) joins them with commas, split here before each
// "name=" (an Expires date's comma is followed by a day, not a name).
function setCookies(headers) {
  if (typeof headers.getSetCookie === 'function') return headers.getSetCookie()
  const joined = headers.get('set-cookie')
  return joined ? joined.split(/,(?=\s*[^;=\s]+=)/) : []
}

function unescapeHTML(s) {
  return s.replace(/&(amp|lt|gt|quot|#39|#34);/g, (_, e) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#34': '"' })[e])
}
