// Package cmaf reads and edits the few parts of fragmented MP4 (ISO/IEC 14496-12) that a chunked
// encode needs: it cuts an ffmpeg fragmented MP4 into its init segment and its media segments (one
// moof+mdat pair each), reads each segment's decode time and duration, and moves a segment on the
// timeline by rewriting its tfdt, so that segments encoded separately (chunk by chunk, on different
// workers) form one continuous track. No media data is decoded or re-encoded.
package cmaf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Segment is one media segment: a moof box and its mdat (and any styp/sidx/prft before them).
type Segment struct {
	Data []byte
	// DecodeTime is the tfdt of its first track fragment, in the track's timescale.
	DecodeTime uint64
	// Duration is the sum of its samples' durations, in the track's timescale.
	Duration uint64
	// Samples is the number of samples.
	Samples int
}

// File is a fragmented MP4 cut into parts.
type File struct {
	Init      []byte // ftyp + moov
	Timescale uint32 // of the (first) track
	Segments  []Segment
}

type box struct {
	typ        string
	start, end int // the whole box
	body       int // where its payload starts
}

// boxes lists the boxes in b[from:to].
func boxes(b []byte, from, to int) ([]box, error) {
	var out []box
	for off := from; off < to; {
		if to-off < 8 {
			return nil, fmt.Errorf("cmaf: truncated box header at %d", off)
		}
		size := uint64(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		hdr := 8
		switch size {
		case 1:
			if to-off < 16 {
				return nil, fmt.Errorf("cmaf: truncated large box at %d", off)
			}
			size, hdr = binary.BigEndian.Uint64(b[off+8:]), 16
		case 0:
			size = uint64(to - off)
		}
		if size < uint64(hdr) || uint64(off)+size > uint64(to) {
			return nil, fmt.Errorf("cmaf: box %q at %d has a bad size %d", typ, off, size)
		}
		out = append(out, box{typ: typ, start: off, end: off + int(size), body: off + hdr})
		off += int(size)
	}
	return out, nil
}

func child(b []byte, parent box, typ string) (box, bool, error) {
	list, err := boxes(b, parent.body, parent.end)
	if err != nil {
		return box{}, false, err
	}
	for _, c := range list {
		if c.typ == typ {
			return c, true, nil
		}
	}
	return box{}, false, nil
}

func path(b []byte, parent box, types ...string) (box, error) {
	cur := parent
	for _, t := range types {
		next, ok, err := child(b, cur, t)
		if err != nil {
			return box{}, err
		}
		if !ok {
			return box{}, fmt.Errorf("cmaf: no %s in %s", t, cur.typ)
		}
		cur = next
	}
	return cur, nil
}

// Parse cuts a single-track fragmented MP4 into its init segment and media segments.
func Parse(b []byte) (*File, error) {
	top, err := boxes(b, 0, len(b))
	if err != nil {
		return nil, err
	}
	f := &File{}
	segStart := -1
	for i, bx := range top {
		switch bx.typ {
		case "moov":
			f.Init = b[:bx.end]
			mdhd, err := path(b, bx, "trak", "mdia", "mdhd")
			if err != nil {
				return nil, err
			}
			// version 0: 4 bytes version/flags, 4 creation, 4 modification, then timescale.
			off := mdhd.body + 12
			if b[mdhd.body] == 1 {
				off = mdhd.body + 20
			}
			f.Timescale = binary.BigEndian.Uint32(b[off:])
		case "styp", "sidx", "prft", "emsg":
			if segStart < 0 {
				segStart = bx.start
			}
		case "moof":
			if segStart < 0 {
				segStart = bx.start
			}
			if i+1 >= len(top) || top[i+1].typ != "mdat" {
				return nil, errors.New("cmaf: a moof without its mdat")
			}
			mdat := top[i+1]
			seg := Segment{Data: b[segStart:mdat.end]}
			if err := readFragment(b, bx, &seg); err != nil {
				return nil, err
			}
			f.Segments = append(f.Segments, seg)
			segStart = -1
		}
	}
	if f.Init == nil || f.Timescale == 0 {
		return nil, errors.New("cmaf: no moov (not a fragmented MP4 with empty_moov?)")
	}
	return f, nil
}

// readFragment fills in the decode time, duration and sample count from a moof's first traf.
func readFragment(b []byte, moof box, seg *Segment) error {
	traf, err := path(b, moof, "traf")
	if err != nil {
		return err
	}
	tfhd, err := path(b, traf, "tfhd")
	if err != nil {
		return err
	}
	tfdt, err := path(b, traf, "tfdt")
	if err != nil {
		return err
	}
	if b[tfdt.body] == 1 {
		seg.DecodeTime = binary.BigEndian.Uint64(b[tfdt.body+4:])
	} else {
		seg.DecodeTime = uint64(binary.BigEndian.Uint32(b[tfdt.body+4:]))
	}
	// tfhd: default-sample-duration when flag 0x08 is set.
	flags := binary.BigEndian.Uint32(b[tfhd.body:]) & 0xffffff
	off := tfhd.body + 8 // version/flags + track_ID
	if flags&0x01 != 0 {
		off += 8 // base-data-offset
	}
	if flags&0x02 != 0 {
		off += 4 // sample-description-index
	}
	var defDur uint32
	if flags&0x08 != 0 {
		defDur = binary.BigEndian.Uint32(b[off:])
	}
	list, err := boxes(b, traf.body, traf.end)
	if err != nil {
		return err
	}
	for _, t := range list {
		if t.typ != "trun" {
			continue
		}
		tf := binary.BigEndian.Uint32(b[t.body:]) & 0xffffff
		n := int(binary.BigEndian.Uint32(b[t.body+4:]))
		p := t.body + 8
		if tf&0x01 != 0 {
			p += 4 // data-offset
		}
		if tf&0x04 != 0 {
			p += 4 // first-sample-flags
		}
		for range n {
			d := defDur
			if tf&0x100 != 0 {
				d = binary.BigEndian.Uint32(b[p:])
				p += 4
			}
			seg.Duration += uint64(d)
			for _, bit := range []uint32{0x200, 0x400, 0x800} {
				if tf&bit != 0 {
					p += 4
				}
			}
			if p > t.end {
				return errors.New("cmaf: trun runs past its box")
			}
		}
		seg.Samples += n
	}
	return nil
}

// Shift returns a copy of a segment moved on the timeline to start at decodeTime and carrying the
// fragment sequence number seq: every tfdt is rewritten (as version 1, 64 bits, when it grows past
// 32 bits the box must already be version 1: ffmpeg writes version 1). Sizes do not change.
func Shift(seg Segment, decodeTime uint64, seq uint32) (Segment, error) {
	b := append([]byte(nil), seg.Data...)
	top, err := boxes(b, 0, len(b))
	if err != nil {
		return Segment{}, err
	}
	delta := int64(decodeTime) - int64(seg.DecodeTime)
	for _, bx := range top {
		if bx.typ != "moof" {
			continue
		}
		mfhd, err := path(b, bx, "mfhd")
		if err != nil {
			return Segment{}, err
		}
		binary.BigEndian.PutUint32(b[mfhd.body+4:], seq)
		list, err := boxes(b, bx.body, bx.end)
		if err != nil {
			return Segment{}, err
		}
		for _, traf := range list {
			if traf.typ != "traf" {
				continue
			}
			tfdt, err := path(b, traf, "tfdt")
			if err != nil {
				return Segment{}, err
			}
			if b[tfdt.body] == 1 {
				v := int64(binary.BigEndian.Uint64(b[tfdt.body+4:])) + delta
				if v < 0 {
					return Segment{}, errors.New("cmaf: negative decode time")
				}
				binary.BigEndian.PutUint64(b[tfdt.body+4:], uint64(v))
			} else {
				v := int64(binary.BigEndian.Uint32(b[tfdt.body+4:])) + delta
				if v < 0 || v > 0xffffffff {
					return Segment{}, errors.New("cmaf: decode time does not fit a version 0 tfdt")
				}
				binary.BigEndian.PutUint32(b[tfdt.body+4:], uint32(v))
			}
		}
	}
	out := seg
	out.Data = b
	out.DecodeTime = decodeTime
	return out, nil
}

// Codecs returns the RFC 6381 codecs string of the init segment's first sample entry: for H.264
// "avc1.PPCCLL" from its avcC (profile, constraint flags, level), for AAC "mp4a.40.2".
func Codecs(init []byte) (string, error) {
	e, err := sampleEntry(init)
	if err != nil {
		return "", err
	}
	switch e.typ {
	case "avc1", "avc3":
		p, err := avcC(init, e)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s.%02x%02x%02x", e.typ, p[1], p[2], p[3]), nil
	case "mp4a":
		return "mp4a.40.2", nil
	default:
		return "", fmt.Errorf("cmaf: unsupported sample entry %q", e.typ)
	}
}

// Splitter cuts a fragmented MP4 that is still being written into its init segment and media
// segments as they complete, so that each segment can be stored while the encode goes on. Feed it
// the file's new bytes with Write; Next returns the segments completed since the last call.
type Splitter struct {
	buf       []byte
	pre       int // bytes of styp/sidx/prft waiting for their moof
	Init      []byte
	Timescale uint32
}

// Write appends bytes read from the file.
func (s *Splitter) Write(p []byte) { s.buf = append(s.buf, p...) }

// Next returns every segment complete so far (a moof with its whole mdat) and keeps the rest.
func (s *Splitter) Next() ([]Segment, error) {
	var out []Segment
	for {
		n, typ, ok, err := s.peek(s.pre)
		if err != nil || !ok {
			return out, err
		}
		switch typ {
		case "ftyp":
			s.Init = append(s.Init, s.buf[:n]...)
			s.buf = s.buf[n:]
		case "moov":
			s.Init = append(s.Init, s.buf[:n]...)
			f, err := Parse(s.Init)
			if err != nil {
				return out, err
			}
			s.Timescale = f.Timescale
			s.buf = s.buf[n:]
		case "styp", "sidx", "prft", "emsg":
			s.pre += n
		case "moof":
			m, mtyp, ok, err := s.peek(s.pre + n)
			if err != nil || !ok {
				return out, err
			}
			if mtyp != "mdat" {
				return out, errors.New("cmaf: a moof without its mdat")
			}
			end := s.pre + n + m
			data := append([]byte(nil), s.buf[:end]...)
			seg := Segment{Data: data}
			top, err := boxes(data, s.pre, s.pre+n)
			if err != nil {
				return out, err
			}
			if err := readFragment(data, top[0], &seg); err != nil {
				return out, err
			}
			out = append(out, seg)
			s.buf, s.pre = s.buf[end:], 0
		default:
			// free, skip and the like
			s.buf = append(s.buf[:s.pre], s.buf[s.pre+n:]...)
		}
	}
}

// peek reads the box header at off: its whole size and type, and whether all of it is buffered.
func (s *Splitter) peek(off int) (int, string, bool, error) {
	if len(s.buf)-off < 8 {
		return 0, "", false, nil
	}
	size := uint64(binary.BigEndian.Uint32(s.buf[off:]))
	typ := string(s.buf[off+4 : off+8])
	if size == 1 {
		if len(s.buf)-off < 16 {
			return 0, "", false, nil
		}
		size = binary.BigEndian.Uint64(s.buf[off+8:])
	}
	if size < 8 || size > 1<<34 {
		return 0, "", false, fmt.Errorf("cmaf: box %q has a bad size %d", typ, size)
	}
	if uint64(len(s.buf)-off) < size {
		return 0, typ, false, nil
	}
	return int(size), typ, true, nil
}

// avcC returns the body of an H.264 sample entry's avcC (at least its first five bytes: version,
// profile, constraints, level, NAL length size).
func avcC(init []byte, e box) ([]byte, error) {
	kids, err := boxes(init, e.body+78, e.end) // a visual sample entry's fixed fields come first
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		if k.typ == "avcC" && k.end-k.body >= 5 {
			return init[k.body:k.end], nil
		}
	}
	return nil, errors.New("cmaf: no avcC")
}
