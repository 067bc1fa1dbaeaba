package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salonhq/salon/internal/db"
)

// Limits of the outbox.
const (
	// DefaultMaxAttempts is how many times a message is tried when
	// OutboxConfig.MaxAttempts is zero: with the default backoff, about
	// six hours.
	DefaultMaxAttempts = 12
	// MaxMessageBytes bounds one message's Data, in and out.
	MaxMessageBytes = 10 << 20
	// maxRecipients bounds one message's envelope; RFC 5321 §4.5.3.1.8
	// makes 100 the most a relay must accept.
	maxRecipients = 100

	defaultConnections  = 4
	defaultPollInterval = 30 * time.Second
	// defaultLease outlasts a session's setup and a few messages at their
	// timeouts, so that a live worker keeps what it claimed.
	defaultLease = 15 * time.Minute
	// claimBatch is how many messages a sender claims at once: enough to
	// keep its session busy, few enough to share a burst between
	// sessions.
	claimBatch = 10
	// errorDelay is how long a sender waits after a database error.
	errorDelay = 5 * time.Second
	// dbTimeout bounds the bookkeeping of an attempt that goes on after
	// Run's context ended.
	dbTimeout = 10 * time.Second
)

// Errors of the outbox. Match them with errors.Is.
var (
	ErrNotFound       = errors.New("mail: no such message in the outbox")
	ErrNotFailed      = errors.New("mail: only a failed message can be retried")
	ErrInvalidMessage = errors.New("mail: invalid outgoing message")
)

// OutboxConfig is how the outbox delivers, from salon's flags.
type OutboxConfig struct {
	// Relay is where messages go. When nil, messages are kept in the
	// local mailbox (StateLocal) for admins to read, and never sent.
	Relay *Relay
	// MaxAttempts is how many times a message is tried before it fails;
	// DefaultMaxAttempts when zero.
	MaxAttempts int
	// Hostname is the name salon gives in EHLO; os.Hostname() when empty.
	Hostname string
	// Connections is how many sessions with the relay a burst of messages
	// may use at once; 4 when zero.
	Connections int
}

// OutboxOptions are the outbox's collaborators and test hooks.
type OutboxOptions struct {
	Logger *slog.Logger // slog.Default() when nil
	// Now is the clock for queue times; time.Now when nil.
	Now func() time.Time
	// Metrics registers the salon_mail_* metrics when not nil.
	Metrics prometheus.Registerer
	// TLSConfig is the TLS configuration to reach the relay with (tests
	// set RootCAs); the system's roots when nil.
	TLSConfig *tls.Config
	// Backoff is the wait after the attempt-th failed attempt (1 after the
	// first); DefaultBackoff when nil.
	Backoff func(attempt int) time.Duration
	// PollInterval is how often an idle worker looks for due messages
	// that no Wake announced (those another node queued); 30 s when zero.
	PollInterval time.Duration
	// Lease is how long a claimed message belongs to the worker that
	// claimed it before another may try it; 15 minutes when zero. It must
	// outlast an attempt (several minutes at worst); tests shorten it to
	// see a crashed worker's messages come back.
	Lease time.Duration
}

// Outbox keeps outgoing mail in the database and delivers it through the
// relay. Delivery is at least once: a worker that dies after the relay
// accepted a message but before recording it leaves the message to be sent
// again when its lease ends. Every copy carries the same Message-ID, by
// which receivers drop duplicates.
//
// Several salon processes may share one PostgreSQL database, each running
// an Outbox worker: a message is claimed by one of them at a time.
type Outbox struct {
	db          *db.DB
	relay       *Relay
	maxAttempts int
	hostname    string
	conns       int
	log         *slog.Logger
	now         func() time.Time
	backoff     func(int) time.Duration
	tlsConfig   *tls.Config
	poll        time.Duration
	lease       time.Duration
	metrics     *outboxMetrics
	// owner names this Outbox in the lease_owner column, so that it only
	// ever releases or reschedules its own claims.
	owner string
	// wakes has one channel per sender, so that Wake reaches them all.
	wakes   []chan struct{}
	running atomic.Bool
	// writers serialises this process's outbox writes on SQLite, which
	// takes one writer at a time anyway: a queue here beats SQLite's
	// sleep-and-retry busy handler. Nil on PostgreSQL.
	writers chan struct{}
}

//go:embed migrations
var migrations embed.FS

// NewOutbox returns an Outbox on d. Call Migrate before using it, and Run
// to deliver.
func NewOutbox(d *db.DB, cfg OutboxConfig, opts OutboxOptions) *Outbox {
	o := &Outbox{
		db:          d,
		relay:       cfg.Relay,
		maxAttempts: cfg.MaxAttempts,
		hostname:    cfg.Hostname,
		conns:       cfg.Connections,
		log:         opts.Logger,
		now:         opts.Now,
		backoff:     opts.Backoff,
		tlsConfig:   opts.TLSConfig,
		poll:        opts.PollInterval,
		lease:       opts.Lease,
	}
	if o.maxAttempts <= 0 {
		o.maxAttempts = DefaultMaxAttempts
	}
	if o.hostname == "" {
		o.hostname, _ = os.Hostname()
		if o.hostname == "" {
			o.hostname = "localhost"
		}
	}
	if o.conns <= 0 {
		o.conns = defaultConnections
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.backoff == nil {
		o.backoff = DefaultBackoff
	}
	if o.poll <= 0 {
		o.poll = defaultPollInterval
	}
	if o.lease <= 0 {
		o.lease = defaultLease
	}
	o.metrics = newOutboxMetrics(opts.Metrics, o.now)
	var b [8]byte
	rand.Read(b[:])
	o.owner = hex.EncodeToString(b[:])
	o.wakes = make([]chan struct{}, o.conns)
	for i := range o.wakes {
		o.wakes[i] = make(chan struct{}, 1)
	}
	if d.Dialect == db.SQLite {
		o.writers = make(chan struct{}, 1)
	}
	return o
}

// backoffSteps are the waits after the first, second, … failed attempt:
// quick at first for a relay that blinked, then hourly for one that is
// down.
var backoffSteps = []time.Duration{
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour,
}

// DefaultBackoff is the wait after the attempt-th failed attempt: 30 s,
// 1 min, 2 min, 5 min, 10 min, 20 min, 40 min, then hourly, each give or
// take 10% so that messages that failed together do not all come back
// together.
func DefaultBackoff(attempt int) time.Duration {
	d := backoffSteps[min(max(attempt, 1), len(backoffSteps))-1]
	return d - d/10 + mathrand.N(d/5+1)
}

// Migrate creates or updates the tables the outbox needs.
func (o *Outbox) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(o.db.Dialect))
	if err != nil {
		return err
	}
	return o.db.Migrate(ctx, "mail", sub)
}

// Enqueue queues msgs in a transaction of its own and wakes the worker.
func (o *Outbox) Enqueue(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	err := o.write(ctx, func() error {
		tx, err := o.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("queue mail: %w", err)
		}
		if err := o.EnqueueTx(ctx, tx, msgs); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("queue mail: %w", err)
		}
		return nil
	})
	if err == nil {
		o.Wake()
	}
	return err
}

// EnqueueTx queues msgs inside tx, the caller's transaction on the same
// database, so that the change that caused the mail and the mail commit
// together or not at all. After committing, call Wake so that the worker
// sends at once rather than at its next poll. Every message is checked
// first; one invalid message refuses the whole call with
// ErrInvalidMessage, before anything is written.
//
// Without a relay the messages go to the local mailbox: StateLocal, "sent"
// now.
func (o *Outbox) EnqueueTx(ctx context.Context, tx *sql.Tx, msgs []Message) error {
	for i := range msgs {
		if err := checkMessage(&msgs[i]); err != nil {
			return fmt.Errorf("%w: message %d of %d (Message-ID %q): %s", ErrInvalidMessage, i+1, len(msgs), msgs[i].ID, err)
		}
	}
	now := micros(o.now())
	state, next, sentAt := StateQueued, now, int64(0)
	if o.relay == nil {
		state, next, sentAt = StateLocal, 0, now
	}
	insert := o.db.Rebind(`INSERT INTO mail_outbox (message_id, sender, recipients, subject, method, uid, data,
		state, attempts, last_error, created_at, next_attempt, sent_at, lease_owner, lease_until)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, ?, '', 0) RETURNING seq`)
	for _, m := range msgs {
		var seq int64
		err := tx.QueryRowContext(ctx, insert, m.ID, m.From, strings.Join(m.To, "\n"), m.Subject, m.Method, m.UID, m.Data,
			string(state), now, next, sentAt).Scan(&seq)
		if err != nil {
			return fmt.Errorf("queue mail %s: %w", m.ID, err)
		}
		var q strings.Builder
		args := make([]any, 0, 2*len(m.To))
		q.WriteString(`INSERT INTO mail_outbox_recipients (address, seq) VALUES `)
		for i, addr := range m.To {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?)")
			args = append(args, strings.ToLower(addr), seq)
		}
		// A recipient named twice is indexed once.
		q.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := tx.ExecContext(ctx, o.db.Rebind(q.String()), args...); err != nil {
			return fmt.Errorf("queue mail %s: %w", m.ID, err)
		}
	}
	for _, m := range msgs {
		o.metrics.queued.WithLabelValues(methodLabel(m.Method)).Inc()
	}
	return nil
}

// checkMessage says what is wrong with m, if anything.
func checkMessage(m *Message) error {
	if err := checkEnvelopeAddress(m.From); err != nil {
		return fmt.Errorf("From %q: %s", m.From, err)
	}
	switch {
	case len(m.To) == 0:
		return errors.New("no recipients (To)")
	case len(m.To) > maxRecipients:
		return fmt.Errorf("%d recipients, more than the %d one message may have", len(m.To), maxRecipients)
	case len(m.Data) == 0:
		return errors.New("no data")
	case len(m.Data) > MaxMessageBytes:
		return fmt.Errorf("%d bytes of data, more than the %d allowed", len(m.Data), MaxMessageBytes)
	case strings.ContainsAny(m.ID, "\r\n<>"):
		return errors.New("the Message-ID must be bare, without line breaks or angle brackets")
	}
	for i, addr := range m.To {
		if err := checkEnvelopeAddress(addr); err != nil {
			return fmt.Errorf("To[%d] %q: %s", i, addr, err)
		}
	}
	return nil
}

// checkEnvelopeAddress accepts a bare envelope address, local@domain, as
// MAIL FROM and RCPT TO carry it.
func checkEnvelopeAddress(addr string) error {
	at := strings.LastIndexByte(addr, '@')
	switch {
	case addr == "":
		return errors.New("empty address")
	case len(addr) > 254: // RFC 5321 §4.5.3.1.3, less the brackets
		return errors.New("longer than 254 bytes")
	case strings.ContainsAny(addr, "\r\n"):
		return errors.New("contains a line break")
	case strings.ContainsFunc(addr, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("contains a control character")
	case strings.ContainsAny(addr, "<> \t"):
		return errors.New("want a bare address such as name@example.com, without display name or angle brackets")
	case at <= 0 || at == len(addr)-1:
		return errors.New("want local@domain")
	}
	return nil
}

// Wake tells the worker that messages were just queued, so that it looks
// now instead of at its next poll. It never blocks.
func (o *Outbox) Wake() {
	for _, ch := range o.wakes {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Run delivers queued messages through the relay until ctx ends, over up to
// OutboxConfig.Connections sessions at once. When ctx ends it lets the
// attempts in flight finish (or time out), hands back what it claimed but
// did not try, and returns nil. Database and relay errors are logged and
// retried, not returned. Without a relay it only waits for ctx.
func (o *Outbox) Run(ctx context.Context) error {
	if !o.running.CompareAndSwap(false, true) {
		return errors.New("mail: Outbox.Run is already running")
	}
	defer o.running.Store(false)
	if o.relay == nil {
		<-ctx.Done()
		return nil
	}
	o.log.Info("mail outbox running", "relay", o.relay.String(), "connections", o.conns)
	var wg sync.WaitGroup
	for _, wake := range o.wakes {
		wg.Go(func() { o.sender(ctx, wake) })
	}
	wg.Wait()
	return nil
}

// claimed is a queued message a sender holds the lease of.
type claimed struct {
	seq        int64
	id         string
	from       string
	to         []string
	method     string
	attempts   int // including the one about to be made
	leaseUntil time.Time
}

// sender is one of Run's goroutines: it claims due messages and delivers
// them over one relay session, kept open while there is more to send.
func (o *Outbox) sender(ctx context.Context, wake <-chan struct{}) {
	var rc *relayClient
	defer func() {
		if rc != nil {
			rc.quit()
		}
	}()
	timer := time.NewTimer(o.poll)
	defer timer.Stop()
	for ctx.Err() == nil {
		batch, err := o.claim(ctx)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			o.log.Warn("mail outbox: cannot claim queued messages", "error", err)
			wait = errorDelay
		case len(batch) == 0:
			if rc != nil {
				rc.quit()
				rc = nil
			}
			wait = o.idle(ctx)
		default:
			rc = o.deliver(ctx, rc, batch)
			continue
		}
		// Since Go 1.23 Reset drops a tick the timer made while
		// nobody listened, so no draining is needed.
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
	}
}

// claim takes the lease of up to claimBatch due messages, counting the
// attempt about to be made. On PostgreSQL, SKIP LOCKED lets workers of
// several nodes claim side by side, each getting other rows.
//
// Once begun, a claim is not cancelled with ctx: the database could commit
// it after the driver gave up waiting, leaving messages leased to nobody
// until the lease ends. The caller releases what it will not send.
func (o *Outbox) claim(ctx context.Context) ([]claimed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	now := o.now()
	leaseUntil := now.Add(o.lease)
	lock := ""
	if o.db.Dialect == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var batch []claimed
	err := o.write(ctx, func() error {
		rows, err := o.db.QueryContext(ctx, o.db.Rebind(`UPDATE mail_outbox
			SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
			WHERE seq IN (SELECT seq FROM mail_outbox
				WHERE state = 'queued' AND next_attempt <= ? AND lease_until <= ?
				ORDER BY next_attempt, seq LIMIT ?`+lock+`)
			RETURNING seq, message_id, sender, recipients, method, attempts`),
			o.owner, micros(leaseUntil), micros(now), micros(now), claimBatch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m := claimed{leaseUntil: leaseUntil}
			var to string
			if err := rows.Scan(&m.seq, &m.id, &m.from, &to, &m.method, &m.attempts); err != nil {
				return err
			}
			m.to = strings.Split(to, "\n")
			batch = append(batch, m)
		}
		return rows.Err()
	})
	// RETURNING gives rows in no particular order; send oldest first.
	slices.SortFunc(batch, func(a, b claimed) int { return int(a.seq - b.seq) })
	return batch, err
}

// deliver sends a claimed batch over rc, opening a session when rc is nil,
// and returns the session if it is still good for more.
func (o *Outbox) deliver(ctx context.Context, rc *relayClient, batch []claimed) *relayClient {
	// The attempts in flight are seen through even after ctx ends.
	bg := context.WithoutCancel(ctx)
	for i, m := range batch {
		// The first message is tried whatever the lease; later ones only
		// while the lease outlasts an attempt, so that no other worker
		// takes them up in the meantime.
		if ctx.Err() != nil || (i > 0 && o.now().Add(messageTimeout).After(m.leaseUntil)) {
			o.release(bg, batch[i:])
			return rc
		}
		if rc == nil {
			var err error
			rc, err = o.relay.dial(ctx, o.hostname, o.tlsConfig)
			if err != nil {
				if ctx.Err() != nil {
					o.release(bg, batch[i:])
					return nil
				}
				// Every message of the batch made its attempt.
				for _, m := range batch[i:] {
					o.retry(bg, m, err)
				}
				return nil
			}
		}
		data, err := o.data(bg, m.seq)
		if err != nil {
			o.log.Warn("mail outbox: cannot read a claimed message", "seq", m.seq, "error", err)
			o.release(bg, batch[i:])
			return rc
		}
		start := time.Now()
		d := rc.send(m.from, m.to, data)
		o.metrics.duration.Observe(time.Since(start).Seconds())
		switch {
		case d.err == nil:
			o.markSent(bg, m, d.refused)
		case d.permanent:
			o.markFailed(bg, m, d.err.Error())
		default:
			o.retry(bg, m, d.err)
		}
		if d.broken {
			rc.close()
			// The rest are claimed again at once, on a new session.
			o.release(bg, batch[i+1:])
			return nil
		}
	}
	return rc
}

// data reads a message's bytes, one message at a time so that a batch of
// large messages is not held in memory at once.
func (o *Outbox) data(ctx context.Context, seq int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	var data []byte
	err := o.db.QueryRowContext(ctx, o.db.Rebind(`SELECT data FROM mail_outbox WHERE seq = ?`), seq).Scan(&data)
	return data, err
}

func (o *Outbox) markSent(ctx context.Context, m claimed, refused string) {
	// Not guarded by the lease: the relay has the message, whoever holds
	// it now.
	err := o.exec(ctx, `UPDATE mail_outbox SET state = 'sent', sent_at = ?, last_error = ?, lease_owner = '', lease_until = 0
		WHERE seq = ? AND state = 'queued'`, micros(o.now()), refusedText(refused), m.seq)
	o.metrics.sent.Inc()
	attrs := []any{"seq", m.seq, "message_id", m.id, "to", strings.Join(m.to, ","), "method", m.method, "attempts", m.attempts}
	if refused != "" {
		o.log.Warn("mail sent, but the relay refused some recipients", append(attrs, "refused", refused)...)
	} else {
		o.log.Info("mail sent", attrs...)
	}
	if err != nil {
		o.log.Warn("mail outbox: cannot record a delivery; the message may be sent again", "seq", m.seq, "error", err)
	}
}

func refusedText(refused string) string {
	if refused == "" {
		return ""
	}
	return "some recipients refused: " + refused
}

func (o *Outbox) markFailed(ctx context.Context, m claimed, reason string) {
	err := o.exec(ctx, `UPDATE mail_outbox SET state = 'failed', last_error = ?, next_attempt = 0, lease_owner = '', lease_until = 0
		WHERE seq = ? AND state = 'queued' AND lease_owner = ?`, reason, m.seq, o.owner)
	o.metrics.failed.Inc()
	o.log.Warn("mail failed", "seq", m.seq, "message_id", m.id, "to", strings.Join(m.to, ","), "method", m.method,
		"attempts", m.attempts, "error", reason)
	if err != nil {
		o.log.Warn("mail outbox: cannot record a failure", "seq", m.seq, "error", err)
	}
}

// retry records a temporary failure: the message is due again after the
// backoff, or fails when it has had all its attempts.
func (o *Outbox) retry(ctx context.Context, m claimed, cause error) {
	o.metrics.retries.Inc()
	if m.attempts >= o.maxAttempts {
		o.markFailed(ctx, m, fmt.Sprintf("gave up after %d attempts: %v", m.attempts, cause))
		return
	}
	next := o.now().Add(o.backoff(m.attempts))
	err := o.exec(ctx, `UPDATE mail_outbox SET last_error = ?, next_attempt = ?, lease_owner = '', lease_until = 0
		WHERE seq = ? AND state = 'queued' AND lease_owner = ?`, cause.Error(), micros(next), m.seq, o.owner)
	o.log.Warn("mail delivery failed, will retry", "seq", m.seq, "message_id", m.id, "to", strings.Join(m.to, ","),
		"method", m.method, "attempts", m.attempts, "error", cause, "next_attempt", next)
	if err != nil {
		o.log.Warn("mail outbox: cannot record a failed attempt", "seq", m.seq, "error", err)
	}
}

// release hands back claimed messages that were not tried, without
// counting an attempt, for the next claim to take.
func (o *Outbox) release(ctx context.Context, batch []claimed) {
	for _, m := range batch {
		err := o.exec(ctx, `UPDATE mail_outbox SET attempts = attempts - 1, lease_owner = '', lease_until = 0
			WHERE seq = ? AND state = 'queued' AND lease_owner = ?`, m.seq, o.owner)
		if err != nil {
			// The lease runs out in time anyway.
			o.log.Warn("mail outbox: cannot release a claimed message", "seq", m.seq, "error", err)
		}
	}
}

// idle refreshes the queue gauges and says how long to wait before looking
// again: until the next queued message is due, or the poll interval.
func (o *Outbox) idle(ctx context.Context) time.Duration {
	var (
		depth       int64
		oldest, due sql.NullInt64
	)
	err := o.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at),
		MIN(CASE WHEN lease_until > next_attempt THEN lease_until ELSE next_attempt END)
		FROM mail_outbox WHERE state = 'queued'`).Scan(&depth, &oldest, &due)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("mail outbox: cannot read the queue", "error", err)
		}
		return errorDelay
	}
	o.metrics.depth.Set(float64(depth))
	o.metrics.oldest.Store(oldest.Int64)
	wait := o.poll
	if due.Valid {
		// A message due already was claimed by someone else a moment
		// ago; a short pause keeps this sender from spinning on it.
		wait = min(wait, max(fromMicros(due.Int64).Sub(o.now()), 10*time.Millisecond))
	}
	return wait
}

// List returns outbox entries, newest first, without their Data.
func (o *Outbox) List(ctx context.Context, opt ListOptions) ([]Entry, error) {
	limit := opt.Limit
	switch {
	case limit <= 0:
		limit = 50
	case limit > 500:
		limit = 500
	}
	var (
		where []string
		args  []any
	)
	if opt.Before > 0 {
		where = append(where, "seq < ?")
		args = append(args, opt.Before)
	}
	switch opt.State {
	case "":
	case StateQueued, StateSent, StateFailed, StateLocal:
		where = append(where, "state = ?")
		args = append(args, string(opt.State))
	default:
		return nil, fmt.Errorf("list mail: unknown state %q; want queued, sent, failed or local", opt.State)
	}
	if opt.To != "" {
		where = append(where, "seq IN (SELECT seq FROM mail_outbox_recipients WHERE address = ?)")
		args = append(args, strings.ToLower(opt.To))
	}
	q := `SELECT ` + entryColumns + `, NULL FROM mail_outbox`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT ?"
	args = append(args, limit)
	rows, err := o.db.QueryContext(ctx, o.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	defer rows.Close()
	var list []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("list mail: %w", err)
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	return list, nil
}

// Entry returns the outbox entry seq with its Data, or ErrNotFound.
func (o *Outbox) Entry(ctx context.Context, seq int64) (Entry, error) {
	e, err := scanEntry(o.db.QueryRowContext(ctx, o.db.Rebind(
		`SELECT `+entryColumns+`, data FROM mail_outbox WHERE seq = ?`), seq))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("outbox entry %d: %w", seq, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("outbox entry %d: %w", seq, err)
	}
	return e, nil
}

const entryColumns = `seq, message_id, sender, recipients, subject, method, uid, state, attempts, last_error,
	created_at, next_attempt, sent_at`

func scanEntry(row interface{ Scan(...any) error }) (Entry, error) {
	var (
		e                   Entry
		to, state           string
		created, next, sent int64
	)
	err := row.Scan(&e.Seq, &e.ID, &e.From, &to, &e.Subject, &e.Method, &e.UID, &state, &e.Attempts, &e.LastError,
		&created, &next, &sent, &e.Data)
	if err != nil {
		return Entry{}, err
	}
	e.To = strings.Split(to, "\n")
	e.State = State(state)
	e.CreatedAt, e.SentAt = fromMicros(created), fromMicros(sent)
	if e.State == StateQueued {
		e.NextAttempt = fromMicros(next)
	}
	return e, nil
}

// Retry queues the failed message seq again, due now and with all its
// attempts ahead of it. It returns ErrNotFound when there is no such
// message and ErrNotFailed when it is not failed.
func (o *Outbox) Retry(ctx context.Context, seq int64) error {
	var n int64
	err := o.write(ctx, func() error {
		res, err := o.db.ExecContext(ctx, o.db.Rebind(`UPDATE mail_outbox
			SET state = 'queued', attempts = 0, next_attempt = ?, lease_owner = '', lease_until = 0
			WHERE seq = ? AND state = 'failed'`), micros(o.now()), seq)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("retry outbox entry %d: %w", seq, err)
	}
	if n == 0 {
		e, err := o.Entry(ctx, seq)
		if err != nil {
			return err
		}
		return fmt.Errorf("retry outbox entry %d, which is %s: %w", seq, e.State, ErrNotFailed)
	}
	o.Wake()
	return nil
}

// write runs f, one of this process's outbox writes, after the ones before
// it on SQLite.
func (o *Outbox) write(ctx context.Context, f func() error) error {
	if o.writers != nil {
		select {
		case o.writers <- struct{}{}:
			defer func() { <-o.writers }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f()
}

// exec runs one bookkeeping statement of the worker.
func (o *Outbox) exec(ctx context.Context, query string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	return o.write(ctx, func() error {
		_, err := o.db.ExecContext(ctx, o.db.Rebind(query), args...)
		return err
	})
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros reads a stored time; 0 is the zero time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
