package proxy

import (
	"strconv"
	"time"

	"github.com/bridgeway/bridgeway/config"
)

// hstsValue is the Strict-Transport-Security header for tls.hsts ("" when
// it is absent: the header is opt-in, since browsers remember it).
func hstsValue(h *config.HSTS) string {
	if h == nil {
		return ""
	}
	v := "max-age=" + strconv.FormatInt(int64(h.MaxAge.D()/time.Second), 10)
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}
