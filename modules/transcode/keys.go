package transcode

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"vod/app/db"
	"vod/app/vodtype"
	"vod/modules/transcode/cmaf"
)

// Content keys of protected videos (issue 18). Each generation of a protected video has one random
// AES-128 key, made in the probe's transaction and stored only wrapped: AES-256-GCM under the
// server's key encryption key (transcode.key_encryption_key), with the video, generation and key id
// as additional data, so that a wrapped key copied to another row does not open. Job arguments
// carry only the key id; each part unwraps the key itself.

type keyRow struct {
	VideoID    string `gorm:"primaryKey"`
	Generation int    `gorm:"primaryKey"`
	KID        string `gorm:"column:kid"`
	Wrapped    string
	CreatedAt  time.Time
}

func (keyRow) TableName() string { return "transcode_keys" }

// kek is the AES-256 key that wraps content keys: the configured secret, hashed to 32 bytes.
func (s *Service) kek() cipher.AEAD {
	sum := sha256.Sum256(s.cfg.KeyEncryptionKey)
	block, _ := aes.NewCipher(sum[:]) // 32 bytes: cannot fail
	aead, _ := cipher.NewGCM(block)
	return aead
}

func keyAAD(videoID string, generation int, kid string) []byte {
	return fmt.Appendf(nil, "vod content key|%s|%d|%s", videoID, generation, kid)
}

func (s *Service) wrap(videoID string, generation int, k cmaf.Key) string {
	aead := s.kek()
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := aead.Seal(nonce, nonce, k.Key[:], keyAAD(videoID, generation, hex.EncodeToString(k.ID[:])))
	return base64.StdEncoding.EncodeToString(ct)
}

var errKeyUnwrap = errors.New("transcode: a content key does not open with the key encryption key (was transcode.key_encryption_key changed?)")

func (s *Service) unwrap(r keyRow) (cmaf.Key, error) {
	var k cmaf.Key
	id, err := hex.DecodeString(r.KID)
	if err != nil || len(id) != 16 {
		return k, errKeyUnwrap
	}
	raw, err := base64.StdEncoding.DecodeString(r.Wrapped)
	aead := s.kek()
	if err != nil || len(raw) < aead.NonceSize() {
		return k, errKeyUnwrap
	}
	key, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], keyAAD(r.VideoID, r.Generation, r.KID))
	if err != nil || len(key) != 16 {
		return k, errKeyUnwrap
	}
	copy(k.ID[:], id)
	copy(k.Key[:], key)
	return k, nil
}

// ensureKeyTx returns the key id of a protected generation, making its key the first time (a
// probe that runs again keeps it: segments may already be encrypted with it).
func (s *Service) ensureKeyTx(ctx context.Context, tx *db.Tx, videoID string, generation int) (string, error) {
	var r keyRow
	err := tx.G.WithContext(ctx).Where("video_id = ? AND generation = ?", videoID, generation).Take(&r).Error
	if err == nil {
		return r.KID, nil
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return "", err
	}
	var k cmaf.Key
	_, _ = rand.Read(k.ID[:])
	_, _ = rand.Read(k.Key[:])
	r = keyRow{VideoID: videoID, Generation: generation, KID: hex.EncodeToString(k.ID[:]), Wrapped: s.wrap(videoID, generation, k), CreatedAt: time.Now().UTC()}
	return r.KID, tx.G.WithContext(ctx).Create(&r).Error
}

// contentKey returns the key of a protected generation, checked against the key id its jobs carry.
func (s *Service) contentKey(ctx context.Context, videoID string, generation int, kid string) (cmaf.Key, error) {
	var r keyRow
	if err := s.db.Gorm.WithContext(ctx).Where("video_id = ? AND generation = ?", videoID, generation).Take(&r).Error; err != nil {
		return cmaf.Key{}, fmt.Errorf("transcode: content key of %s/%d: %w", videoID, generation, err)
	}
	if r.KID != kid {
		return cmaf.Key{}, fmt.Errorf("transcode: content key of %s/%d is %s, the job says %s", videoID, generation, r.KID, kid)
	}
	return s.unwrap(r)
}

// ContentKeys returns the keys of a video among the key ids a player asks for (any generation of
// the video: a viewer may still play the previous one while the next is made). The caller has
// checked that the asker may watch the video.
func (s *Service) ContentKeys(ctx context.Context, videoID string, kids [][16]byte) ([]vodtype.ContentKey, error) {
	if len(kids) == 0 {
		return nil, nil
	}
	hexes := make([]string, len(kids))
	for i, k := range kids {
		hexes[i] = hex.EncodeToString(k[:])
	}
	var rows []keyRow
	if err := s.db.Gorm.WithContext(ctx).Where("video_id = ? AND kid IN ?", videoID, hexes).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]vodtype.ContentKey, 0, len(rows))
	for _, r := range rows {
		k, err := s.unwrap(r)
		if err != nil {
			return nil, err
		}
		out = append(out, vodtype.ContentKey{ID: k.ID, Key: k.Key})
	}
	return out, nil
}

// forgetKeysTx drops the keys of a video's generations before keep (the published one and any
// later); keep 0 drops them all.
func (s *Service) forgetKeysTx(ctx context.Context, tx *db.Tx, videoID string, keep int) error {
	q := tx.G.WithContext(ctx).Where("video_id = ?", videoID)
	if keep > 0 {
		q = q.Where("generation < ?", keep)
	}
	return q.Delete(&keyRow{}).Error
}

// trackCrypt encrypts one track's segments as they are stored.
type trackCrypt struct {
	key cmaf.Key
	// ivBase starts the track's IVs: each sample's IV is ivBase plus the sample's decode time plus
	// its place in its segment, which never repeats within a track (every sample lasts at least a
	// tick); tracks share the key, so each has its own base, derived from the key and the track id
	// (the same on every worker and retry: a re-run writes the same bytes).
	ivBase uint64
	nalLen int
}

func newTrackCrypt(k cmaf.Key, trackID string) *trackCrypt {
	m := hmac.New(sha256.New, k.Key[:])
	m.Write([]byte("iv|" + trackID))
	// nalLen is known once the track's init segment is (-1 until then).
	return &trackCrypt{key: k, ivBase: binary.BigEndian.Uint64(m.Sum(nil)), nalLen: -1}
}

// keyOf returns a part's content key, or nil for a video in the clear.
func (s *Service) keyOf(ctx context.Context, b partBase) (*cmaf.Key, error) {
	if b.KID == "" {
		return nil, nil
	}
	k, err := s.contentKey(ctx, b.VideoID, b.Generation, b.KID)
	if err != nil {
		return nil, err
	}
	return &k, nil
}
