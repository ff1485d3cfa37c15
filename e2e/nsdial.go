package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// dialIn opens a TCP connection from inside the network namespace at
// nsPath. A socket belongs to the namespace of the thread that created
// it, whatever thread uses it later, so a goroutine locked to its own
// thread enters the namespace, dials and hands the connection back. It
// never unlocks: Go then ends the thread with the goroutine, so no thread
// of the runner ever goes back to work in a node's namespace.
func dialIn(ctx context.Context, nsPath, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{nil, fmt.Errorf("open %s: %w", nsPath, err)}
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		_ = unix.Close(fd)
		if err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", nsPath, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		ch <- result{c, err}
	}()
	// The dialer honours ctx, so the goroutine always answers.
	r := <-ch
	return r.c, r.err
}

// nsClient is an HTTP client whose connections start inside a namespace.
func nsClient(ns string, timeout time.Duration) *http.Client {
	path := "/run/netns/" + ns
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialIn(ctx, path, addr)
			},
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}
