package raft

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter sends hashicorp/raft's hclog output to slog. hashicorp/raft
// is chatty at Info about routine state changes, so its Info becomes slog
// Debug; this package logs leadership changes at Info itself. Warn and
// Error keep their level, except routine warnings listed in quietWarnings.
type hclogAdapter struct {
	logger *slog.Logger // set at construction, never changed
	name   string
	args   []any
}

var _ hclog.Logger = (*hclogAdapter)(nil)

// quietWarnings are hashicorp/raft warnings that every node start produces;
// they are logged at Info.
var quietWarnings = map[string]bool{
	"heartbeat timeout reached, starting election": true,
}

// peerErrors are hashicorp/raft errors about a peer being unreachable.
var peerErrors = map[string]bool{
	"failed to make requestVote RPC":    true,
	"failed to appendEntries to":        true,
	"failed to heartbeat to":            true,
	"failed to decode incoming command": true,
	"failed to send snapshot to":        true,
}

func newHclogAdapter(logger *slog.Logger) *hclogAdapter {
	return &hclogAdapter{logger: logger}
}

func slogLevel(level hclog.Level, msg string) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug, hclog.Info, hclog.NoLevel, hclog.DefaultLevel:
		return slog.LevelDebug
	case hclog.Warn:
		if quietWarnings[msg] {
			return slog.LevelInfo
		}
		return slog.LevelWarn
	default:
		if peerErrors[msg] {
			return slog.LevelWarn
		}
		return slog.LevelError
	}
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	lvl := slogLevel(level, msg)
	ctx := context.Background()
	if !a.logger.Enabled(ctx, lvl) {
		return
	}
	a.logger.Log(ctx, lvl, msg, normalizeArgs(args)...)
}

// normalizeArgs makes hclog's key/value list safe for slog: a trailing key
// without a value gets one, and non-string keys are stringified by slog.
func normalizeArgs(args []any) []any {
	if len(args)%2 == 1 {
		args = append(args[:len(args):len(args)], "<missing>")
	}
	return args
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(level hclog.Level) bool {
	return a.logger.Enabled(context.Background(), slogLevel(level, ""))
}

func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.args }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	args = normalizeArgs(args)
	return &hclogAdapter{
		logger: a.logger.With(args...),
		name:   a.name,
		args:   append(a.args[:len(a.args):len(a.args)], args...),
	}
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	full := name
	if a.name != "" {
		full = a.name + "." + name
	}
	return a.ResetNamed(full)
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return &hclogAdapter{logger: a.logger.With("raft_logger", name), name: name, args: a.args}
}

// SetLevel is ignored: the slog handler decides what is shown.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer that logs each write at Debug.
func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		a.logger.Debug(string(bytes.TrimRight(p, "\n")))
		return len(p), nil
	})
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
