package main

import (
	"context"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/meeting"
	"github.com/salonhq/salon/mail"
)

// newOutbox opens the mail outbox: through the --smtp relay, or the local
// mailbox admins read at /admin/mail when there is none.
func newOutbox(ctx context.Context, cfg *serveConfig, d *db.DB, log *slog.Logger, reg prometheus.Registerer) (*mail.Outbox, error) {
	// EHLO names this host as the world knows it; the public URL's host is
	// the best guess (os.Hostname is often a container's random name).
	hostname := ""
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" && u.Hostname() != "localhost" {
		hostname = u.Hostname()
	}
	var relay *mail.Relay
	if cfg.SMTP != "" {
		r, err := mail.ParseRelay(cfg.SMTP)
		if err != nil {
			return nil, fmt.Errorf("invalid %w", err)
		}
		relay = r
		log.Info("mail goes through the relay", "relay", r.String())
	} else {
		log.Info("no --smtp relay: invitations are kept in the local mailbox; admins read them at /admin/mail")
	}
	o := mail.NewOutbox(d, mail.OutboxConfig{Relay: relay, Hostname: hostname}, mail.OutboxOptions{Logger: log.With("part", "mail"), Metrics: reg})
	if err := o.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("prepare the database: %w", err)
	}
	return o, nil
}

// newScheduler builds implicit scheduling: meeting rooms for events,
// invitations to salon users' inboxes and by mail to everyone else.
func newScheduler(cfg *serveConfig, store calendar.Store, users *auth.Users, meetings *meeting.Store, tokens *auth.Tokens, log *slog.Logger, reg prometheus.Registerer) (*calendar.Scheduler, error) {
	host := "localhost"
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	from := mail.Address{Name: "salon", Email: "salon@" + host}
	if cfg.MailFrom != "" {
		a, err := netmail.ParseAddress(cfg.MailFrom)
		if err != nil {
			return nil, fmt.Errorf("invalid --mail-from: %w", err)
		}
		from = mail.Address{Name: a.Name, Email: a.Address}
		if from.Name == "" {
			from.Name = "salon"
		}
	}
	composer := mail.NewComposer(mail.ComposerConfig{From: from, Domain: host}, mail.ComposerOptions{})
	return calendar.NewScheduler(calendar.SchedulerConfig{PublicURL: cfg.PublicURL}, calendar.SchedulerOptions{
		Store: store, Directory: users, Meetings: meetings, Composer: composer, Tokens: tokens,
		Logger: log.With("part", "scheduling"), Metrics: reg,
	}), nil
}

// startInbound opens the --inbound-listen listener the mail server hands
// replies to; nil when it is off.
func startInbound(cfg *serveConfig, sched *calendar.Scheduler, log *slog.Logger, reg prometheus.Registerer) (*mail.InboundServer, error) {
	if cfg.InboundListen == "" {
		return nil, nil
	}
	host, _ := os.Hostname()
	srv, err := mail.NewInboundServer(mail.InboundConfig{Addr: cfg.InboundListen, Domain: host},
		mail.InboundOptions{Handler: sched, Logger: log.With("part", "mail-inbound"), Metrics: reg})
	if err != nil {
		return nil, fmt.Errorf("invalid --inbound-listen: %w", err)
	}
	l, err := srv.Listen()
	if err != nil {
		return nil, fmt.Errorf("listen on --inbound-listen %s: %w", cfg.InboundListen, err)
	}
	go func() {
		if err := srv.Serve(l); err != nil {
			log.Error("inbound mail listener stopped", "err", err)
		}
	}()
	log.Info("receiving iMIP replies", "inbound_listen", cfg.InboundListen)
	return srv, nil
}
