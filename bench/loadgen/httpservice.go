package loadgen

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpService is a listener and the goroutine serving it: the bench's own
// small servers (the GRIP backend, the floor) start and stop through it.
type httpService struct {
	ln  net.Listener
	srv *http.Server
	wg  sync.WaitGroup
}

func startHTTPService(name, addr string, h http.Handler) (*httpService, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", name, err)
	}
	s := &httpService{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *httpService) addr() string { return s.ln.Addr().String() }

// close stops serving (hijacked connections are the caller's) and waits.
func (s *httpService) close() {
	s.srv.Close()
	s.wg.Wait()
}
