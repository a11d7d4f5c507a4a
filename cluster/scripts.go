package cluster

import (
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Script answers that are outcomes, not failures. Lua error replies start
// with these words.
const (
	answerEpoch     = "BWEPOCH"     // the log was restarted under another epoch
	answerNoSession = "BWNOSESSION" // no instance owns the session
	answerFull      = "BWFULL"      // the session's inbox is full
	answerNotFound  = "BWNOTFOUND"  // the log does not exist
	answerLost      = "BWLOST"      // the session's state is being restored
)

func isScriptAnswer(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "BW")
}

func scriptAnswer(err error, word string) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), word)
}

// openScript finds or creates the epoch of a log. With fresh=1 a closed log
// starts a new incarnation (new epoch, empty stream); with existing=1 an
// absent log is not created.
// KEYS: meta, log. ARGV: proposed epoch, ttl ms, fresh, existing.
var openScript = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'epoch')
if e and ARGV[3] == '1' and redis.call('HEXISTS', KEYS[1], 'closed') == 1 then
  e = false
end
if not e and ARGV[4] == '1' then
  return redis.error_reply('BWNOTFOUND no such log')
end
if not e then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1])
  e = ARGV[1]
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local closed = redis.call('HMGET', KEYS[1], 'closed', 'reason')
return {e, closed[1] or '', closed[2] or ''}
`)

// lostTailLua is shared by the scripts that continue a log whose newest
// entries Redis may have lost: newestseq is the stream's newest seq (nil
// when it is missing); the next id follows the writer's last seq
// (idafter), never one a mirror has passed; addgap says what was lost.
const lostTailLua = `
local function newestseq(log)
  local newest = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
  return newest[1] and tonumber(string.match(newest[1][1], '%-(%d+)$'))
end
local function idafter(seq)
  return '0-' .. string.format('%d', seq + 1)
end
local function addgap(log, maxlen, id, epoch, reason)
  redis.call('XADD', log, 'MAXLEN', maxlen, id, 'p', epoch, 'k', 'g', 'r', reason)
end
`

// appendScript stores a batch of entries (messages, gaps, a close marker),
// preceded by a gap entry when a gap reason is given. When the log's state
// was lost (Redis restarted empty, or the keys expired) it is recreated
// under the same epoch, with ids continuing after the appender's last seq
// and a gap first, so old cursors stay valid and the loss is explicit; so
// do the ids of a stream that came back with its last entries lost.
// Entries after a close marker (or on a closed log) are refused: their
// result is "CLOSED" instead of an id.
// KEYS: meta, log. ARGV: epoch, ttl ms, maxlen, last seq, gap reason,
// entry count, then per entry: upstream id, field count, field/value pairs.
var appendScript = redis.NewScript(lostTailLua + `
local meta, log = KEYS[1], KEYS[2]
local epoch = ARGV[1]
local e = redis.call('HGET', meta, 'epoch')
local gap = ARGV[5]
if not e then
  redis.call('HSET', meta, 'epoch', epoch)
  if gap == '' then gap = 'cluster state lost' end
elseif e ~= epoch then
  return redis.error_reply('BWEPOCH log restarted as ' .. e)
end
-- behind: the stream is missing, or Redis came back without its last
-- writes: its newest seq is below the appender's last seq. The next id
-- then continues after that seq, never reusing one a mirror has passed,
-- and a gap says what was lost.
local hint = tonumber(ARGV[4])
local behind = false
if hint > 0 then
  local top = newestseq(log)
  behind = not top or top < hint
  if top and behind and gap == '' then gap = 'cluster state lost' end
end
local function nextid()
  if behind then
    behind = false
    return idafter(hint)
  end
  return '0-*'
end
local closed = redis.call('HEXISTS', meta, 'closed') == 1
if gap ~= '' and not closed then
  addgap(log, ARGV[3], nextid(), epoch, gap)
end
local out = {}
local i = 7
local lastup = ''
for k = 1, tonumber(ARGV[6]) do
  local up = ARGV[i]
  local nf = tonumber(ARGV[i + 1])
  local fields = {}
  for j = 1, nf do fields[j] = ARGV[i + 1 + j] end
  i = i + 2 + nf
  if closed then
    out[k] = 'CLOSED'
  else
    out[k] = redis.call('XADD', log, 'MAXLEN', ARGV[3], nextid(), 'p', epoch, unpack(fields))
    if up ~= '' then lastup = up end
    if fields[2] == 'c' then
      redis.call('HSET', meta, 'closed', fields[4], 'reason', fields[6])
      closed = true
    end
  end
end
-- The newest stored upstream id, once per batch: a new holder resumes after it.
if lastup ~= '' then redis.call('HSET', meta, 'up', lastup) end
redis.call('PEXPIRE', meta, ARGV[2])
redis.call('PEXPIRE', log, ARGV[2])
return out
`)

// touchScript refreshes a log's TTL and returns its epoch (empty when lost).
// KEYS: meta, log. ARGV: ttl ms.
var touchScript = redis.NewScript(`
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return redis.call('HGET', KEYS[1], 'epoch') or ''
`)

// renewScript extends a lease (or session ownership) if this instance still
// holds it, or takes it again when the key vanished (Redis restarted empty)
// and nobody else took it. Returns 0 when another holds it, 1 when held,
// renewedStateLost when held but what goes with it is gone: the lease was
// taken again, or the state hash (KEYS[2]) lacks its field (a session's
// meta hash without its binding: evicted, expired, or Redis restarted
// empty while the owner lived). A state hash that is there gets its
// counter raised to the floor given when it is lower (Redis came back with
// an older copy of it: a session's sendseq must not go back).
// KEYS: lease[, state hash]. ARGV: instance id, ttl ms[, state field,
// counter field, its floor].
var renewScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
else
  return 0
end
if KEYS[2] then
  if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return 2 end
  if tonumber(redis.call('HGET', KEYS[2], ARGV[4]) or '-1') < tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
  end
end
return 1
`)

// renewedStateLost is renewScript's answer for a lease held again (or
// still) whose state is gone from Redis.
const renewedStateLost = 2

// releaseScript deletes a lease (or ownership), and the keys that go with
// it, if this instance holds it. KEYS: lease, then those keys. ARGV:
// instance id.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', unpack(KEYS))
end
return 0
`)

// sendScript queues client messages for the session owner, once per seq
// (inbox ids are time based, so they keep growing across a Redis restart):
// a seq at or below the last accepted one is acknowledged without queueing.
// A sequenced send to a session whose meta hash lost its binding (its
// sendseq went with it) is refused until the owner wrote it back
// (sessionStateScript), so a repeat is never taken for a new send. Each
// queued entry carries its seq (q) for the owner, who keeps the highest.
// KEYS: owner, meta, inbox. ARGV: seq (-1: none), max inbox length, ttl ms,
// then the messages as (binary flag, data) pairs.
// Returns 1 when queued, 0 for a repeated seq.
var sendScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('BWNOSESSION no instance owns the session')
end
local seq = tonumber(ARGV[1])
if seq >= 0 then
  if redis.call('HEXISTS', KEYS[2], 'creds') == 0 then
    return redis.error_reply('BWLOST the session state is being restored')
  end
  local last = tonumber(redis.call('HGET', KEYS[2], 'sendseq') or '-1')
  if seq <= last then return 0 end
end
local n = (#ARGV - 3) / 2
if redis.call('XLEN', KEYS[3]) + n > tonumber(ARGV[2]) then
  return redis.error_reply('BWFULL the session inbox is full')
end
local q = {}
if seq >= 0 then q = {'q', ARGV[1]} end
for i = 0, n - 1 do
  redis.call('XADD', KEYS[3], '*', 'b', ARGV[4 + 2*i], 'd', ARGV[5 + 2*i], unpack(q))
end
if seq >= 0 then
  redis.call('HSET', KEYS[2], 'sendseq', ARGV[1])
  if redis.call('PTTL', KEYS[2]) < 0 then
    redis.call('PEXPIRE', KEYS[2], ARGV[3]) -- never shorten the log's TTL
  end
end
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
`)

// sessionStateScript writes what a session's owner keeps in memory into
// the session's meta hash: when it opens the session, and again whenever
// its ownership renewal finds the hash without its binding (renewScript).
// Nothing goes backwards: epoch is written only when absent; sendseq is
// the highest of the hash's, the owner's (the last seq it took from the
// inbox) and the newest queued in the inbox; a stream that lost its last
// entries, or all of them, gets a gap entry after the owner's last seq, so
// cursors the clients hold stay valid on every instance. The upstream SSE
// id ('up') is not restored: only a topic's next holder reads it.
// KEYS: meta, log, inbox. ARGV: creds, epoch ("": the owner has no log),
// owner's send seq (-1: none), log's last seq, log capacity, meta ttl ms
// (set only on a hash without one), log ttl ms, inbox bound.
var sessionStateScript = redis.NewScript(lostTailLua + `
local meta, log, inbox = KEYS[1], KEYS[2], KEYS[3]
redis.call('HSET', meta, 'creds', ARGV[1])
local seq = math.max(tonumber(redis.call('HGET', meta, 'sendseq') or '-1'), tonumber(ARGV[3]))
local waiting = redis.call('XREVRANGE', inbox, '+', '-', 'COUNT', ARGV[8])
local found = false
for _, e in ipairs(waiting) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'q' then
      seq = math.max(seq, tonumber(f[i + 1]))
      found = true -- the newest sequenced send holds the highest seq
      break
    end
  end
  if found then break end
end
if seq >= 0 then redis.call('HSET', meta, 'sendseq', string.format('%d', seq)) end
local epoch = ARGV[2]
if epoch ~= '' then
  redis.call('HSETNX', meta, 'epoch', epoch)
  local last = tonumber(ARGV[4])
  if (newestseq(log) or 0) < last then
    addgap(log, ARGV[5], idafter(last), epoch, 'cluster state lost')
    redis.call('PEXPIRE', log, ARGV[7])
  end
end
redis.call('PEXPIRE', meta, ARGV[6], 'NX')
return 1
`)
