package stream

import "vod/app/vodtype"

// ToWebVTT validates an uploaded SRT or WebVTT file and returns it as clean WebVTT.
func ToWebVTT(_ string, raw []byte) ([]byte, error) {
	cues, err := vodtype.ParseCues(raw)
	if err != nil {
		return nil, err
	}
	return vodtype.WriteVTT(cues), nil
}
