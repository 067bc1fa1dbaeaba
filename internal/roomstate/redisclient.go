package roomstate

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client options that suit live room state, applied where the URL does not
// set them. go-redis's defaults (5 s timeouts, 3 retries, 5 dial attempts
// each) make a call to a Redis that went away hang for many seconds, while
// salon would rather tell the person joining "try again in a moment" at
// once: the state is small, and a healthy Redis answers in a millisecond.
const (
	clientDialTimeout   = 2 * time.Second
	clientDialerRetries = 2
	clientReadTimeout   = 2 * time.Second
	clientWriteTimeout  = 2 * time.Second
	clientPoolTimeout   = 3 * time.Second
	clientMaxRetries    = 2
)

// NewRedisClient makes the go-redis client for a --redis URL:
//
//	redis://[user:password@]host:port[/db][?option=value&...]
//	rediss://...                                  the same over TLS
//	unix://[user:password@]/path/redis.sock[?db=N]
//	redis-sentinel://[user:password@]host:port,host:port/master[/db][?option=value&...]
//	rediss-sentinel://...                         the same over TLS
//	redis-cluster://[user:password@]host:port,host:port[?option=value&...]
//	rediss-cluster://...                          the same over TLS
//
// The user and password are those of Redis itself; Sentinels that require
// their own take sentinel_username and sentinel_password options. The
// options are go-redis's (dial_timeout=1s, read_timeout=500ms, pool_size=20,
// max_retries=-1, ...; see redis.ParseURL); an unknown one is an error.
//
// Unless the URL says otherwise, calls give up within a few seconds (dial
// and read timeouts of 2 s, two retries) and honour their context's
// deadline, so that an unreachable Redis turns into ErrUnavailable quickly
// rather than a hung join.
func NewRedisClient(rawURL string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("redis URL %q has no scheme: write redis://host:6379 (or rediss://, redis-sentinel://, redis-cluster://)", redactURL(rawURL))
	}
	switch scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redactURL(rawURL), err)
		}
		applyDefaults(&o.DialTimeout, &o.DialerRetries, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries)
		o.ContextTimeoutEnabled = true
		return redis.NewClient(o), nil
	case "redis-sentinel", "rediss-sentinel":
		o, err := parseSentinelURL(strings.TrimSuffix(scheme, "-sentinel"), rest)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redactURL(rawURL), err)
		}
		applyDefaults(&o.DialTimeout, &o.DialerRetries, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries)
		o.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o), nil
	case "redis-cluster", "rediss-cluster":
		o, err := parseClusterURL(strings.TrimSuffix(scheme, "-cluster"), rest)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redactURL(rawURL), err)
		}
		applyDefaults(&o.DialTimeout, &o.DialerRetries, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries)
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), nil
	}
	return nil, fmt.Errorf("redis URL %q: unknown scheme %q; use redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", redactURL(rawURL), scheme)
}

// applyDefaults sets the options the URL left at zero (go-redis's "use the
// default") to salon's.
func applyDefaults(dial *time.Duration, dialRetries *int, read, write, pool *time.Duration, retries *int) {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(dial, clientDialTimeout)
	set(read, clientReadTimeout)
	set(write, clientWriteTimeout)
	set(pool, clientPoolTimeout)
	if *dialRetries == 0 {
		*dialRetries = clientDialerRetries
	}
	if *retries == 0 {
		*retries = clientMaxRetries
	}
}

// multiHost splits "[userinfo@]host:port,host:port[/path][?query]" into its
// parts; url.Parse refuses a list of hosts.
func multiHost(rest string) (user *url.Userinfo, hosts []string, path string, query url.Values, err error) {
	rest, rawQuery, _ := strings.Cut(rest, "?")
	if query, err = url.ParseQuery(rawQuery); err != nil {
		return nil, nil, "", nil, err
	}
	hostPart, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(hostPart, "@"); at >= 0 {
		// Let url.Parse decode the user info, percent escapes and all.
		u, err := url.Parse("redis://" + hostPart[:at+1] + "localhost")
		if err != nil {
			return nil, nil, "", nil, err
		}
		user, hostPart = u.User, hostPart[at+1:]
	}
	for h := range strings.SplitSeq(hostPart, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, nil, "", nil, fmt.Errorf("no host: list them as host:port,host:port")
	}
	return user, hosts, path, query, nil
}

// parseSentinelURL reads what follows redis-sentinel:// into go-redis's
// own URL form, which carries the master's name and every Sentinel but the
// first in its query, and the Sentinels' credentials in its user info.
func parseSentinelURL(scheme, rest string) (*redis.FailoverOptions, error) {
	user, hosts, path, q, err := multiHost(rest)
	if err != nil {
		return nil, err
	}
	master, db, _ := strings.Cut(path, "/")
	if master == "" {
		return nil, fmt.Errorf("no master name: write redis-sentinel://host:26379,host:26379/mymaster")
	}
	q.Set("master_name", master)
	if db != "" {
		q.Set("db", db)
	}
	if user != nil {
		q.Set("username", user.Username())
		if pw, ok := user.Password(); ok {
			q.Set("password", pw)
		}
	}
	sentinelUser := url.UserPassword(q.Get("sentinel_username"), q.Get("sentinel_password"))
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	u := url.URL{Scheme: scheme, User: sentinelUser, Host: hosts[0], RawQuery: q.Encode()}
	if sentinelUser.String() == ":" {
		u.User = nil
	}
	return redis.ParseFailoverURL(u.String())
}

// parseClusterURL reads what follows redis-cluster:// into go-redis's own
// URL form, which carries every node but the first in its query.
func parseClusterURL(scheme, rest string) (*redis.ClusterOptions, error) {
	user, hosts, path, q, err := multiHost(rest)
	if err != nil {
		return nil, err
	}
	if path != "" {
		return nil, fmt.Errorf("a cluster has no databases: remove /%s", path)
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	u := url.URL{Scheme: scheme, User: user, Host: hosts[0], RawQuery: q.Encode()}
	return redis.ParseClusterURL(u.String())
}

// redactURL hides the passwords of a Redis URL, for errors and logs.
// url.URL.Redacted cannot: it refuses lists of hosts.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(unparsable)"
	}
	rest, rawQuery, hasQuery := strings.Cut(rest, "?")
	authority, path, hasPath := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(authority[:at], ":"); hasPassword {
			authority = user + ":xxxxx" + authority[at:]
		}
	}
	out := scheme + "://" + authority
	if hasPath {
		out += "/" + path
	}
	if hasQuery {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return out + "?(unparsable)"
		}
		for k := range q {
			if strings.Contains(k, "password") {
				q.Set(k, "xxxxx")
			}
		}
		out += "?" + q.Encode()
	}
	return out
}
