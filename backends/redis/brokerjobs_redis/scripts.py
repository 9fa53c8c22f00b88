"""The Lua scripts: every step that touches more than one key, or checks then acts, is one.

A script runs alone on the server, so several workers moving due messages or reclaiming
a dead consumer's entries at the same moment never duplicate or drop one. Every script
touches the keys of one queue only (one hash tag), so they run on Redis Cluster too.
Times come from the server's ``TIME``: the clocks of producer and worker hosts never
decide when a delayed message is due.

Stream entries have three fields: ``i`` the message id, ``b`` the body and ``n`` the
deliveries spent before this entry (0 for a new message; the attempt of the delivery
that was retried). A delivery's attempt is ``n`` plus the entry's delivery count in the
consumer group, so a crash (the entry reclaimed by XAUTOCLAIM) counts as an attempt.

A delayed message is one sorted-set member, scored by its due time in server
milliseconds: ``<token>:<n>:<length of id>:<id><body>`` (the random token keeps two
identical messages apart).
"""

from __future__ import annotations

from typing import Final

_NOW: Final = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

_FIELDS: Final = """
local function fields(flat)
  local f = {}
  for k = 1, #flat, 2 do f[flat[k]] = flat[k + 1] end
  return f
end
"""

# KEYS: stream; ARGV: group, consumer, entry id, delivery count at hand-over.
# True when the entry is still pending for this consumer with that count: a reclaimed
# entry (another consumer, or a newer delivery to this one) is no longer ours to settle.
_OWNED: Final = """
local function owned()
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
  return p[1] ~= nil and tonumber(p[1][4]) == tonumber(ARGV[4])
end
local function entry()
  local e = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])
  return fields(e[1][2])
end
local function settle()
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  redis.call('XDEL', KEYS[1], ARGV[3])
end
"""

_DELAYED_MEMBER: Final = """
local function member(token, spent, id, body)
  return token .. ':' .. spent .. ':' .. #id .. ':' .. id .. body
end
"""

PUBLISH_DELAYED: Final = (
    _NOW
    + """
-- KEYS: delayed; ARGV: (delay ms, member) pairs.
local now = now_ms()
for k = 1, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[k]), ARGV[k + 1])
end
return #ARGV / 2
"""
)

MOVE_DUE: Final = (
    _NOW
    + """
-- KEYS: delayed, stream, dead; ARGV: most to move.
-- Returns {moved, ms until the next delayed message is due (-1: none)}.
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(due) do
  local spent, size, at = string.match(m, '^%x+:(%d+):(%d+):()')
  if spent then
    size = tonumber(size)
    redis.call('XADD', KEYS[2], '*', 'i', string.sub(m, at, at + size - 1),
      'b', string.sub(m, at + size), 'n', spent)
  else
    -- Not written by this backend: park it rather than drop it or retry it forever.
    redis.call('XADD', KEYS[3], '*', 'i', '', 'b', m, 'r', 'malformed delayed entry', 'a', 0)
  end
  redis.call('ZREM', KEYS[1], m)
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if head[2] then wait = math.max(tonumber(head[2]) - now, 0) end
return {#due, wait}
"""
)

ACK: Final = (
    _FIELDS
    + _OWNED
    + """
-- KEYS: stream; ARGV: group, consumer, entry id, deliveries.
if not owned() then return 0 end
settle()
return 1
"""
)

RETRY: Final = (
    _NOW
    + _FIELDS
    + _OWNED
    + _DELAYED_MEMBER
    + """
-- KEYS: stream, delayed; ARGV: group, consumer, entry id, deliveries, attempt, delay ms, token.
if not owned() then return 0 end
local f = entry()
settle()
local delay = tonumber(ARGV[6])
if delay <= 0 then
  redis.call('XADD', KEYS[1], '*', 'i', f.i, 'b', f.b, 'n', ARGV[5])
else
  redis.call('ZADD', KEYS[2], now_ms() + delay, member(ARGV[7], ARGV[5], f.i, f.b))
end
return 1
"""
)

DEAD_LETTER: Final = (
    _FIELDS
    + _OWNED
    + """
-- KEYS: stream, dead; ARGV: group, consumer, entry id, deliveries, attempt, reason.
if not owned() then return 0 end
local f = entry()
settle()
redis.call('XADD', KEYS[2], '*', 'i', f.i, 'b', f.b, 'r', ARGV[6], 'a', ARGV[5])
return 1
"""
)

RELEASE: Final = (
    _FIELDS
    + _OWNED
    + """
-- KEYS: stream; ARGV: group, consumer, entry id, deliveries, attempt.
-- Back at the tail as a fresh entry whose next delivery has this delivery's attempt.
if not owned() then return 0 end
local f = entry()
settle()
redis.call('XADD', KEYS[1], '*', 'i', f.i, 'b', f.b, 'n', tonumber(ARGV[5]) - 1)
return 1
"""
)

EXTEND: Final = (
    _FIELDS
    + _OWNED
    + """
-- KEYS: stream; ARGV: group, consumer, entry id, deliveries.
-- XCLAIM ... JUSTID resets the idle time without counting a delivery.
if not owned() then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""
)

HEARTBEAT: Final = """
-- KEYS: stream; ARGV: group, consumer. Resets the idle time of all this consumer holds.
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 100000, ARGV[2])
for s = 1, #pending, 500 do
  local ids = {}
  for k = s, math.min(s + 499, #pending) do ids[#ids + 1] = pending[k][1] end
  ids[#ids + 1] = 'JUSTID'  -- JUSTID: keeping a delivery never counts as one
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
end
return #pending
"""

RECLAIM: Final = (
    _FIELDS
    + """
-- KEYS: stream, dead; ARGV: group, consumer, min idle ms, count, cursor, delivery limit.
-- Takes over entries idle longer than the lease (their consumer died or froze).
-- Returns {next cursor, {id, message id, body, attempt, deliveries}...}; entries
-- delivered more often than the limit go to the dead-letter stream instead.
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[5],
  'COUNT', ARGV[4])
local out = {r[1]}
local limit = tonumber(ARGV[6])
for _, e in ipairs(r[2]) do
  if type(e) == 'table' and e[2] then
    local id = e[1]
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local count = tonumber(p[1][4])
    local f = fields(e[2])
    local attempt = tonumber(f.n or '0') + count
    if count > limit then
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('XDEL', KEYS[1], id)
      redis.call('XADD', KEYS[2], '*', 'i', f.i, 'b', f.b, 'a', attempt - 1,
        'r', 'delivery limit: delivered ' .. (count - 1) ..
        ' times without a settlement (its workers crashed or lost the connection)')
    else
      out[#out + 1] = {id, f.i, f.b, attempt, count}
    end
  end
end
return out
"""
)

REPLAY: Final = (
    _FIELDS
    + """
-- KEYS: stream, dead; ARGV: most to move (-1: all), then message ids (none: every one).
local limit = tonumber(ARGV[1])
local wanted = nil
if #ARGV > 1 then
  wanted = {}
  for k = 2, #ARGV do wanted[ARGV[k]] = true end
end
local moved, cursor = 0, '-'
while limit < 0 or moved < limit do
  local batch = redis.call('XRANGE', KEYS[2], cursor, '+', 'COUNT', 500)
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    cursor = '(' .. e[1]
    local f = fields(e[2])
    if (wanted == nil or wanted[f.i]) and (limit < 0 or moved < limit) then
      redis.call('XADD', KEYS[1], '*', 'i', f.i, 'b', f.b, 'n', 0)
      redis.call('XDEL', KEYS[2], e[1])
      moved = moved + 1
    end
  end
end
return moved
"""
)

PURGE: Final = """
-- KEYS: dead. Returns how many dead letters were deleted.
local n = redis.call('XLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
"""

RELEASE_CONSUMER: Final = """
-- KEYS: stream; ARGV: group, consumer. Forget the consumer once it holds nothing
-- (XGROUP DELCONSUMER would drop its pending entries: they would never come back).
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

_READY_FROM: Final = """
-- The first id that is ready (never delivered to the group): after its last-delivered id.
local function ready_from(stream, group)
  if redis.call('EXISTS', stream) == 0 then return nil end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local info = {}
    for k = 1, #g, 2 do info[g[k]] = g[k + 1] end
    if info['name'] == group then return '(' .. info['last-delivered-id'] end
  end
  return '-'
end
"""

PURGE_QUEUE: Final = (
    _READY_FROM
    + """
-- KEYS: stream, delayed; ARGV: group. Deletes ready and delayed messages, never the
-- pending ones (a consumer holds them) nor dead letters. Returns how many went.
local deleted = redis.call('ZCARD', KEYS[2])
redis.call('DEL', KEYS[2])
local from = ready_from(KEYS[1], ARGV[1])
while from do
  local batch = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 500)
  if #batch == 0 then break end
  for _, e in ipairs(batch) do redis.call('XDEL', KEYS[1], e[1]) end
  deleted = deleted + #batch
  from = '(' .. batch[#batch][1]
end
return deleted
"""
)

CANCEL: Final = (
    _FIELDS
    + _READY_FROM
    + """
-- KEYS: stream, delayed; ARGV: group, message id. Deletes that message if it waits
-- (ready or delayed); 1 if deleted, 0 if no waiting message has the id.
local from = ready_from(KEYS[1], ARGV[1])
while from do
  local batch = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 500)
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    if fields(e[2]).i == ARGV[2] then
      redis.call('XDEL', KEYS[1], e[1])
      return 1
    end
  end
  from = '(' .. batch[#batch][1]
end
local start = 0
while true do
  local members = redis.call('ZRANGE', KEYS[2], start, start + 499)
  if #members == 0 then return 0 end
  for _, m in ipairs(members) do
    local size, at = string.match(m, '^%x+:%d+:(%d+):()')
    if size and string.sub(m, at, at + tonumber(size) - 1) == ARGV[2] then
      redis.call('ZREM', KEYS[2], m)
      return 1
    end
  end
  start = start + 500
end
"""
)
