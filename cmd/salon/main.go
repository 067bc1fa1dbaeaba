// Command salon is the whole product in one binary: `salon serve` runs the
// web app, signalling and the SFU; other subcommands administer it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal starts a graceful shutdown, a second one
		// exits at once.
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(os.Stderr, "salon: second signal, exiting now")
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		var ue usageError
		if !errors.As(err, &ue) || ue.msg != "" {
			fmt.Fprintln(os.Stderr, "salon:", err)
		}
		os.Exit(2)
	}
}

// usageError is a mistake in the command line; main exits 2 without a
// stack of context.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run is main without the process: arguments, environment and streams come
// in, so tests can run salon in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return userCommand(ctx, args[1:], getenv, stdin, stdout, stderr, cliUserHooks())
	case "loadtest":
		return loadtestCommand(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "salon %s\n", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
}

const usage = `salon — self-hosted meetings: calendar, invitations and video rooms.

Usage:
  salon serve [flags]   run the server (salon serve --help lists the flags)
  salon user ...        manage accounts and app passwords (salon user help)
  salon loadtest ...    simulated participants against a running salon (salon loadtest --help)
  salon version         print the version

Every serve flag can also be set from the environment as SALON_<FLAG>,
for example SALON_LISTEN=:9000 or SALON_RTC_UDP_PORT=7882.
`

func versionString() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "dev"
		if ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += "-" + s.Value[:12]
				}
			}
		}
	}
	goVersion := "unknown"
	if ok {
		goVersion = info.GoVersion
	}
	return fmt.Sprintf("%s (%s)", v, goVersion)
}
