package stream

import "vod/app/media"

// ToWebVTT validates an uploaded SRT or WebVTT file and returns it as clean WebVTT.
func ToWebVTT(_ string, raw []byte) ([]byte, error) {
	cues, err := media.ParseCues(raw)
	if err != nil {
		return nil, err
	}
	return media.WriteVTT(cues), nil
}
