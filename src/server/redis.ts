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
import { RESP_TYPES, type RedisClientType } from 'redis';
import { SocketchartError, invalidOption } from '../errors.js';
import { knownKeys } from '../validate.js';
import { decodePayload, encodePayload, asNumber, gapOf, pairs, verdict } from './redisReplies.js';
import { SCRIPTS, type Script, script } from './redisScripts.js';
import { type ClaimResult, LEASE_RENEW_MS, type SharedSessionStore, type StoreEffect, type StoreNotice, type UnackedMessage } from './store.js';

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

/** Every option `redisSessionStore` takes: a key not here is refused, naming the closest one. */
const REDIS_STORE_OPTION_KEYS = ['client', 'prefix', 'expiryGrace', 'commandTimeout'] as const satisfies ReadonlyArray<keyof RedisSessionStoreOptions>;
/** Fails to compile when RedisSessionStoreOptions gains an option the list above lacks. */
const everyStoreOption: Record<Exclude<keyof RedisSessionStoreOptions, (typeof REDIS_STORE_OPTION_KEYS)[number]>, never> = {};
void everyStoreOption;

/**
 * A `SharedSessionStore` on Redis, for `attachAckServer(wss, { store: redisSessionStore({ client }) })`: clients
 * resume on any node, a node that dies loses nothing the store accepted, and sessions nobody resumes disappear
 * through key TTLs even with no node alive.
 */
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
