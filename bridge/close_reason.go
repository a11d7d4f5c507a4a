package bridge

import "unicode/utf8"

// maxCloseReason is the most of a close reason the gateway sends: a close
// frame's payload is at most 125 bytes, two of them the code (RFC 6455 5.5).
const maxCloseReason = 120

// cutCloseReason shortens reason to maxCloseReason bytes at a rune
// boundary: a cut inside a UTF-8 sequence would be invalid UTF-8, which
// browsers answer by failing the connection (1007) instead of reporting
// the close.
func cutCloseReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}
