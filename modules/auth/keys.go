package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// keyring holds the signing key and every public key that verifies access tokens. Several keys
// allow rotation: a new key signs while the old one still verifies tokens it issued.
type keyring struct {
	signer jwk.Key
	alg    jwa.SignatureAlgorithm
	public jwk.Set
	byKid  map[string]verifyKey
	// refreshSecret keys the derivation of successor refresh tokens; it comes from the signing key,
	// so every process of an installation has the same one and nobody else does.
	refreshSecret []byte
}

type verifyKey struct {
	key jwk.Key
	alg jwa.SignatureAlgorithm
}

// loadKeys reads private keys (JWK JSON or PEM) from files; the first one signs. With no files it
// uses, creating it on first start, an Ed25519 key in dataDir/keys.
func loadKeys(files []string, dataDir string) (*keyring, error) {
	if len(files) == 0 {
		p := filepath.Join(dataDir, "keys", "signing.jwk")
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			if err := generateKey(p); err != nil {
				return nil, err
			}
		}
		files = []string{p}
	}
	kr := &keyring{public: jwk.NewSet(), byKid: map[string]verifyKey{}}
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("auth key %s: %w", f, err)
		}
		k, err := jwk.ParseKey(raw, jwk.WithPEM(len(raw) > 0 && raw[0] == '-'))
		if err != nil {
			return nil, fmt.Errorf("auth key %s: %w", f, err)
		}
		alg, err := algorithmFor(k)
		if err != nil {
			return nil, fmt.Errorf("auth key %s: %w", f, err)
		}
		if k.KeyID() == "" {
			tp, err := k.Thumbprint(cryptoSHA256)
			if err != nil {
				return nil, err
			}
			_ = k.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(tp))
		}
		_ = k.Set(jwk.AlgorithmKey, alg)
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("auth key %s: %w", f, err)
		}
		_ = pub.Set(jwk.KeyUsageKey, "sig")
		if _, dup := kr.byKid[k.KeyID()]; dup {
			return nil, fmt.Errorf("auth key %s: duplicate kid %q", f, k.KeyID())
		}
		kr.byKid[k.KeyID()] = verifyKey{key: pub, alg: alg}
		if err := kr.public.AddKey(pub); err != nil {
			return nil, err
		}
		if i == 0 {
			kr.signer, kr.alg = k, alg
			sum := sha256.Sum256(append([]byte("vod refresh successor\x00"), raw...))
			kr.refreshSecret = sum[:]
		}
	}
	return kr, nil
}

// algorithmFor pins the one algorithm each key type may be used with.
func algorithmFor(k jwk.Key) (jwa.SignatureAlgorithm, error) {
	switch k.KeyType() {
	case jwa.OKP:
		return jwa.EdDSA, nil
	case jwa.EC:
		if ek, ok := k.(jwk.ECDSAPrivateKey); ok && ek.Crv() == jwa.P256 {
			return jwa.ES256, nil
		}
		return "", errors.New("only P-256 EC keys are supported (ES256)")
	}
	return "", fmt.Errorf("key type %s is not supported: use Ed25519 (EdDSA) or P-256 (ES256)", k.KeyType())
}

func generateKey(path string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	k, err := jwk.FromRaw(priv)
	if err != nil {
		return err
	}
	kid := make([]byte, 12)
	_, _ = rand.Read(kid)
	_ = k.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(kid))
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o600)
}
