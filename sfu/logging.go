package sfu

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// levelTrace is below slog's Debug; pion's trace output lands there.
const levelTrace = slog.LevelDebug - 4

// pionLoggerFactory routes pion's own logging into slog, one child logger
// per pion scope ("ice", "dtls", "pc", …).
type pionLoggerFactory struct {
	logger *slog.Logger
}

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{logger: f.logger.With("component", "pion", "scope", scope)}
}

type pionLogger struct {
	logger *slog.Logger
}

func (l pionLogger) log(level slog.Level, msg string) {
	ctx := context.Background()
	if l.logger.Enabled(ctx, level) {
		l.logger.Log(ctx, level, msg)
	}
}

func (l pionLogger) logf(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if l.logger.Enabled(ctx, level) {
		l.logger.Log(ctx, level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.log(levelTrace, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.logf(levelTrace, format, args...) }

// pion's debug lines go to trace as well: some format live structs with
// %+v (a new track while its RTX stream is being attached), which races,
// and they are too detailed for salon's debug level anyway.
func (l pionLogger) Debug(msg string)                  { l.log(levelTrace, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.logf(levelTrace, format, args...) }

// pion's info lines are about single connections ("ICE connection state
// changed") and would drown an operator's log; salon logs what matters
// per participant itself.
func (l pionLogger) Info(msg string)                   { l.log(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.log(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args...) }
func (l pionLogger) Error(msg string)                  { l.log(slog.LevelError, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args...) }
