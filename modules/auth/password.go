package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters; they travel inside every hash string so that raising
// them upgrades old hashes at the next login.
type Argon2Params struct {
	MemoryKiB  uint32
	Iterations uint32
	Threads    uint8
}

const (
	saltLen = 16
	keyLen  = 32
)

// hasher bounds concurrent argon2 work: each hash takes MemoryKiB of RAM, so a login flood queues
// instead of exhausting memory.
type hasher struct {
	params Argon2Params
	sem    chan struct{}
	dummy  string
}

func newHasher(p Argon2Params, concurrency int) (*hasher, error) {
	h := &hasher{params: p, sem: make(chan struct{}, concurrency)}
	// The hash an unknown user's password is checked against: any hash string of the current
	// parameters costs the same to verify, so random bytes stand in for a key and no hash (tens of
	// milliseconds of CPU and MemoryKiB of memory) is computed at every start.
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	h.dummy = encodeHash(p, salt, key)
	return h, nil
}

func encodeHash(p Argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release ends a hash. When no other is running, the freed Argon2 blocks (MemoryKiB each) go back
// to the OS: otherwise the Go heap keeps them, and a process's footprint is set by its last burst
// of logins (an idle server stayed at ~95 MiB instead of ~57 after two).
func (h *hasher) release() {
	<-h.sem
	if len(h.sem) == 0 {
		go debug.FreeOSMemory()
	}
}

func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	return encodeHash(p, salt, argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Threads, keyLen)), nil
}

var errBadHash = errors.New("auth: malformed password hash")

func parseHash(encoded string) (Argon2Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	var p Argon2Params
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Threads); err != nil {
		return p, nil, nil, errBadHash
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<22 || p.Iterations == 0 || p.Iterations > 64 || p.Threads == 0 {
		return p, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// verify reports whether password matches encoded, and whether the hash uses weaker parameters than
// the current ones and should be replaced.
func (h *hasher) verify(ctx context.Context, password, encoded string) (ok, stale bool, err error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Threads, uint32(len(key)))
	h.release()
	ok = subtle.ConstantTimeCompare(got, key) == 1
	stale = p.MemoryKiB < h.params.MemoryKiB || p.Iterations < h.params.Iterations || p.Threads < h.params.Threads
	return ok, stale, nil
}

// burn spends the time of one verification, so that an unknown user answers as slowly as a wrong
// password.
func (h *hasher) burn(ctx context.Context, password string) {
	_, _, _ = h.verify(ctx, password, h.dummy)
}
