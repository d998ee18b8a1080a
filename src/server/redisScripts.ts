/**
 * The Lua scripts of the Redis session store (redis.ts): every change is one script, atomic in Redis and fenced by
 * the session's epoch (PROTOCOL.md, "Running several server nodes"), with the SHA1 each is called by (EVALSHA).
 */
import { createHash } from 'node:crypto';

// Lua: numbers become keys and fields through %d (tostring would write 1e+15).
const K = `local function k(x) return string.format('%d', x) end\n`;

// Whether `epoch` still owns session `s`: 0 yes; -1 no, a later claim of the same session took it (stale); -2 no,
// the session it claimed is gone (its keys expired or were removed, and maybe a new session was created under the
// same key since). A new session's epoch starts at Redis' clock in µs ('c' keeps it), above every epoch of an
// earlier session under that key (each claim of which took at least 1 µs of Redis' time): so an epoch below 'c'
// names a session that is gone, and a node holding one reports it expired rather than taken over.
const OWNER = `
local function owner(s, epoch)
  local v = redis.call('HMGET', s, 'e', 'c')
  if not v[1] then return -2 end
  if tonumber(v[1]) == epoch then return 0 end
  if tonumber(v[2] or '0') > epoch then return -2 end
  return -1
end
`;

// Every script keeps the message hash at exactly the seqs f..n-1 (HLEN = n - f), so fewer fields mean a key was
// evicted (maxmemory-policy volatile-* or allkeys-*; both keys carry TTLs), the hash and not the state. Such a
// session cannot be delivered in order any more (a replay would skip the lost seqs, a read would wait for them
// forever): it is removed, and the reply names the lost seqs and gives what is left, for the node to report.
// {-5, count, lost seq..., seq, payload, ...}
const GAP = `
local function gap(s, o, f, n)
  if redis.call('HLEN', o) >= n - f then return nil end
  local lost, held = {}, {}
  for seq = f, n - 1 do
    local p = redis.call('HGET', o, k(seq))
    if p then held[#held + 1] = seq; held[#held + 1] = p else lost[#lost + 1] = seq end
  end
  local out = {-5, #lost}
  for _, seq in ipairs(lost) do out[#out + 1] = seq end
  for _, x in ipairs(held) do out[#out + 1] = x end
  redis.call('DEL', s, o)
  return out
end
`;

// No "lost" notice on a gap: a node still holding the session finds it missing at its next fenced call and reports
// its own copy of what it held (maybe the lost messages) rather than dropping it as taken over.
const CLAIM = `${K}${GAP}
local s, o = KEYS[1], KEYS[2]
local node, hack, hnext = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', s) == 0 then
  redis.call('DEL', o)
  local t = redis.call('TIME')
  local e = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('HSET', s, 'e', k(e), 'c', k(e), 'w', node, 'i', k(hnext - 1), 'n', 1, 'f', 1, 'b', 0, 'a', 1)
  if ARGV[6] ~= '' then redis.call('PEXPIRE', s, ARGV[6]) end
  return {0, e, hnext - 1, 1}
end
local v = redis.call('HMGET', s, 'e', 'w', 'i', 'n', 'f', 'b')
local e, w, i, n, f, b = tonumber(v[1]), v[2], tonumber(v[3]), tonumber(v[4]), tonumber(v[5]), tonumber(v[6])
if hack > n - 1 then return {-1, 'hello.ack ' .. k(hack) .. ' beyond the last seq sent (' .. k(n - 1) .. ')'} end
if hnext - 1 > i then return {-1, 'hello.next ' .. k(hnext) .. ' beyond the last seq acknowledged + 1 (' .. k(i + 1) .. ')'} end
e = e + 1
while f <= hack do
  local len = redis.call('HSTRLEN', o, k(f))
  if len > 0 then b = b - (len - 1) end
  redis.call('HDEL', o, k(f))
  f = f + 1
end
local g = gap(s, o, f, n)
if g then return g end
redis.call('HSET', s, 'e', k(e), 'w', node, 'f', k(f), 'b', k(b), 'a', 1)
if ARGV[6] ~= '' then
  redis.call('PEXPIRE', s, ARGV[6])
  redis.call('PEXPIRE', o, ARGV[6])
else
  redis.call('PERSIST', s)
  redis.call('PERSIST', o)
end
if w and w ~= node then redis.call('PUBLISH', ARGV[4] .. w, 'l ' .. ARGV[5] .. ' ' .. k(e)) end
local out = {1, e, i, n, f}
for seq = f, n - 1 do out[#out + 1] = redis.call('HGET', o, k(seq)) end
return out
`;

const FENCE = `${OWNER}
local st = owner(KEYS[1], tonumber(ARGV[1]))
if st < 0 then return st end
return tonumber(redis.call('HGET', KEYS[1], 'i'))
`;

const APPEND = `${K}${OWNER}
local s, o = KEYS[1], KEYS[2]
local v = redis.call('HMGET', s, 'e', 'n', 'f', 'b', 'w', 'a')
if not v[1] then return -2 end
if ARGV[1] ~= '' then
  local st = owner(s, tonumber(ARGV[1]))
  if st < 0 then return st end
end
local n, f, b = tonumber(v[2]), tonumber(v[3]), tonumber(v[4])
local len = string.len(ARGV[2]) - 1
if n - f >= tonumber(ARGV[3]) or b + len > tonumber(ARGV[4]) then return 0 end
redis.call('HSET', o, k(n), ARGV[2])
redis.call('HSET', s, 'n', k(n + 1), 'b', k(b + len))
local ttl = redis.call('PTTL', s)
if ttl > 0 then redis.call('PEXPIRE', o, ttl) end
if ARGV[1] == '' and v[6] == '1' then redis.call('PUBLISH', ARGV[5] .. v[5], 'o ' .. ARGV[6] .. ' ' .. k(n)) end
return n
`;

// Effects run first: if one fails, the mark is not recorded and the failure is counted for this seq in the session
// ('x': the seq, 'y': its failed attempts, on whichever node they ran), so the server can bound an effect that
// always fails. Commands before the failing one stay applied, as Redis never rolls a script back.
const MARK = `${K}${OWNER}
local s = KEYS[1]
local st = owner(s, tonumber(ARGV[1]))
if st < 0 then return st end
local seq = tonumber(ARGV[2])
if seq ~= tonumber(redis.call('HGET', s, 'i')) + 1 then return -3 end
local p = 4
for index = 1, tonumber(ARGV[3]) do
  local argc = tonumber(ARGV[p])
  local cmd = {}
  for j = 1, argc do cmd[j] = ARGV[p + j] end
  p = p + argc + 1
  local r = redis.pcall(unpack(cmd))
  if type(r) == 'table' and r.err then
    local x = redis.call('HMGET', s, 'x', 'y')
    local attempts = 1
    if tonumber(x[1]) == seq then attempts = tonumber(x[2]) + 1 end
    redis.call('HSET', s, 'x', k(seq), 'y', k(attempts))
    return {-4, attempts, index, r.err}
  end
end
redis.call('HSET', s, 'i', k(seq))
return 1
`;

const TRIM = `${K}${OWNER}
local s, o = KEYS[1], KEYS[2]
local st = owner(s, tonumber(ARGV[1]))
if st < 0 then return st end
local v = redis.call('HMGET', s, 'f', 'b', 'n')
local f, b, ack = tonumber(v[1]), tonumber(v[2]), math.min(tonumber(ARGV[2]), tonumber(v[3]) - 1)
if f > ack then return 1 end
while f <= ack do
  local len = redis.call('HSTRLEN', o, k(f))
  if len > 0 then b = b - (len - 1) end
  redis.call('HDEL', o, k(f))
  f = f + 1
end
redis.call('HSET', s, 'f', k(f), 'b', k(b))
return 1
`;

const TOUCH = `${OWNER}
local s, o = KEYS[1], KEYS[2]
local st = owner(s, tonumber(ARGV[1]))
if st < 0 then return st end
if ARGV[2] ~= '' then
  redis.call('PEXPIRE', s, ARGV[2])
  redis.call('PEXPIRE', o, ARGV[2])
end
return tonumber(redis.call('HGET', s, 'n'))
`;

const RELEASE = `${OWNER}
local s, o = KEYS[1], KEYS[2]
local st = owner(s, tonumber(ARGV[1]))
if st < 0 then return st end
redis.call('HSET', s, 'a', 0)
if ARGV[2] ~= '' then
  redis.call('PEXPIRE', s, ARGV[2])
  redis.call('PEXPIRE', o, ARGV[2])
end
return 1
`;

// Fenced like the others: an unfenced read could hand this node's client the messages of a session created
// since under the same key.
const READ = `${K}${OWNER}${GAP}
local st = owner(KEYS[1], tonumber(ARGV[1]))
if st < 0 then return {st} end
local v = redis.call('HMGET', KEYS[1], 'f', 'n')
local g = gap(KEYS[1], KEYS[2], tonumber(v[1]), tonumber(v[2]))
if g then return g end
local out = {0}
for seq = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local p = redis.call('HGET', KEYS[2], k(seq))
  if p then out[#out + 1] = seq; out[#out + 1] = p end
end
return out
`;

// No "only if detached" check: with the epoch still current, a session marked attached means this node's RELEASE
// never landed (Redis was unreachable when the socket closed); refusing then would leave it unreported.
const REMOVE = `${K}${OWNER}${GAP}
local s, o = KEYS[1], KEYS[2]
local st = owner(s, tonumber(ARGV[1]))
if st < 0 then return {st} end
local v = redis.call('HMGET', s, 'f', 'n')
local g = gap(s, o, tonumber(v[1]), tonumber(v[2]))
if g then return g end
local out = {1}
for seq = tonumber(v[1]), tonumber(v[2]) - 1 do
  local p = redis.call('HGET', o, k(seq))
  if p then out[#out + 1] = seq; out[#out + 1] = p end
end
redis.call('DEL', s, o)
return out
`;

export interface Script {
  source: string;
  sha: string;
}
export const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
export const SCRIPTS = { CLAIM, FENCE, APPEND, MARK, TRIM, TOUCH, RELEASE, READ, REMOVE };
