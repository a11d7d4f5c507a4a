//go:build !linux

package passthrough

import "go.uber.org/zap"

// io_uring is Linux-only: elsewhere tunnels use the epoll loop's stand-in
// (which also declines) and their pumps.
type ringLoop struct{}

type ringShare struct{}

func pickRing(*zap.Logger) *ringLoop { return nil }

func (*direction) useRing(*ringLoop) bool { return false }

func (*direction) ringArm() bool { return false }

func (*direction) ringEvict() {}
