package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// squidProxy is Debian's squid started by a test as a forward proxy.
type squidProxy struct {
	addr string
	dir  string
}

// squidConf: a forward proxy for anyone, no cache, logs in DIR; RULES are
// the test's own directives.
const squidConf = `http_port LISTEN
pid_filename DIR/squid.pid
cache_log DIR/cache.log
access_log stdio:DIR/access.log
coredump_dir DIR
cache deny all
cache_mem 8 MB
visible_hostname bridgeway-test
shutdown_lifetime 0 seconds
strip_query_terms off
http_access allow all
RULES
`

// startSquid runs squid in the foreground with rules; it is stopped when
// the test ends.
func startSquid(t *testing.T, rules string) *squidProxy {
	t.Helper()
	bin := testdeps.LookPath(t, "squid")
	// Not t.TempDir: squid started as root runs as its own user, which
	// must be able to write its logs there.
	dir, err := os.MkdirTemp("", "bridgeway-e2e-squid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	addr := startDaemon(t, bin, func(addr string) ([]string, string) {
		conf := strings.NewReplacer("DIR", dir, "LISTEN", addr, "RULES", rules).Replace(squidConf)
		path := filepath.Join(dir, "squid.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{"-N", "-f", path}, filepath.Join(dir, "cache.log")
	})
	return &squidProxy{addr: addr, dir: dir}
}

// accessLog is squid's access log so far.
func (s *squidProxy) accessLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "access.log"))
	return string(b)
}
