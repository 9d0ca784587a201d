package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/portti/portti/internal/argon2"
)

// Errors returned by [Hasher.Verify], wrapped with details; test with
// errors.Is.
var (
	// ErrMalformedHash means the stored string is not a well-formed
	// argon2id PHC string or bcrypt hash.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrUnsupportedHash means the stored string names an algorithm or
	// version this package does not verify (argon2i, argon2d, argon2 v=16,
	// scrypt, ...).
	ErrUnsupportedHash = errors.New("password: unsupported hash algorithm")
	// ErrUnsafeParams means the parameters are outside the accepted bounds:
	// too weak to be valid, or so costly that verifying could exhaust the
	// server.
	ErrUnsafeParams = errors.New("password: hash parameters out of bounds")
)

// Params are argon2id parameters.
type Params struct {
	Memory  uint32 // memory in KiB
	Time    uint32 // number of passes
	Threads uint8  // degree of parallelism (lanes)
	KeyLen  uint32 // length of the derived key in bytes
	SaltLen uint32 // length of the random salt in bytes
}

// DefaultParams is the OWASP minimum for argon2id: m=19456 KiB (19 MiB),
// t=2, p=1, with a 32-byte key and a 16-byte salt.
var DefaultParams = Params{
	Memory:  19 * 1024,
	Time:    2,
	Threads: 1,
	KeyLen:  32,
	SaltLen: 16,
}

// Bounds on argon2id and bcrypt parameters. The lower bounds are those of
// the algorithms (RFC 9106: salt at least 8 bytes, tag at least 4 bytes,
// memory at least 8 KiB per lane). The upper bounds refuse parameters no
// sane configuration uses: each would let one stored row make a single
// login attempt allocate gigabytes or run for minutes.
const (
	minSaltLen = 8
	maxSaltLen = 1024
	minKeyLen  = 4
	maxKeyLen  = 1024
	maxMemory  = 4 * 1024 * 1024 // KiB, i.e. 4 GiB
	maxTime    = 100
	// bcrypt cost 16 is 65,536 rounds of the key schedule, some seconds
	// per check; imported hashes use 10 to 12.
	maxBcryptCost = 16
)

// limits are the upper bounds a Hasher accepts; a field so tests can make
// them small.
type limits struct {
	memory     uint32
	time       uint32
	keyLen     uint32
	saltLen    uint32
	bcryptCost int
}

var defaultLimits = limits{
	memory:     maxMemory,
	time:       maxTime,
	keyLen:     maxKeyLen,
	saltLen:    maxSaltLen,
	bcryptCost: maxBcryptCost,
}

// Validate reports whether p is usable: every field within the bounds that
// Verify also applies to stored hashes.
func (p Params) Validate() error {
	return defaultLimits.check(p)
}

func (l limits) check(p Params) error {
	switch {
	case p.Time < 1 || p.Time > l.time:
		return fmt.Errorf("%w: t=%d, want 1..%d", ErrUnsafeParams, p.Time, l.time)
	case p.Threads < 1:
		return fmt.Errorf("%w: p=%d, want at least 1", ErrUnsafeParams, p.Threads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > l.memory:
		return fmt.Errorf("%w: m=%d KiB, want %d..%d", ErrUnsafeParams, p.Memory, 8*uint32(p.Threads), l.memory)
	case p.KeyLen < minKeyLen || p.KeyLen > l.keyLen:
		return fmt.Errorf("%w: key length %d, want %d..%d", ErrUnsafeParams, p.KeyLen, minKeyLen, l.keyLen)
	case p.SaltLen < minSaltLen || p.SaltLen > l.saltLen:
		return fmt.Errorf("%w: salt length %d, want %d..%d", ErrUnsafeParams, p.SaltLen, minSaltLen, l.saltLen)
	}
	return nil
}

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params Params
	limits limits

	dummyOnce sync.Once
	dummy     string // a hash made with params, for DummyVerify
}

// NewHasher returns a Hasher that makes argon2id hashes with p. It panics if
// p.Validate fails: call Validate first when p comes from configuration.
func NewHasher(p Params) *Hasher {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return &Hasher{params: p, limits: defaultLimits}
}

// Params returns the parameters h hashes with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the argon2id PHC string of password, with a fresh random
// salt. The password is NFC-normalised first.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil { // never fails since Go 1.24
		return "", fmt.Errorf("password: reading salt: %w", err)
	}
	key := deriveKey(password, salt, h.params)
	return phc{params: h.params, salt: salt, key: key}.String(), nil
}

// Verify reports whether password matches encoded, a hash made by Hash (with
// any parameters) or a bcrypt hash ($2a$, $2b$, $2y$). needsRehash is true
// when the password matched but encoded is not what h would produce now: a
// bcrypt hash, or argon2id with parameters other than h's. The caller should
// then store a fresh Hash of the password.
//
// A wrong password gives ok false and a nil error. A malformed, unsupported
// or out-of-bounds encoded string gives ok false and an error wrapping
// [ErrMalformedHash], [ErrUnsupportedHash] or [ErrUnsafeParams].
func (h *Hasher) Verify(password, encoded string) (ok, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2"):
		return h.verifyArgon2(password, encoded)
	case strings.HasPrefix(encoded, "$2"):
		return h.verifyBcrypt(password, encoded)
	case encoded == "":
		return false, false, fmt.Errorf("%w: empty", ErrMalformedHash)
	case strings.HasPrefix(encoded, "$"):
		id, _, _ := strings.Cut(encoded[1:], "$")
		return false, false, fmt.Errorf("%w: %.16q", ErrUnsupportedHash, id)
	default:
		return false, false, fmt.Errorf("%w: no $id$ prefix", ErrMalformedHash)
	}
}

func (h *Hasher) verifyArgon2(password, encoded string) (ok, needsRehash bool, err error) {
	stored, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.limits.check(stored.params); err != nil {
		return false, false, err
	}
	key := deriveKey(password, stored.salt, stored.params)
	if subtle.ConstantTimeCompare(key, stored.key) != 1 {
		return false, false, nil
	}
	return true, stored.params != h.params, nil
}

// hashSlots bounds the argon2id computations running at once to the
// number of CPUs, and each slot keeps its working memory between them.
// A computation holds Memory KiB (19 MiB by default) for its whole run,
// so a burst of logins beyond the CPUs would only add memory and cache
// misses, not throughput: a login waiting for a slot costs no CPU. Reusing
// the memory spares the runtime zeroing it and the kernel faulting it in
// for every hash (a tenth of a login's CPU with x/crypto's argon2), and
// keeps the server's memory flat at GOMAXPROCS × Memory while logins
// come; a slot unused for slotIdleRelease gives its memory back.
var hashSlots = func() chan *argon2.Buffer {
	slots := make(chan *argon2.Buffer, runtime.GOMAXPROCS(0))
	for range cap(slots) {
		slots <- new(argon2.Buffer) // grown on first use
	}
	return slots
}()

// maxKeptMemory is the largest working memory (KiB) a slot keeps. A stored
// hash with more (imported from elsewhere) gets a buffer of its own that
// is dropped afterwards, so one such account does not pin its memory.
const maxKeptMemory = 64 * 1024

// slotIdleRelease is how long a slot keeps its memory without a hash.
const slotIdleRelease = time.Minute

// deriveKey is argon2id over the NFC form of password.
func deriveKey(password string, salt []byte, p Params) []byte {
	pw := []byte(norm.NFC.String(password))
	buf := <-hashSlots
	defer func() {
		buf.ReleaseAfter(slotIdleRelease)
		hashSlots <- buf
	}()
	if p.Memory > maxKeptMemory {
		return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	}
	return buf.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// verifyBcrypt checks a bcrypt hash. Its shape is checked here rather than
// left to the bcrypt package, which accepts other versions and any length,
// and its cost is bounded.
func (h *Hasher) verifyBcrypt(password, encoded string) (ok, needsRehash bool, err error) {
	cost, err := parseBcrypt(encoded)
	if err != nil {
		return false, false, err
	}
	if cost > h.limits.bcryptCost {
		return false, false, fmt.Errorf("%w: bcrypt cost %d, want at most %d", ErrUnsafeParams, cost, h.limits.bcryptCost)
	}
	err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
	switch {
	case err == nil:
		return true, true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, false, nil
	default:
		return false, false, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
	}
}

// parseBcrypt checks that s is "$2a$", "$2b$" or "$2y$", a two-digit cost,
// "$", then 53 characters of bcrypt's base64 alphabet (22 of salt, 31 of
// hash), and returns the cost.
func parseBcrypt(s string) (cost int, err error) {
	const size = 60
	if len(s) != size {
		return 0, fmt.Errorf("%w: bcrypt hash of %d bytes, want %d", ErrMalformedHash, len(s), size)
	}
	switch s[:4] {
	case "$2a$", "$2b$", "$2y$":
	default:
		return 0, fmt.Errorf("%w: bcrypt version %q", ErrUnsupportedHash, s[:4])
	}
	if !isDigit(s[4]) || !isDigit(s[5]) || s[6] != '$' {
		return 0, fmt.Errorf("%w: bcrypt cost", ErrMalformedHash)
	}
	cost = int(s[4]-'0')*10 + int(s[5]-'0')
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return 0, fmt.Errorf("%w: bcrypt cost %d", ErrMalformedHash, cost)
	}
	for i := 7; i < size; i++ {
		c := s[i]
		if !(c == '.' || c == '/' || isDigit(c) || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return 0, fmt.Errorf("%w: bcrypt character %q", ErrMalformedHash, c)
		}
	}
	return cost, nil
}

// DummyVerify does the work of verifying password against an argon2id hash
// made with h's parameters, and throws the result away. Call it when the
// account does not exist (or has no password) so that the response takes as
// long as for an account that does. The dummy hash is made on first use, so
// that first call costs one extra hash.
func (h *Hasher) DummyVerify(password string) {
	h.dummyOnce.Do(func() {
		// The salt is random; the password need not be secret, as the
		// result is never used.
		var err error
		h.dummy, err = h.Hash("portti dummy password")
		if err != nil {
			panic(err) // Hash fails only if crypto/rand does, which it does not
		}
	})
	h.Verify(password, h.dummy)
}

// phc is a parsed argon2id PHC string.
type phc struct {
	params Params // SaltLen and KeyLen are those of salt and key
	salt   []byte
	key    []byte
}

// b64 is the encoding of salt and hash in PHC strings: standard alphabet,
// no padding, and (Strict) zero trailing bits, so each value has exactly
// one encoding.
var b64 = base64.RawStdEncoding.Strict()

// String formats p as "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func (p phc) String() string {
	var b strings.Builder
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(p.params.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.params.Time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.params.Threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(p.salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(p.key))
	return b.String()
}

// parsePHC parses an argon2id PHC string in exactly the form String writes:
// version 19, parameters m, t and p in that order as decimals without sign
// or leading zeros, and canonical unpadded base64. Anything else is an
// error: a stored hash is never "almost" right. Bounds are not checked here.
func parsePHC(s string) (phc, error) {
	var p phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, fmt.Errorf("%w: want 6 $-separated fields, got %d", ErrMalformedHash, len(parts))
	}
	switch parts[1] {
	case "argon2id":
	case "argon2i", "argon2d":
		return p, fmt.Errorf("%w: %s", ErrUnsupportedHash, parts[1])
	default:
		return p, fmt.Errorf("%w: algorithm %.16q", ErrMalformedHash, parts[1])
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return p, fmt.Errorf("%w: no version", ErrMalformedHash)
	}
	version, ok := parseDecimal(v, 1<<32-1)
	if !ok {
		return p, fmt.Errorf("%w: version %.16q", ErrMalformedHash, v)
	}
	if version != argon2.Version {
		return p, fmt.Errorf("%w: argon2 version %d", ErrUnsupportedHash, version)
	}

	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, fmt.Errorf("%w: want parameters m,t,p", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		max := uint64(1<<32 - 1)
		if name == "p=" {
			max = 255 // argon2 allows 2^24-1 lanes; Params.Threads is a uint8
		}
		d, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return p, fmt.Errorf("%w: want parameters m,t,p", ErrMalformedHash)
		}
		if vals[i], ok = parseDecimal(d, max); !ok {
			return p, fmt.Errorf("%w: parameter %s%.16q", ErrMalformedHash, name, d)
		}
	}

	salt, err := decodeB64(parts[4])
	if err != nil {
		return p, fmt.Errorf("%w: salt: %v", ErrMalformedHash, err)
	}
	key, err := decodeB64(parts[5])
	if err != nil {
		return p, fmt.Errorf("%w: hash: %v", ErrMalformedHash, err)
	}
	p.params = Params{
		Memory:  uint32(vals[0]),
		Time:    uint32(vals[1]),
		Threads: uint8(vals[2]),
		KeyLen:  uint32(len(key)),
		SaltLen: uint32(len(salt)),
	}
	p.salt, p.key = salt, key
	return p, nil
}

// decodeB64 decodes canonical unpadded standard base64. encoding/base64
// skips '\r' and '\n', so the input is re-encoded and compared to refuse
// them and any other non-canonical form.
func decodeB64(s string) ([]byte, error) {
	switch {
	case s == "":
		return nil, errors.New("empty")
	case len(s) > 4*maxKeyLen: // both salt and key are bounded by 1024 bytes
		return nil, errors.New("too long")
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if b64.EncodeToString(b) != s {
		return nil, errors.New("not canonical")
	}
	return b, nil
}

// parseDecimal parses a decimal number without sign or leading zeros that
// is at most max.
func parseDecimal(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n, n <= max
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
