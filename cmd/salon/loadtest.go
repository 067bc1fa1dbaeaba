package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"

	"github.com/salonhq/salon/loadtest"
)

// loadtestCommand runs `salon loadtest`: simulated participants against a
// running salon, a report on stdout, progress on stderr.
func loadtestCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadtest.ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if _, ok := errors.AsType[*loadtest.SyntaxError](err); ok {
		return usageError{""} // the flag package printed it already
	}
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("component", "loadtest")
	rep, err := loadtest.Run(ctx, cfg, loadtest.Options{Logger: log})
	if err != nil {
		return err
	}
	if cfg.JSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}
