package roomstate

import "github.com/redis/go-redis/v9"

// The scripts of the Redis store. Each touches the keys of one hash tag
// only (a room's, or the nodes'), so that they run on Redis Cluster too.
// Node leases live in another slot than rooms, so a script cannot read
// them: the caller reads the live nodes first (in the same pipeline as the
// room when it can) and passes them in, and the scripts guard against that
// snapshot going stale with the room's seq field, which every Join and
// every change of host increments.
//
// Every script is idempotent, so go-redis may retry one whose reply was
// lost without harm.
//
// A participant record is, one field a line: format version ("1"), seq,
// node, JoinedAt in Unix milliseconds, flags (1 audio muted, 2 video muted,
// 4 hand raised), role, name. The name comes last because it may hold line
// feeds; nothing else may. The room's meta hash holds host, created (Unix
// ms), locked and lobby ("1" or absent), seq, and for each node the number
// of participants it holds as "n:" + node ID, so that Room and HostRoom
// count the living without reading every participant.

// luaNow is Redis's clock in milliseconds: leases are measured by it, so
// that the nodes' clocks need not agree.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// luaRoom has the helpers of the room scripts. KEYS[1] is the room's meta
// hash, KEYS[2] its participants hash.
const luaRoom = `
local function node_of(rec)
  return string.match(rec, '^[^\n]*\n[^\n]*\n([^\n]*)\n')
end
local function seq_of(rec)
  return tonumber(string.match(rec, '^[^\n]*\n([^\n]*)\n'))
end
local function uncount(node)
  if redis.call('HINCRBY', KEYS[1], 'n:' .. node, -1) <= 0 then
    redis.call('HDEL', KEYS[1], 'n:' .. node)
  end
end
local function touch(ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
local function set_of(from)
  local s = {}
  for i = from, #ARGV do s[ARGV[i]] = true end
  return s
end
`

// scriptLive returns the IDs of the nodes whose lease is running.
// KEYS[1]: the lease sorted set (node ID → deadline, Redis ms).
var scriptLive = redis.NewScript(luaNow + `
return redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%.0f', now), '+inf')
`)

// scriptNodes returns {id, deadline - now (ms), info, ...} for every node
// whose lease is running. KEYS[1]: leases; KEYS[2]: info hash.
var scriptNodes = redis.NewScript(luaNow + `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%.0f', now), '+inf', 'WITHSCORES')
local out = {}
for i = 1, #ids, 2 do
  out[#out + 1] = ids[i]
  out[#out + 1] = string.format('%.0f', tonumber(ids[i + 1]) - now)
  out[#out + 1] = redis.call('HGET', KEYS[2], ids[i]) or ''
end
return out
`)

// scriptRenew registers or renews a node and forgets the nodes whose lease
// ended. KEYS: leases, info. ARGV: id, ttl (ms), info record.
var scriptRenew = redis.NewScript(luaNow + `
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
for _, id in ipairs(dead) do redis.call('HDEL', KEYS[2], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
`)

// scriptRemove ends a node's lease. KEYS: leases, info. ARGV: id.
var scriptRemove = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`)

// scriptClaim makes a node the host of a room unless another caller set a
// host since the caller's snapshot, drops the participants of dead nodes
// (those that joined before the snapshot), and starts the room afresh when
// nobody is left. It returns the meta hash as a flat list.
// ARGV: candidate, whether the snapshot had a host ("1"/"0"), that host,
// the snapshot's seq, now (caller's clock, ms, for created), room TTL (ms),
// then the live nodes of the snapshot.
var scriptClaim = redis.NewScript(luaRoom + `
local host = redis.call('HGET', KEYS[1], 'host')
if host and (ARGV[2] == '0' or host ~= ARGV[3]) then
  touch(ARGV[6])
  return redis.call('HGETALL', KEYS[1])
end
local live = set_of(7)
local snap = tonumber(ARGV[4])
local ps = redis.call('HGETALL', KEYS[2])
for i = 1, #ps, 2 do
  local node = node_of(ps[i + 1])
  if not live[node] and seq_of(ps[i + 1]) <= snap then
    redis.call('HDEL', KEYS[2], ps[i])
    uncount(node)
  end
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local seq = redis.call('HGET', KEYS[1], 'seq')
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'created', ARGV[5], 'seq', seq or 0)
end
redis.call('HSET', KEYS[1], 'host', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'seq', 1)
touch(ARGV[6])
return redis.call('HGETALL', KEYS[1])
`)

// scriptJoin adds or replaces a participant; one replaced keeps its place
// (its record's seq), though the room's seq moves on all the same, so that
// a Leave that raced with it does not forget the room.
// ARGV: participant ID, node, the record's fields after the node, now
// (caller's clock, ms, for created), room TTL (ms).
var scriptJoin = redis.NewScript(luaRoom + `
local old = redis.call('HGET', KEYS[2], ARGV[1])
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if old then
  seq = seq_of(old)
  uncount(node_of(old))
end
redis.call('HSETNX', KEYS[1], 'created', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], '1\n' .. string.format('%.0f', seq) .. '\n' .. ARGV[2] .. '\n' .. ARGV[3])
redis.call('HINCRBY', KEYS[1], 'n:' .. ARGV[2], 1)
touch(ARGV[5])
return 1
`)

// scriptUpdate replaces the mutable fields of a participant; 0 when it is
// not in the room. ARGV: participant ID, the record's fields after
// JoinedAt, room TTL (ms).
var scriptUpdate = redis.NewScript(luaRoom + `
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return 0 end
local head = string.match(old, '^([^\n]*\n[^\n]*\n[^\n]*\n[^\n]*\n)')
redis.call('HSET', KEYS[2], ARGV[1], head .. ARGV[2])
touch(ARGV[3])
return 1
`)

// scriptLeave removes a participant and forgets the room when nobody is
// left. When others are left it returns {seq, node, ...}: the room's seq
// and the nodes that still have participants in it, for the caller to tell
// whether they are all dead; otherwise {}. A Leave of someone not in the
// room changes nothing: the room did not become empty, and forgetting it
// could drop the host that a newcomer's HostRoom just chose.
// ARGV: participant ID, room TTL (ms).
var scriptLeave = redis.NewScript(luaRoom + `
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return {} end
redis.call('HDEL', KEYS[2], ARGV[1])
uncount(node_of(old))
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
  return {}
end
local out = {redis.call('HGET', KEYS[1], 'seq') or '0'}
local meta = redis.call('HGETALL', KEYS[1])
for i = 1, #meta, 2 do
  if string.sub(meta[i], 1, 2) == 'n:' then out[#out + 1] = string.sub(meta[i], 3) end
end
touch(ARGV[2])
return out
`)

// scriptForget forgets a room whose remaining participants all belong to
// dead nodes, unless someone joined or the host changed since the
// caller's snapshot. ARGV: the snapshot's seq, then the live nodes.
var scriptForget = redis.NewScript(luaRoom + `
if (redis.call('HGET', KEYS[1], 'seq') or '0') ~= ARGV[1] then return 0 end
local live = set_of(2)
local meta = redis.call('HGETALL', KEYS[1])
for i = 1, #meta, 2 do
  if string.sub(meta[i], 1, 2) == 'n:' and live[string.sub(meta[i], 3)] then return 0 end
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`)

// scriptPolicy sets a room's flags when the room is kept; it returns the
// meta hash, empty when the room is not kept. ARGV: locked, lobby ("1" or
// "0"), room TTL (ms).
var scriptPolicy = redis.NewScript(luaRoom + `
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
for i, f in ipairs({'locked', 'lobby'}) do
  if ARGV[i] == '1' then redis.call('HSET', KEYS[1], f, '1') else redis.call('HDEL', KEYS[1], f) end
end
touch(ARGV[3])
return redis.call('HGETALL', KEYS[1])
`)
