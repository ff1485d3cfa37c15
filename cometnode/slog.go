package cometnode

import (
	"context"
	"log/slog"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// slogFor lets pexp2p's packages, which log through slog, write into the
// node's CometBFT logger, so one log_level governs both.
func slogFor(l cmtlog.Logger) *slog.Logger { return slog.New(cmtHandler{l: l}) }

type cmtHandler struct {
	l     cmtlog.Logger
	attrs []any
}

func (h cmtHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h cmtHandler) Handle(_ context.Context, r slog.Record) error {
	kv := append([]any(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kv = append(kv, a.Key, a.Value.String())
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.l.Error(r.Message, kv...)
	case r.Level >= slog.LevelWarn:
		h.l.Info(r.Message, kv...)
	case r.Level >= slog.LevelInfo:
		h.l.Info(r.Message, kv...)
	default:
		h.l.Debug(r.Message, kv...)
	}
	return nil
}

func (h cmtHandler) WithAttrs(as []slog.Attr) slog.Handler {
	kv := append([]any(nil), h.attrs...)
	for _, a := range as {
		kv = append(kv, a.Key, a.Value.String())
	}
	return cmtHandler{l: h.l, attrs: kv}
}

// WithGroup is flattened: CometBFT's logger has no groups.
func (h cmtHandler) WithGroup(string) slog.Handler { return h }
