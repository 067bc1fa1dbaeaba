package roomstate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/salonhq/salon/internal/testredis"
)

func TestNewRedisClientSingle(t *testing.T) {
	for _, tc := range []struct {
		url                    string
		addr, user, pw         string
		db                     int
		tls                    bool
		read, dial             time.Duration
		retries, dialerRetries int
	}{
		{url: "redis://localhost", addr: "localhost:6379", read: clientReadTimeout, dial: clientDialTimeout, retries: clientMaxRetries, dialerRetries: clientDialerRetries},
		{url: "redis://:s%40cret@10.0.0.1:6380/3", addr: "10.0.0.1:6380", pw: "s@cret", db: 3, read: clientReadTimeout, dial: clientDialTimeout, retries: clientMaxRetries, dialerRetries: clientDialerRetries},
		{url: "rediss://salon:pw@redis.example:6390?read_timeout=250ms&dial_timeout=1&max_retries=-1", addr: "redis.example:6390", user: "salon", pw: "pw", tls: true, read: 250 * time.Millisecond, dial: time.Second, retries: 0, dialerRetries: clientDialerRetries},
	} {
		c, err := NewRedisClient(tc.url)
		if err != nil {
			t.Errorf("NewRedisClient(%q): %v", tc.url, err)
			continue
		}
		o := c.(*redis.Client).Options()
		if o.Addr != tc.addr || o.Username != tc.user || o.Password != tc.pw || o.DB != tc.db || (o.TLSConfig != nil) != tc.tls ||
			o.ReadTimeout != tc.read || o.DialTimeout != tc.dial || o.MaxRetries != tc.retries || o.DialerRetries != tc.dialerRetries || !o.ContextTimeoutEnabled {
			t.Errorf("NewRedisClient(%q) options: addr %s user %q pw %q db %d tls %v read %s dial %s retries %d dialer retries %d context timeouts %v",
				tc.url, o.Addr, o.Username, o.Password, o.DB, o.TLSConfig != nil, o.ReadTimeout, o.DialTimeout, o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled)
		}
		c.Close()
	}
}

func TestParseSentinelURL(t *testing.T) {
	o, err := parseSentinelURL("redis", "app:p%2Fw@s1:26379,s2:26379, s3:26380/mymaster/2?sentinel_password=sp&read_timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	if o.MasterName != "mymaster" || o.DB != 2 || o.Username != "app" || o.Password != "p/w" ||
		o.SentinelPassword != "sp" || o.ReadTimeout != time.Second || o.TLSConfig != nil ||
		strings.Join(o.SentinelAddrs, " ") != "s1:26379 s2:26379 s3:26380" {
		t.Errorf("options = %+v", o)
	}
	o, err = parseSentinelURL("rediss", "s1:26379/m")
	if err != nil {
		t.Fatal(err)
	}
	if o.MasterName != "m" || o.TLSConfig == nil || o.Password != "" || o.SentinelPassword != "" || o.SentinelUsername != "" {
		t.Errorf("options = %+v", o)
	}
	c, err := NewRedisClient("redis-sentinel://s1:26379,s2:26379/mymaster")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestParseClusterURL(t *testing.T) {
	o, err := parseClusterURL("rediss", "u:pw@n1:7000,n2:7001,n3:7002?read_timeout=300ms")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Addrs, " ") != "n1:7000 n2:7001 n3:7002" || o.Username != "u" || o.Password != "pw" ||
		o.TLSConfig == nil || o.ReadTimeout != 300*time.Millisecond {
		t.Errorf("options = %+v", o)
	}
	c, err := NewRedisClient("redis-cluster://n1:7000,n2:7001")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Errorf("redis-cluster:// made a %T", c)
	}
	c.Close()
}

func TestNewRedisClientErrors(t *testing.T) {
	for _, url := range []string{
		"localhost:6379",
		"http://localhost",
		"redis://localhost?no_such_option=1",
		"redis://localhost/notanumber",
		"redis-sentinel://s1:26379",
		"redis-sentinel://:pw@/m",
		"redis-cluster://n1:7000/0",
		"redis-cluster://n1:7000?no_such_option=1",
	} {
		c, err := NewRedisClient(url)
		if err == nil {
			c.Close()
			t.Errorf("NewRedisClient(%q) succeeded", url)
			continue
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("NewRedisClient(%q) error shows the password: %v", url, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://localhost:6379/0":                      "redis://localhost:6379/0",
		"redis://user:secret@host:6379":                 "redis://user:xxxxx@host:6379",
		"redis-sentinel://:secret@s1:1,s2:2/m?db=1":     "redis-sentinel://:xxxxx@s1:1,s2:2/m?db=1",
		"redis://h?password=secret&sentinel_password=x": "redis://h?password=xxxxx&sentinel_password=xxxxx",
		"no scheme": "(unparsable)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNewRedisClientTalks: the client of a plain URL reaches a real Redis.
func TestNewRedisClientTalks(t *testing.T) {
	s := testredis.NewServer(t)
	c, err := NewRedisClient(s.URL() + "/5")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := NewRedis(c, RedisOptions{})
	if err := r.RenewNode(context.Background(), Node{ID: "n"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if ns, err := r.Nodes(context.Background()); err != nil || len(ns) != 1 {
		t.Errorf("Nodes = %+v, %v", ns, err)
	}
}
