package config

import "time"

// Or is d, or def when d is not set (zero or negative): how the bridge and
// its upstreams read an optional duration against its config default.
func (d Duration) Or(def Duration) time.Duration {
	if d <= 0 {
		return def.D()
	}
	return d.D()
}
