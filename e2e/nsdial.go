package e2e

import (
	"context"
	"net"
	"net/http"
	"time"
)

// dialIn opens a TCP connection from inside the network namespace ns. A
// socket belongs to the namespace of the thread that created it, whatever
// thread uses it later, so the dial happens on a thread that entered the
// namespace (inNS) and the connection is handed back.
func dialIn(ctx context.Context, ns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// nsClient is an HTTP client whose connections start inside a namespace.
func nsClient(ns string, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialIn(ctx, ns, addr)
			},
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}
