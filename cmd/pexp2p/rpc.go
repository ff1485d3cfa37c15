package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// peerLister is the part of a face /net_info reads.
type peerLister interface {
	Peers() []pex.PeerInfo
}

// NetInfo is GET /net_info: CometBFT's n_peers, and per peer both IDs,
// a multiaddr and the direction.
type NetInfo struct {
	NPeers int           `json:"n_peers"`
	Peers  []NetInfoPeer `json:"peers"`
}

// NetInfoPeer is one connected peer.
type NetInfoPeer struct {
	PeerID     string `json:"peer_id"`
	ID         string `json:"id"`
	Multiaddr  string `json:"multiaddr"`
	IsOutbound bool   `json:"is_outbound"`
}

// rpcServer serves /net_info, /addrbook and /metrics.
type rpcServer struct {
	peers peerLister
	book  *addrbook.Book
	reg   prometheus.Gatherer
	// remoteAddr, when set, gives the multiaddr of the connection to a
	// peer (libp2p face); otherwise the advertised address is shown.
	remoteAddr func(peerID string) string

	srv *http.Server
	ln  net.Listener
}

func (s *rpcServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /net_info", s.netInfo)
	mux.HandleFunc("GET /addrbook", s.addrBook)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

func (s *rpcServer) netInfo(w http.ResponseWriter, r *http.Request) {
	ps := s.peers.Peers()
	ni := NetInfo{NPeers: len(ps), Peers: make([]NetInfoPeer, 0, len(ps))}
	for _, p := range ps {
		e := NetInfoPeer{PeerID: p.ID, IsOutbound: p.Outbound}
		if cid, err := transport.CometIDFromPeerIDText(p.ID); err == nil {
			e.ID = cid
		}
		if s.remoteAddr != nil {
			e.Multiaddr = s.remoteAddr(p.ID)
		}
		if e.Multiaddr == "" && !p.ListenAddr.IsZero() {
			if mas, err := transport.NetAddressToMultiaddrs(p.ListenAddr); err == nil && len(mas) > 0 {
				e.Multiaddr = mas[0].String()
			}
		}
		ni.Peers = append(ni.Peers, e)
	}
	writeJSON(w, ni)
}

func (s *rpcServer) addrBook(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, statsOf(s.book))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = writeIndentedJSON(w, v)
}

// writeIndentedJSON writes v as indented JSON: the shape of every --json
// output and RPC answer, readable as it is and by jq.
func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listen binds the server; a port in use is reported here, before the
// node starts anything else.
func (s *rpcServer) listen(laddr string) error {
	hp, err := rpcListenAddr(laddr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", hp)
	if err != nil {
		return usage("rpc.laddr", laddr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// Addr is the bound address (useful with port 0).
func (s *rpcServer) Addr() string { return s.ln.Addr().String() }

func (s *rpcServer) serve() {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Errorw("rpc server", "err", err)
	}
}

func (s *rpcServer) shutdown() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
