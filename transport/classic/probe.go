package classic

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/cometbft/cometbft/libs/protoio"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/p2p/conn"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
)

// ErrProbeIdentity means the node at the probed address proved another
// identity than the address names.
var ErrProbeIdentity = errors.New("probed node proved a different ID")

// ErrProbeIncompatible means the node answered but its NodeInfo is invalid
// or of another network (chain ID, block protocol).
var ErrProbeIncompatible = errors.New("probed node is incompatible")

// ProbeError says which step of a probe failed and at which address.
type ProbeError struct {
	Addr  string
	Stage string // "dial", "secret connection", "identity", "node info"
	Err   error
}

func (e *ProbeError) Error() string {
	return fmt.Sprintf("classic probe of %s failed at %s: %v", e.Addr, e.Stage, e.Err)
}

func (e *ProbeError) Unwrap() error { return e.Err }

// Probe checks that a classic node proving addr.ID listens at addr's IP
// and port and is on our chain: it dials TCP, runs upstream's
// SecretConnection handshake (which proves the remote key) and exchanges
// NodeInfo as upstream's transport does, then hangs up. The bridge uses
// it before an address crosses into the classic book.
func (f *Face) Probe(ctx context.Context, addr addrbook.NetAddress) error {
	want, err := addrbook.ClassicIDs.Normalize(addr.ID)
	if err != nil {
		return &ProbeError{Addr: addr.String(), Stage: "identity", Err: err}
	}
	ni, err := f.probe(ctx, addr)
	if err != nil {
		return err
	}
	if string(ni.DefaultNodeID) != want {
		return &ProbeError{Addr: addr.String(), Stage: "identity",
			Err: fmt.Errorf("%w: got %s", ErrProbeIdentity, ni.DefaultNodeID)}
	}
	return nil
}

// ProbeKey connects to addr like Probe and returns the raw ed25519 key the
// node proved, whatever addr.ID says; the caller decides what it trusts.
func (f *Face) ProbeKey(ctx context.Context, addr addrbook.NetAddress) ([]byte, error) {
	_, key, err := f.probeWithKey(ctx, addr)
	return key, err
}

func (f *Face) probe(ctx context.Context, addr addrbook.NetAddress) (p2p.DefaultNodeInfo, error) {
	ni, _, err := f.probeWithKey(ctx, addr)
	return ni, err
}

func (f *Face) probeWithKey(ctx context.Context, addr addrbook.NetAddress) (p2p.DefaultNodeInfo, []byte, error) {
	var none p2p.DefaultNodeInfo
	target := addr.DialString()
	if !addr.IP.IsValid() || addr.Port == 0 {
		return none, nil, &ProbeError{Addr: addr.String(), Stage: "dial", Err: errors.New("no IP or port")}
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.ProbeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return none, nil, &ProbeError{Addr: addr.String(), Stage: "dial", Err: err}
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return none, nil, &ProbeError{Addr: addr.String(), Stage: "dial", Err: err}
	}
	// Closing the socket when ctx ends unblocks the handshake's reads even
	// if the caller cancels before the deadline.
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()

	sc, err := conn.MakeSecretConnection(c, f.nodeKey.PrivKey)
	if err != nil {
		return none, nil, &ProbeError{Addr: addr.String(), Stage: "secret connection", Err: err}
	}
	key := sc.RemotePubKey().Bytes()
	connID := p2p.PubKeyToID(sc.RemotePubKey())

	// NodeInfo exchange as upstream's transport does it: both sides write
	// their delimited proto and read the other's, concurrently.
	errc := make(chan error, 1)
	go func() {
		_, err := protoio.NewDelimitedWriter(sc).WriteMsg(f.nodeInfo.ToProto())
		errc <- err
	}()
	var pb tmp2p.DefaultNodeInfo
	_, rerr := protoio.NewDelimitedReader(sc, p2p.MaxNodeInfoSize()).ReadMsg(&pb)
	werr := <-errc
	if rerr != nil || werr != nil {
		return none, key, &ProbeError{Addr: addr.String(), Stage: "node info", Err: errors.Join(rerr, werr)}
	}
	ni, err := p2p.DefaultNodeInfoFromToProto(&pb)
	if err != nil {
		return none, key, &ProbeError{Addr: addr.String(), Stage: "node info", Err: fmt.Errorf("%w: %v", ErrProbeIncompatible, err)}
	}
	if err := ni.Validate(); err != nil {
		return none, key, &ProbeError{Addr: addr.String(), Stage: "node info", Err: fmt.Errorf("%w: %v", ErrProbeIncompatible, err)}
	}
	if ni.DefaultNodeID != connID {
		return none, key, &ProbeError{Addr: addr.String(), Stage: "identity",
			Err: fmt.Errorf("%w: NodeInfo ID %s, key ID %s", ErrProbeIdentity, ni.DefaultNodeID, connID)}
	}
	if err := f.nodeInfo.CompatibleWith(ni); err != nil {
		return none, key, &ProbeError{Addr: addr.String(), Stage: "node info", Err: fmt.Errorf("%w: %v", ErrProbeIncompatible, err)}
	}
	return ni, key, nil
}
