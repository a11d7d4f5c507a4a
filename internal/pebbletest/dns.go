package pebbletest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// startLoopbackDNS runs a tiny DNS server, over TCP (what Pebble's VA uses)
// and UDP on the same loopback port, that answers every A question with
// 127.0.0.1 and every other question with an empty NOERROR answer. Pebble
// is started with -dnsserver pointing here, so its validation authority finds
// the test gateway on loopback for any domain name ("gw.bridgeway.test") and
// never depends on /etc/hosts (where "localhost" may resolve to ::1 first,
// and Pebble dials only the first address). It is stopped by t.Cleanup.
func startLoopbackDNS(t testing.TB) string {
	t.Helper()
	var (
		tcpLn   net.Listener
		udpConn net.PacketConn
		err     error
	)
	// The UDP port may be taken by someone else: try a few TCP ports.
	for range 10 {
		tcpLn, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("pebbletest: dns listen: %v", err)
		}
		udpConn, err = net.ListenPacket("udp", tcpLn.Addr().String())
		if err == nil {
			break
		}
		_ = tcpLn.Close()
	}
	if err != nil {
		t.Fatalf("pebbletest: dns listen udp: %v", err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	wg.Add(2)
	go func() {
		defer wg.Done()
		serveLoopbackDNSUDP(udpConn)
	}()
	go func() {
		defer wg.Done()
		for {
			c, err := tcpLn.Accept()
			if err != nil {
				return // closed by cleanup
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveLoopbackDNSTCP(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = udpConn.Close()
		_ = tcpLn.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return tcpLn.Addr().String()
}

func serveLoopbackDNSUDP(conn net.PacketConn) {
	buf := make([]byte, 512) // classic DNS over UDP limit
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			return // closed by cleanup
		}
		reply, err := loopbackAnswer(buf[:n])
		if err != nil {
			continue // not a question we understand: let the client time out
		}
		_, _ = conn.WriteTo(reply, addr)
	}
}

// serveLoopbackDNSTCP answers length-prefixed queries until the client
// hangs up, a query is malformed, or the connection idles for a while.
func serveLoopbackDNSTCP(c net.Conn) {
	defer func() { _ = c.Close() }()
	var size [2]byte
	buf := make([]byte, 4096)
	for {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(size[:]))
		if n > len(buf) {
			return
		}
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return
		}
		reply, err := loopbackAnswer(buf[:n])
		if err != nil {
			return
		}
		msg := binary.BigEndian.AppendUint16(nil, uint16(len(reply)))
		if _, err := c.Write(append(msg, reply...)); err != nil {
			return
		}
	}
}

const (
	dnsHeaderLen = 12
	dnsTypeA     = 1
	dnsTypeANY   = 255
	dnsClassIN   = 1
)

// loopbackAnswer builds the reply to a single-question DNS query.
func loopbackAnswer(query []byte) ([]byte, error) {
	if len(query) < dnsHeaderLen || binary.BigEndian.Uint16(query[4:6]) != 1 {
		return nil, errors.New("dns: want exactly one question")
	}
	// The question name is a sequence of labels ending with a zero byte;
	// queries never use compression pointers.
	end := dnsHeaderLen
	for {
		if end >= len(query) {
			return nil, errors.New("dns: truncated name")
		}
		l := int(query[end])
		if l == 0 {
			end++
			break
		}
		if l&0xC0 != 0 {
			return nil, errors.New("dns: compressed question name")
		}
		end += 1 + l
	}
	if end+4 > len(query) {
		return nil, errors.New("dns: truncated question")
	}
	qtype := binary.BigEndian.Uint16(query[end : end+2])
	question := query[dnsHeaderLen : end+4]

	answerA := qtype == dnsTypeA || qtype == dnsTypeANY
	reply := make([]byte, 0, dnsHeaderLen+len(question)+16)
	reply = append(reply, query[0], query[1]) // same id
	// QR=1, same opcode, AA=1, RD copied, RA=1, RCODE=0 (NOERROR).
	flags := uint16(0x8000) | uint16(query[2]&0x78)<<8 | 0x0400 | uint16(query[2]&0x01)<<8 | 0x0080
	reply = binary.BigEndian.AppendUint16(reply, flags)
	reply = binary.BigEndian.AppendUint16(reply, 1) // questions
	if answerA {
		reply = binary.BigEndian.AppendUint16(reply, 1)
	} else {
		reply = binary.BigEndian.AppendUint16(reply, 0)
	}
	reply = binary.BigEndian.AppendUint16(reply, 0) // authority
	reply = binary.BigEndian.AppendUint16(reply, 0) // additional
	reply = append(reply, question...)
	if answerA {
		reply = append(reply, 0xC0, dnsHeaderLen) // pointer to the question name
		reply = binary.BigEndian.AppendUint16(reply, dnsTypeA)
		reply = binary.BigEndian.AppendUint16(reply, dnsClassIN)
		reply = binary.BigEndian.AppendUint32(reply, 60) // TTL seconds
		reply = binary.BigEndian.AppendUint16(reply, 4)
		reply = append(reply, 127, 0, 0, 1)
	}
	return reply, nil
}
