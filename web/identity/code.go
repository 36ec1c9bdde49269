package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// A recovery code is 24 symbols of Crockford base32: 120 random bits, shown
// as six groups of four. It is stored split in two: the first selectorLen
// symbols, HMAC'd with the server's pepper, find the row with one indexed
// lookup; the whole code is checked against an argon2id hash. A stolen
// database alone can neither look codes up nor cheaply test guesses.
const (
	codeLen     = 24
	groupLen    = 4
	selectorLen = 12 // 60 bits: unique across far more users than we will have
	alphabet    = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// CodeFormatHint is what a user is told when a pasted code is malformed.
const CodeFormatHint = "A recovery code is 24 letters and digits in six groups of four, like 7K3M-Q9XD-2B8F-HW4N-C6PT-R1VZ. Dashes, spaces and case do not matter."

// errMalformedCode is returned by NormalizeCode for input that is not a code.
var errMalformedCode = errors.New("malformed recovery code")

// NewCode returns a fresh random recovery code, normalized (no dashes).
func NewCode() string {
	var b [15]byte // 120 bits = 24 symbols of 5 bits
	rand.Read(b[:])
	var out strings.Builder
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out.WriteByte(alphabet[(acc>>bits)&31])
		}
	}
	return out.String()
}

// GroupCode formats a normalized code for display: XXXX-XXXX-…
func GroupCode(code string) string {
	var groups []string
	for i := 0; i < len(code); i += groupLen {
		groups = append(groups, code[i:min(i+groupLen, len(code))])
	}
	return strings.Join(groups, "-")
}

// NormalizeCode turns what a user pasted into the canonical 24 symbols:
// case, spaces and dashes are ignored, and Crockford's look-alikes are
// read as the digits they resemble (O as 0, I and L as 1).
func NormalizeCode(input string) (string, error) {
	if len(input) > 200 {
		return "", errMalformedCode
	}
	var out strings.Builder
	for _, r := range input {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '_' || r == '.':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		switch r {
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(alphabet, r) {
			return "", errMalformedCode
		}
		out.WriteRune(r)
	}
	if out.Len() != codeLen {
		return "", errMalformedCode
	}
	return out.String(), nil
}

// selector returns HMAC-SHA256(pepper, first symbols of code).
func selector(pepper []byte, code string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(code[:selectorLen]))
	return m.Sum(nil)
}

// argonParams are argon2id's costs. Hashes carry their parameters (PHC
// string format), so raising these later keeps old codes working.
type argonParams struct {
	memoryKiB uint32
	time      uint32
	threads   uint8
}

// defaultArgon is OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
var defaultArgon = argonParams{memoryKiB: 19 * 1024, time: 2, threads: 1}

const argonKeyLen = 32

func (p argonParams) hash(code string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(code), salt, p.time, p.memoryKiB, p.threads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memoryKiB, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// verifyHash checks code against a PHC-format argon2id hash in constant time.
func verifyHash(encoded, code string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("verifier: not an argon2id hash")
	}
	var version int
	var p argonParams
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("verifier: version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memoryKiB, &p.time, &p.threads); err != nil {
		return false, fmt.Errorf("verifier: params %q", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("verifier: salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("verifier: key: %w", err)
	}
	got := argon2.IDKey([]byte(code), salt, p.time, p.memoryKiB, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
