package transport

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
)

// slowProxy accepts TCP connections on ip and forwards each to target
// after holding it for delay: to the dialer, a peer whose TCP connect is
// instant but whose handshake starts late, as a loaded node's does.
func slowProxy(t *testing.T, ip string, target string, delay time.Duration) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				select {
				case <-time.After(delay):
				case <-done:
					return
				}
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { <-done; _ = c.Close(); _ = up.Close() }()
				go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

// dial_timeout bounds the TCP connect, handshake_timeout the handshake
// (as upstream splits them): a peer that accepts at once but handshakes
// later than DialTimeout is still reached.
func TestDialTimeoutBoundsConnectNotHandshake(t *testing.T) {
	remote, _ := testNode(t, 61, nil)
	var target string
	for _, a := range remote.Host().Addrs() {
		if tcp, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			target = "127.61.0.1:" + tcp
		}
	}
	if target == "" {
		t.Fatal("remote has no TCP address")
	}
	const delay = 800 * time.Millisecond
	proxy := slowProxy(t, "127.62.0.1", target, delay)

	n, _ := testNode(t, 63, func(c *Config) {
		c.DialTimeout = 300 * time.Millisecond
		c.HandshakeTimeout = 5 * time.Second
	})
	addr := addrbook.NetAddress{ID: remote.ID().String(), IP: netip.MustParseAddr("127.62.0.1"), Port: uint16(proxy.Port)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := n.Dial(ctx, addr); err != nil {
		t.Fatalf("dial of a peer that handshakes after %v with a %v dial timeout: %v", delay, 300*time.Millisecond, err)
	}
	if took := time.Since(start); took < delay {
		t.Fatalf("dial took %v, less than the proxy's delay %v: the test did not hold the handshake back", took, delay)
	}
}
