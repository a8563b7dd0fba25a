package cmaf

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
)

// Common Encryption ('cenc', AES-128 CTR, ISO/IEC 23001-7) of segments as they pass, for protected
// playback (issue 18). ffmpeg 5.1's muxer writes no per-sample encryption boxes into fragments
// (docs/PIPELINE.md), so the encryption happens here, on segments that are already cut: the samples
// of the mdat are encrypted in place (sizes unchanged) and senc, saiz and saio are appended to the
// traf; the init segment's sample entry becomes encv/enca with its sinf, and a ClearKey pssh.

// ClearKeySystemID is the W3C ClearKey DRM system id (pssh SystemID).
var ClearKeySystemID = [16]byte{0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b}

// Key is one content key: its id (in tenc and pssh) and the AES-128 key.
type Key struct {
	ID  [16]byte
	Key [16]byte
}

func put32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

func mkbox(typ string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	out := put32(make([]byte, 0, n), uint32(n))
	out = append(out, typ...)
	for _, p := range payload {
		out = append(out, p...)
	}
	return out
}

// grow adds n to the 32-bit size of every box in chain (outermost first) and returns b.
func grow(b []byte, chain []box, n int) {
	for _, bx := range chain {
		if bx.body-bx.start != 8 {
			continue // a large box (64-bit size) never happens in an init segment or a moof
		}
		binary.BigEndian.PutUint32(b[bx.start:], binary.BigEndian.Uint32(b[bx.start:])+uint32(n))
	}
}

// EncryptInit returns the init segment of a single-track file as it announces encryption with k:
// the first sample entry (avc1, mp4a, ...) renamed encv/enca with a sinf (frma, schm 'cenc', tenc
// with the key id and 8-byte IVs), and a ClearKey pssh listing the key id at the end of moov.
func EncryptInit(init []byte, k Key) ([]byte, error) {
	b := append([]byte(nil), init...)
	chain, entry, err := entryChain(b)
	if err != nil {
		return nil, err
	}
	moov := chain[0]
	format := string(b[entry.start+4 : entry.start+8])
	enc := "enca"
	switch format {
	case "avc1", "avc3", "hvc1", "hev1", "vp09", "av01":
		enc = "encv"
	case "mp4a", "Opus", "ac-3", "ec-3":
	default:
		return nil, fmt.Errorf("cmaf: cannot protect sample entry %q", format)
	}
	copy(b[entry.start+4:], enc)
	tenc := append([]byte{0, 0, 0, 0, 0, 0, 1, 8}, k.ID[:]...) // version 0, reserved, protected, IV size 8
	sinf := mkbox("sinf", mkbox("frma", []byte(format)),
		mkbox("schm", []byte{0, 0, 0, 0}, []byte("cenc"), []byte{0, 1, 0, 0}),
		mkbox("schi", mkbox("tenc", tenc)))
	pssh := mkbox("pssh", []byte{1, 0, 0, 0}, ClearKeySystemID[:], put32(nil, 1), k.ID[:], put32(nil, 0))
	grow(b, append(chain, entry), len(sinf))
	grow(b, chain[:1], len(pssh))
	out := make([]byte, 0, len(b)+len(sinf)+len(pssh))
	out = append(out, b[:entry.end]...)
	out = append(out, sinf...)
	out = append(out, b[entry.end:moov.end]...)
	out = append(out, pssh...)
	return append(out, b[moov.end:]...), nil
}

// EncryptSegment returns seg with its samples encrypted with k. ivBase makes each sample's 8-byte
// IV (ivBase + the sample's number on the whole track, firstSample for this segment's first), so
// that no IV repeats under the key across segments, chunks and workers; callers give each rendition
// its own ivBase. Video samples (H.264 length-prefixed NAL units of nalLen bytes) keep the
// length and NAL header clear and the non-picture NAL units whole (subsample encryption);
// audio (nalLen 0) is encrypted whole.
func EncryptSegment(seg Segment, k Key, ivBase uint64, firstSample uint64, nalLen int) (Segment, error) {
	b := append([]byte(nil), seg.Data...)
	f, err := readSamples(b)
	if err != nil {
		return Segment{}, err
	}
	moof, traf, sizes, dataOffPos := f.moof, f.traf, f.sizes, f.dataOff
	n := len(sizes)
	block, err := aes.NewCipher(k.Key[:])
	if err != nil {
		return Segment{}, err
	}
	sample := f.first
	senc := []byte{0, 0, 0, 0}
	if nalLen > 0 {
		senc[3] = 0x02 // subsample information present
	}
	senc = put32(senc, uint32(n))
	infoSizes := make([]byte, n)
	for i, size := range sizes {
		if sample+size > len(b) {
			return Segment{}, errors.New("cmaf: sample past the end of the segment")
		}
		var iv [16]byte
		binary.BigEndian.PutUint64(iv[:8], ivBase+firstSample+uint64(i))
		ctr := cipher.NewCTR(block, iv[:])
		data := b[sample : sample+size]
		senc = append(senc, iv[:8]...)
		if nalLen == 0 {
			ctr.XORKeyStream(data, data)
			infoSizes[i] = 8
		} else {
			subs, err := encryptNALs(ctr, data, nalLen)
			if err != nil {
				return Segment{}, err
			}
			senc = binary.BigEndian.AppendUint16(senc, uint16(len(subs)))
			for _, s := range subs {
				senc = binary.BigEndian.AppendUint16(senc, s.clear)
				senc = put32(senc, s.protected)
			}
			if 8+2+6*len(subs) > 255 {
				return Segment{}, errors.New("cmaf: too many subsamples in one sample")
			}
			infoSizes[i] = byte(8 + 2 + 6*len(subs))
		}
		sample += size
	}
	sencBox := mkbox("senc", senc)
	saiz := mkbox("saiz", []byte{0, 0, 0, 0, 0}, put32(nil, uint32(n)), infoSizes)
	// saio: where the first sample's IV is, from the moof's start (the base of this fragment).
	sencAt := traf.end + len(saiz) + 20 // saiz, then saio (20 bytes), then senc
	saio := mkbox("saio", []byte{0, 0, 0, 0}, put32(nil, 1), put32(nil, uint32(sencAt+8+8-moof.start)))
	extra := len(saiz) + len(saio) + len(sencBox)
	grow(b, []box{moof, traf}, extra)
	binary.BigEndian.PutUint32(b[dataOffPos:], binary.BigEndian.Uint32(b[dataOffPos:])+uint32(extra))
	out := make([]byte, 0, len(b)+extra)
	out = append(out, b[:traf.end]...)
	out = append(out, saiz...)
	out = append(out, saio...)
	out = append(out, sencBox...)
	out = append(out, b[traf.end:]...)
	res := seg
	res.Data = out
	return res, nil
}

type subsample struct {
	clear     uint16
	protected uint32
}

// encryptNALs encrypts the picture data of length-prefixed NAL units in place (one CTR stream over
// the protected ranges, in order, as cenc requires) and returns the subsample map. A clear run over
// 65535 bytes is split into entries that protect nothing.
func encryptNALs(ctr cipher.Stream, data []byte, nalLen int) ([]subsample, error) {
	var subs []subsample
	clear := 0
	flush := func(protected int) {
		for clear > 0xffff {
			subs = append(subs, subsample{clear: 0xffff})
			clear -= 0xffff
		}
		subs = append(subs, subsample{clear: uint16(clear), protected: uint32(protected)})
		clear = 0
	}
	for off := 0; off < len(data); {
		if off+nalLen > len(data) {
			return nil, errors.New("cmaf: truncated NAL length")
		}
		var l int
		for j := range nalLen {
			l = l<<8 | int(data[off+j])
		}
		start := off + nalLen
		if l < 1 || start+l > len(data) {
			return nil, errors.New("cmaf: bad NAL length")
		}
		typ := data[start] & 0x1f
		if typ >= 1 && typ <= 5 && l > 1 { // coded slices: header byte clear, the rest protected
			clear += nalLen + 1
			ctr.XORKeyStream(data[start+1:start+l], data[start+1:start+l])
			flush(l - 1)
		} else {
			clear += nalLen + l
		}
		off = start + l
	}
	if clear > 0 || len(subs) == 0 {
		flush(0)
	}
	return subs, nil
}

// NALLengthSize returns the size of the NAL unit length prefixes of an H.264 init segment (from
// its avcC), or 0 for audio: what EncryptSegment needs to know of the track.
func NALLengthSize(init []byte) (int, error) {
	entry, err := sampleEntry(init)
	if err != nil {
		return 0, err
	}
	switch entry.typ {
	case "mp4a":
		return 0, nil
	case "avc1", "avc3":
		p, err := avcC(init, entry)
		if err != nil {
			return 0, err
		}
		return int(p[4]&0x03) + 1, nil
	}
	return 0, fmt.Errorf("cmaf: cannot protect sample entry %q", entry.typ)
}

// entryChain finds the first sample entry of a single-track init segment and the boxes that hold
// it, moov first and stsd last: the boxes whose sizes change when the entry does.
func entryChain(init []byte) ([]box, box, error) {
	top, err := boxes(init, 0, len(init))
	if err != nil {
		return nil, box{}, err
	}
	for _, moov := range top {
		if moov.typ != "moov" {
			continue
		}
		chain, cur := []box{moov}, moov
		for _, t := range []string{"trak", "mdia", "minf", "stbl", "stsd"} {
			next, ok, err := child(init, cur, t)
			if err != nil {
				return nil, box{}, err
			}
			if !ok {
				return nil, box{}, fmt.Errorf("cmaf: no %s in %s", t, cur.typ)
			}
			chain, cur = append(chain, next), next
		}
		entries, err := boxes(init, cur.body+8, cur.end) // stsd: version/flags, entry_count
		if err != nil || len(entries) == 0 {
			return nil, box{}, errors.New("cmaf: no sample entry")
		}
		return chain, entries[0], nil
	}
	return nil, box{}, errors.New("cmaf: no moov in the init segment")
}

// sampleEntry finds the first sample entry of a single-track init segment.
func sampleEntry(init []byte) (box, error) {
	_, entry, err := entryChain(init)
	return entry, err
}

// DecryptInit undoes EncryptInit: the sample entry gets its original format back (from frma) and
// loses its sinf, and the moov its pssh boxes. Segments decrypted with DecryptSegment play with it
// as clear media (their senc/saiz/saio stay, and mean nothing without a tenc).
func DecryptInit(init []byte) ([]byte, error) {
	b := append([]byte(nil), init...)
	chain, entry, err := entryChain(b)
	if err != nil {
		return nil, err
	}
	moov := chain[0]
	skip := 28 // an audio sample entry's fixed fields
	if entry.typ == "encv" {
		skip = 78
	} else if entry.typ != "enca" {
		return b, nil // not protected
	}
	kids, err := boxes(b, entry.body+skip, entry.end)
	if err != nil {
		return nil, err
	}
	var sinf box
	for _, k := range kids {
		if k.typ == "sinf" {
			sinf = k
		}
	}
	if sinf.typ == "" {
		return nil, errors.New("cmaf: protected sample entry without sinf")
	}
	frma, err := path(b, sinf, "frma")
	if err != nil {
		return nil, err
	}
	copy(b[entry.start+4:entry.start+8], b[frma.body:frma.body+4])
	var psshs []box
	moovKids, err := boxes(b, moov.body, moov.end)
	if err != nil {
		return nil, err
	}
	for _, k := range moovKids {
		if k.typ == "pssh" {
			psshs = append(psshs, k)
		}
	}
	cut := []box{sinf}
	removed := sinf.end - sinf.start
	grow(b, append(chain, entry), -removed)
	for _, p := range psshs {
		grow(b, chain[:1], -(p.end - p.start))
		cut = append(cut, p)
	}
	out := make([]byte, 0, len(b))
	at := 0
	for _, c := range cut { // sinf comes before the pssh boxes, which follow the trak
		out = append(out, b[at:c.start]...)
		at = c.end
	}
	return append(out, b[at:]...), nil
}

// DecryptSegment decrypts a segment that EncryptSegment encrypted, with the IVs and subsample map
// of its senc, in place of the ciphertext; the boxes stay as they are.
func DecryptSegment(seg []byte, k Key) ([]byte, error) {
	b := append([]byte(nil), seg...)
	f, err := readSamples(b)
	if err != nil {
		return nil, err
	}
	senc, ok, err := child(b, f.traf, "senc")
	if err != nil || !ok {
		return nil, errors.New("cmaf: no senc in the fragment")
	}
	sizes, n := f.sizes, len(f.sizes)
	block, err := aes.NewCipher(k.Key[:])
	if err != nil {
		return nil, err
	}
	sf := binary.BigEndian.Uint32(b[senc.body:]) & 0xffffff
	if int(binary.BigEndian.Uint32(b[senc.body+4:])) != n {
		return nil, errors.New("cmaf: senc and trun disagree on the sample count")
	}
	q := senc.body + 8
	sample := f.first
	for _, size := range sizes {
		if q+8 > senc.end || sample+size > len(b) {
			return nil, errors.New("cmaf: senc or samples cut short")
		}
		var iv [16]byte
		copy(iv[:8], b[q:q+8])
		q += 8
		ctr := cipher.NewCTR(block, iv[:])
		data := b[sample : sample+size]
		if sf&0x02 == 0 {
			ctr.XORKeyStream(data, data)
		} else {
			m := int(binary.BigEndian.Uint16(b[q:]))
			q += 2
			at := 0
			for range m {
				if q+6 > senc.end {
					return nil, errors.New("cmaf: senc cut short")
				}
				clear, prot := int(binary.BigEndian.Uint16(b[q:])), int(binary.BigEndian.Uint32(b[q+2:]))
				q += 6
				at += clear
				if at+prot > len(data) {
					return nil, errors.New("cmaf: subsamples past the sample")
				}
				ctr.XORKeyStream(data[at:at+prot], data[at:at+prot])
				at += prot
			}
		}
		sample += size
	}
	return b, nil
}

// samples is where a segment's samples are: its (first) moof and traf, the position of the trun's
// data_offset, the first sample's offset in the segment, and every sample's size.
type samples struct {
	moof, traf box
	dataOff    int
	first      int
	sizes      []int
}

// readSamples reads the sample layout of a one-track fragment whose data offsets count from its
// moof (default-base-is-moof, as our fragments are written), which encryption relies on.
func readSamples(b []byte) (samples, error) {
	top, err := boxes(b, 0, len(b))
	if err != nil {
		return samples{}, err
	}
	var f samples
	for _, bx := range top {
		if bx.typ == "moof" {
			f.moof = bx
			break
		}
	}
	if f.moof.typ == "" {
		return samples{}, errors.New("cmaf: no moof")
	}
	if f.traf, err = path(b, f.moof, "traf"); err != nil {
		return samples{}, err
	}
	tfhd, err := path(b, f.traf, "tfhd")
	if err != nil {
		return samples{}, err
	}
	trun, err := path(b, f.traf, "trun")
	if err != nil {
		return samples{}, err
	}
	flags := binary.BigEndian.Uint32(b[tfhd.body:]) & 0xffffff
	if flags&0x01 != 0 || flags&0x020000 == 0 {
		return samples{}, errors.New("cmaf: fragments must use default-base-is-moof")
	}
	off := tfhd.body + 8
	if flags&0x02 != 0 {
		off += 4
	}
	if flags&0x08 != 0 {
		off += 4
	}
	var defSize uint32
	if flags&0x10 != 0 {
		defSize = binary.BigEndian.Uint32(b[off:])
	}
	tf := binary.BigEndian.Uint32(b[trun.body:]) & 0xffffff
	if tf&0x01 == 0 {
		return samples{}, errors.New("cmaf: trun without data offset")
	}
	n := int(binary.BigEndian.Uint32(b[trun.body+4:]))
	f.dataOff = trun.body + 8
	f.first = f.moof.start + int(int32(binary.BigEndian.Uint32(b[f.dataOff:])))
	p := f.dataOff + 4
	if tf&0x04 != 0 {
		p += 4
	}
	f.sizes = make([]int, n)
	for i := range n {
		if tf&0x100 != 0 {
			p += 4
		}
		f.sizes[i] = int(defSize)
		if tf&0x200 != 0 {
			f.sizes[i] = int(binary.BigEndian.Uint32(b[p:]))
			p += 4
		}
		if tf&0x400 != 0 {
			p += 4
		}
		if tf&0x800 != 0 {
			p += 4
		}
		if p > trun.end {
			return samples{}, errors.New("cmaf: trun runs past its box")
		}
	}
	return f, nil
}
