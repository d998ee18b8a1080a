/**
 * socketchart/server/redis: acknowledged-delivery sessions in Redis, shared by several server nodes.
 *
 * ```ts
 * import { createClient } from 'redis';
 * import { redisSessionStore } from 'socketchart/server/redis';
 *
 * const client = await createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true }).connect();
 * attachAckServer(wss, { store: redisSessionStore({ client }), onMessage });
 * ```
 *
 * Every change is one Lua script, atomic in Redis and fenced by the session's epoch (PROTOCOL.md, "Running several
 * server nodes"). Node only; `redis` (node-redis 5) is an optional peer dependency.
 */
import { createHash } from 'node:crypto';
import { RESP_TYPES, type RedisClientType } from 'redis';
import { SocketchartError, invalidOption } from '../errors.js';
import { knownKeys } from '../validate.js';
import { type ClaimResult, LEASE_RENEW_MS, type SessionGap, type SharedSessionStore, type StoreEffect, type StoreNotice, type UnackedMessage } from './store.js';

// Any node-redis 5 client (modules, scripts, RESP 2 or 3): the store only sends raw commands.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyRedisClient = RedisClientType<any, any, any, any, any>;

export interface RedisSessionStoreOptions {
  /**
   * A connected node-redis 5 client. Create it with `disableOfflineQueue: true`, so that calls fail at once while
   * Redis is unreachable instead of waiting in the client's queue (the store also refuses calls while
   * `client.isReady` is false). Listen to its `'error'` event: node-redis emits one per failed reconnect.
   */
  client: AnyRedisClient;
  /**
   * Prefix of every key and channel. One session uses `<prefix>{<id>}:s` (a hash) and `<prefix>{<id>}:o` (its
   * unacknowledged server messages); each node listens on `<prefix>node:<node id>`.
   * @default 'socketchart:'
   */
  prefix?: string;
  /**
   * Ms Redis keeps a session's keys beyond the helper's `sessionTtl` once no socket is attached. The node that
   * detached reports the expiry (`onExpire`) when `sessionTtl` runs out; the grace lets it read the messages first.
   * If that node died, Redis drops the keys at `sessionTtl + expiryGrace` and nobody is told.
   * @default 5000
   */
  expiryGrace?: number;
  /**
   * Ms a command may take before it fails (`ERR_STORE_TIMEOUT`...). A timed-out write may still have been applied.
   * @default 5000
   */
  commandTimeout?: number;
}

/** The largest count or byte limit a script compares against (Lua numbers are doubles). */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

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

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = { CLAIM, FENCE, APPEND, MARK, TRIM, TOUCH, RELEASE, READ, REMOVE };

const TEXT = 0x74; // 't'
const BINARY = 0x62; // 'b'

function encodePayload(payload: string | Uint8Array): Buffer {
  if (typeof payload === 'string') {
    const out = Buffer.allocUnsafe(1 + Buffer.byteLength(payload));
    out[0] = TEXT;
    out.write(payload, 1);
    return out;
  }
  const out = Buffer.allocUnsafe(1 + payload.byteLength);
  out[0] = BINARY;
  out.set(payload, 1);
  return out;
}

function decodePayload(stored: unknown): string | Uint8Array {
  const buf = Buffer.isBuffer(stored) ? stored : Buffer.from(String(stored));
  if (buf[0] === TEXT) return buf.toString('utf8', 1);
  return new Uint8Array(buf.subarray(1));
}

const asNumber = (value: unknown): number => (typeof value === 'number' ? value : Number(Buffer.isBuffer(value) ? value.toString() : value));

/**
 * A `SharedSessionStore` on Redis, for `attachAckServer(wss, { store: redisSessionStore({ client }) })`: clients
 * resume on any node, a node that dies loses nothing the store accepted, and sessions nobody resumes disappear
 * through key TTLs even with no node alive.
 */
/** Every option `redisSessionStore` takes: a key not here is refused, naming the closest one. */
const REDIS_STORE_OPTION_KEYS = ['client', 'prefix', 'expiryGrace', 'commandTimeout'] as const satisfies ReadonlyArray<keyof RedisSessionStoreOptions>;
/** Fails to compile when RedisSessionStoreOptions gains an option the list above lacks. */
const everyStoreOption: Record<Exclude<keyof RedisSessionStoreOptions, (typeof REDIS_STORE_OPTION_KEYS)[number]>, never> = {};
void everyStoreOption;

export function redisSessionStore(options: RedisSessionStoreOptions): SharedSessionStore {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object with client', options);
  knownKeys('', options, REDIS_STORE_OPTION_KEYS);
  const client = options.client;
  if (typeof client !== 'object' || client === null || typeof client.sendCommand !== 'function' || typeof client.duplicate !== 'function') {
    throw invalidOption('client', 'a node-redis 5 client (createClient() from "redis")', client);
  }
  const prefix = options.prefix ?? 'socketchart:';
  if (typeof prefix !== 'string') throw invalidOption('prefix', 'a string', prefix);
  const grace = options.expiryGrace ?? 5000;
  if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0) throw invalidOption('expiryGrace', 'a whole number of ms >= 0', grace);
  const timeout = options.commandTimeout ?? 5000;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1) throw invalidOption('commandTimeout', 'a whole number of ms >= 1', timeout);
  const scripts = Object.fromEntries(Object.entries(SCRIPTS).map(([name, source]) => [name, script(source)])) as Record<keyof typeof SCRIPTS, Script>;
  const commandOptions = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer }, timeout };
  const keys = (id: string): [string, string] => [`${prefix}{${id}}:s`, `${prefix}{${id}}:o`];
  const channel = `${prefix}node:`;

  // Scripts are loaded before the first call, and again after every reconnect (a restarted Redis has none). Calls
  // made meanwhile wait in order: retrying a NOSCRIPT failure one by one would run them out of order (a mark for
  // seq 5 before the one for seq 4), as other calls of the same batch find the script loaded by the first retry.
  let loaded: Promise<void> | null = null;
  let ready = false;
  client.on('ready', () => {
    loaded = null;
    ready = false;
  });
  const load = (): Promise<void> =>
    (loaded ??= Promise.all(Object.values(scripts).map((s) => client.sendCommand(['SCRIPT', 'LOAD', s.source]))).then(
      () => {
        ready = true;
      },
      (error: unknown) => {
        loaded = null;
        throw error;
      },
    ));
  const send = async (s: Script, tail: Array<string | Buffer>): Promise<unknown> => {
    try {
      return await client.sendCommand(['EVALSHA', s.sha, ...tail], commandOptions);
    } catch (error) {
      // Only after a SCRIPT FLUSH behind the store's back; never with the loading above.
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return client.sendCommand(['EVAL', s.source, ...tail], commandOptions);
    }
  };
  const run = (which: keyof typeof SCRIPTS, keyList: string[], args: Array<string | Buffer>): Promise<unknown> => {
    if (!client.isReady) {
      return Promise.reject(
        new SocketchartError('ERR_CONNECTION_CLOSED', 'The Redis session store is unreachable (client not ready); try again when Redis is back.'),
      );
    }
    const tail = [String(keyList.length), ...keyList, ...args];
    if (ready) return send(scripts[which], tail);
    return load().then(() => send(scripts[which], tail));
  };

  const pairs = (reply: unknown[], from: number): UnackedMessage[] => {
    const out: UnackedMessage[] = [];
    for (let i = from; i + 1 < reply.length; i += 2) out.push({ seq: asNumber(reply[i]), payload: decodePayload(reply[i + 1]) });
    return out;
  };

  function checkEffect(effect: StoreEffect): asserts effect is readonly (string | Uint8Array)[] {
    if (!Array.isArray(effect) || effect.length === 0 || !effect.every((a) => typeof a === 'string' || a instanceof Uint8Array)) {
      throw new SocketchartError(
        'ERR_INVALID_DATA',
        "The Redis session store commits Redis commands: message.commit(['RPUSH', 'key', value]) (strings or bytes).",
      );
    }
  }

  const effectArgs = (effects: readonly StoreEffect[]): Array<string | Buffer> => {
    const args: Array<string | Buffer> = [String(effects.length)];
    for (const effect of effects) {
      checkEffect(effect);
      args.push(String(effect.length), ...effect.map((a) => (typeof a === 'string' ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
    }
    return args;
  };

  /** A GAP reply (status -5): the lost seqs, then what is left. */
  const gapOf = (reply: unknown[]): SessionGap => {
    const count = asNumber(reply[1]);
    return { gap: reply.slice(2, 2 + count).map(asNumber), held: pairs(reply, 2 + count) };
  };

  /** A script's refusal: -1 a later claim owns the session, -2 the session is gone (expired, removed). */
  const verdict = (status: number): 'stale' | 'missing' => (status === -2 ? 'missing' : 'stale');

  const limit = (n: number) => String(n === Infinity ? UNBOUNDED : n);
  /** Key TTL for a detached session kept `ttl` ms: '' keeps it forever. */
  const lease = (ttl: number) => (ttl === Infinity ? '' : String(Math.ceil(ttl) + grace));
  /** Key TTL for an attached session: its owner renews it every LEASE_RENEW_MS; it outlives the owner by `ttl`. */
  const attachedLease = (ttl: number) => (ttl === Infinity ? '' : String(Math.max(Math.ceil(ttl) + grace, 3 * LEASE_RENEW_MS)));

  return {
    shared: true,
    available: () => client.isReady,
    checkEffect,
    async claim(id, node, hello, ttl): Promise<ClaimResult> {
      const reply = (await run('CLAIM', keys(id), [node, String(hello.ack), String(hello.next), channel, id, attachedLease(ttl)])) as unknown[];
      const status = asNumber(reply[0]);
      if (status === -1) return { refused: String(reply[1]) };
      if (status === -5) return gapOf(reply);
      if (status === 0) return { resumed: false, epoch: asNumber(reply[1]), lastIn: asNumber(reply[2]), nextOut: 1, unacked: [] };
      const first = asNumber(reply[4]);
      const unacked: UnackedMessage[] = [];
      for (let i = 5; i < reply.length; i++) {
        // Never a hole (a lost message makes the script answer a gap); skip rather than hand the client a wrong payload.
        if (reply[i] !== null && reply[i] !== undefined) unacked.push({ seq: first + i - 5, payload: decodePayload(reply[i]) });
      }
      return { resumed: true, epoch: asNumber(reply[1]), lastIn: asNumber(reply[2]), nextOut: asNumber(reply[3]), unacked };
    },
    async fence(id, epoch) {
      const lastIn = asNumber(await run('FENCE', keys(id).slice(0, 1), [String(epoch)]));
      return lastIn < 0 ? verdict(lastIn) : lastIn;
    },
    async append(id, epoch, payload, limits) {
      const seq = asNumber(
        await run('APPEND', keys(id), [
          epoch === null ? '' : String(epoch),
          encodePayload(payload),
          limit(limits.maxUnacked),
          limit(limits.maxUnackedBytes),
          channel,
          id,
        ]),
      );
      return seq < 0 ? verdict(seq) : seq;
    },
    async mark(id, epoch, seq, effects) {
      const reply = await run('MARK', keys(id).slice(0, 1), [String(epoch), String(seq), ...effectArgs(effects)]);
      if (Array.isArray(reply)) {
        // [-4, attempts, index, error]: effect `index` failed; the mark was not recorded.
        const index = asNumber(reply[2]);
        const effect = effects[index - 1] as readonly (string | Uint8Array)[];
        const name = typeof effect?.[0] === 'string' ? effect[0] : 'command';
        const error = new SocketchartError(
          'ERR_EFFECT_FAILED',
          `Effect ${index} of client message ${id}:${seq} (message.commit([${JSON.stringify(name)}, ...])) failed in Redis: ${String(reply[3])}. Fix the command; the message was not recorded as processed.`,
        );
        return { failed: error, attempts: asNumber(reply[1]) };
      }
      const result = asNumber(reply);
      if (result === -3) {
        // Never expected: marks are sent in order on one connection. Loud rather than a silently skipped effect.
        throw new SocketchartError('ERR_INVALID_DATA', `The Redis store refused the mark of seq ${seq} of session ${id}: not the next one.`);
      }
      return result < 0 ? verdict(result) : 'ok';
    },
    async trim(id, epoch, ack) {
      const result = asNumber(await run('TRIM', keys(id), [String(epoch), String(ack)]));
      return result < 0 ? verdict(result) : 'ok';
    },
    async touch(id, epoch, ttl) {
      const next = asNumber(await run('TOUCH', keys(id), [String(epoch), attachedLease(ttl)]));
      return next < 0 ? verdict(next) : next;
    },
    async release(id, epoch, ttl) {
      const result = asNumber(await run('RELEASE', keys(id), [String(epoch), lease(ttl)]));
      return result < 0 ? verdict(result) : 'ok';
    },
    async read(id, epoch, from, to) {
      if (to < from) return [];
      const reply = (await run('READ', keys(id), [String(epoch), String(from), String(to)])) as unknown[];
      const status = asNumber(reply[0]);
      if (status === -5) return gapOf(reply);
      return status < 0 ? verdict(status) : pairs(reply, 1);
    },
    async remove(id, epoch) {
      const reply = (await run('REMOVE', keys(id), [String(epoch)])) as unknown[];
      const status = asNumber(reply[0]);
      if (status === -5) return gapOf(reply);
      return status < 0 ? verdict(status) : pairs(reply, 1);
    },
    async listen(node, onNotice, onError, signal, onDropped) {
      const subscriber = client.duplicate();
      // While Redis is down, connect() waits as long as the client's reconnectStrategy retries: stopping the server
      // meanwhile must end those retries, or the subscriber would outlive it.
      const drop = () => {
        if (subscriber.isOpen) subscriber.destroy();
      };
      let subscribed = false;
      // node-redis emits 'error' on every failed reconnect; unhandled, that would crash the process. Once
      // subscribed, an error means the connection broke and notices are being lost: rather than let node-redis
      // reconnect and resubscribe behind the caller's back (it would not know it had been deaf), the subscriber is
      // closed here, synchronously within the emit so that node-redis does not start reconnecting, and the caller
      // told.
      subscriber.on('error', (error: unknown) => {
        if (!subscribed || !onDropped) {
          onError(error);
          return;
        }
        subscribed = false;
        drop();
        onDropped(error);
      });
      signal?.addEventListener('abort', drop, { once: true });
      const onMessage = (message: string) => {
        // "<kind> <id> <n>": the id is what sessionKey() made, and may itself hold spaces.
        const first = message.indexOf(' ');
        const last = message.lastIndexOf(' ');
        if (first < 0 || last <= first) return;
        const kind = message.slice(0, first);
        const id = message.slice(first + 1, last);
        const value = Number(message.slice(last + 1));
        if (!Number.isSafeInteger(value)) return;
        if (kind === 'l') onNotice({ type: 'lost', id, epoch: value } satisfies StoreNotice);
        else if (kind === 'o') onNotice({ type: 'out', id, seq: value });
      };
      try {
        signal?.throwIfAborted();
        await subscriber.connect();
        signal?.throwIfAborted();
        await subscriber.subscribe(channel + node, onMessage);
        subscribed = true;
      } catch (error) {
        // A subscriber that failed to subscribe is never used: left open, it would reconnect forever, deaf.
        drop();
        throw error;
      } finally {
        signal?.removeEventListener('abort', drop);
      }
      return async () => {
        subscribed = false;
        try {
          await subscriber.close();
        } catch {
          drop();
        }
      };
    },
  };
}
