package gateway

import (
	"encoding/hex"

	"tokapi.io/tok/shared/random"
)

func newTraceparent() string {
	b := random.Bytes(24)
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}
