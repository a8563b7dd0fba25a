package vodtype

import "testing"

// TestBidiControls: titles and labels refuse bidirectional overrides, which make "gpj.exe" display
// as "exe.jpg"; text taken from files has them removed instead.
func TestBidiControls(t *testing.T) {
	for _, s := range []string{"invoice\u202egpj.exe", "a\u2066b\u2069", "x\u200fy", "\u061c"} {
		if !HasControl(s, false) || !HasControl(s, true) {
			t.Errorf("%q passed", s)
		}
	}
	for _, s := range []string{"Café au lait", "שלום עולם", "مرحبا", "line\nbreak"} {
		if HasControl(s, true) {
			t.Errorf("%q refused", s)
		}
	}
	if got := StripControl("holiday\u202e4pm.exe\x00"); got != "holiday4pm.exe" {
		t.Errorf("StripControl = %q", got)
	}
}
