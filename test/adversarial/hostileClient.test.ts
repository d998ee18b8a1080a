/**
 * Hostile clients against `attachAckServer` (socketchart/server) on the Redis-backed store (socketchart/server/redis):
 * the classes maliciousClient.test.ts (memory store) leaves out. A real redis-server on a free port, real `ws`
 * servers on 127.0.0.1 port 0, and raw `ws` sockets speaking socketchart.ack.v1 by hand as the hostile side.
 *
 * Nothing sleeps: each case waits for what the server does (a welcome, a close, a store call it made settling).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACK_PROTOCOL, helloFrame } from '../../src/delivery/protocol.js';
import { type AckServer, type AckServerOptions, type AckSession, type SharedSessionStore, attachAckServer } from '../../src/server/index.js';
import { redisSessionStore } from '../../src/server/redis.js';
import { type RedisServer, startRedis } from '../server/redisServer.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

let prefixes = 0;

async function redisClient() {
  const client = createClient({ url: redis.url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  cleanup.push(() => (client.isOpen ? client.close().catch(() => client.destroy()) : undefined));
  return client;
}

/** What the store was asked to do and has finished doing: every call's promise, settled or not. */
interface StoreCalls {
  pending: Array<Promise<unknown>>;
  /** Resolves once every store call made so far (and any they led to) has settled. */
  settled(): Promise<void>;
}

/** One node on its own prefix; the store is wrapped so a case can wait for the calls the server made. */
async function node(options: Partial<AckServerOptions> = {}, wrap: (store: SharedSessionStore) => SharedSessionStore = (store) => store) {
  const prefix = `hostile${process.pid}-${++prefixes}:`;
  const client = await redisClient();
  const store = wrap(redisSessionStore({ client, prefix }));
  const calls: StoreCalls = {
    pending: [],
    async settled() {
      // A settled call may have made the server call again (a release after a claim): wait until none is new.
      for (let seen = -1; seen !== calls.pending.length; ) {
        seen = calls.pending.length;
        await Promise.allSettled(calls.pending);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    },
  };
  const watched = Object.fromEntries(
    Object.entries(store).map(([name, value]) => [
      name,
      typeof value === 'function' && name !== 'listen' && name !== 'available' && name !== 'checkEffect'
        ? (...args: unknown[]) => {
            const result = (value as (...a: unknown[]) => Promise<unknown>).apply(store, args);
            calls.pending.push(result);
            return result;
          }
        : value,
    ]),
  ) as unknown as SharedSessionStore;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const errors: unknown[] = [];
  const server: AckServer = attachAckServer(wss, { store: watched, onMessage: () => {}, onError: (e) => errors.push(e), ...options });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  await server.ready();
  /** Session keys this node's prefix holds in Redis. */
  const keysInRedis = async () => (await client.keys(`${prefix}*`)).filter((k) => k.endsWith(':s'));
  return { server, calls, errors, keysInRedis, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/` };
}

/** A bare client speaking the protocol by hand. `outcome` is its first frame or its close, whichever comes first. */
async function raw(url: string) {
  const ws = new WebSocket(url, [ACK_PROTOCOL]);
  const frames: string[] = [];
  ws.on('error', () => {});
  cleanup.push(() => ws.terminate());
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const first = new Promise<string>((resolve) =>
    ws.on('message', (data) => {
      frames.push(String(data));
      resolve(String(data));
    }),
  );
  const outcome = Promise.race([first.then((frame) => ({ frame })), closed.then((close) => ({ close: close.code }))]);
  await once(ws, 'open');
  return { ws, frames, closed, outcome };
}

const sid = (i: number) => `hostile-session-${String(i).padStart(8, '0')}`;

describe('session floods against the shared store [PROTOCOL.md: Bounds: sessions, maxSessions, 1013]', () => {
  it('hellos for new sessions sent all at once cannot pass maxSessions while their claims are on their way to Redis', async () => {
    const n = await node({ maxSessions: 3 });
    const clients = await Promise.all(Array.from({ length: 12 }, () => raw(n.url)));
    clients.forEach((c, i) => c.ws.send(helloFrame(sid(i), 0, 1)));
    const outcomes = await Promise.all(clients.map((c) => c.outcome));
    await n.calls.settled();
    expect(outcomes.filter((o) => 'frame' in o)).toHaveLength(3);
    expect(outcomes.filter((o) => 'close' in o && o.close === 1013)).toHaveLength(9);
    expect(n.server.sessions.size).toBe(3);
    expect(await n.keysInRedis()).toHaveLength(3);
  });

  it('a hello and a hang-up, repeated, leaves no session in Redis that maxSessions does not count', async () => {
    const n = await node({ maxSessions: 5 });
    for (let i = 0; i < 20; i++) {
      const c = await raw(n.url);
      c.ws.send(helloFrame(sid(100 + i), 0, 1));
      c.ws.terminate();
      await c.closed;
    }
    await n.calls.settled();
    // A claim that came back while its socket was still open made a session this node counts (and expires); one
    // that came back for a socket already gone left nothing behind. Either way Redis holds only counted sessions.
    const counted = n.server.sessions.size;
    expect(counted).toBeLessThanOrEqual(5);
    expect((await n.keysInRedis()).length).toBe(counted);
  });
});

describe('hostile values in hellos and acks on the shared store [PROTOCOL.md: Handshake, Acknowledgements, Errors and close codes]', () => {
  const hello = (fields: Record<string, unknown>) => JSON.stringify({ type: 'hello', sid: sid(1), ack: 0, next: 1, ...fields });

  it.each([
    ['a sid with Redis glob and hash-tag characters', hello({ sid: 'aaaaaaaaaaaaaaaa*{x}:s' })],
    ['a sid with a newline', hello({ sid: 'aaaaaaaaaaaaaaaa\nbbbb' })],
    ['a sid of 129 characters', hello({ sid: 'a'.repeat(129) })],
    ['a sid of 1 MB', hello({ sid: 'a'.repeat(1 << 20) })],
    ['a sid that is a number', hello({ sid: 1234567890123456 })],
    ['a sid that is an object', hello({ sid: { $gt: '' } })],
    ['a float ack', hello({ ack: 1.5 })],
    ['a negative ack', hello({ ack: -1 })],
    ['an ack above 2^53 - 1', hello({ ack: 2 ** 53 })],
    ['an ack as a string', hello({ ack: '0' })],
    ['next 0', hello({ next: 0 })],
    ['next as 1e400 (Infinity once parsed)', hello({}).replace('"next":1', '"next":1e400')],
    ['an ack before hello', '{"type":"ack","ack":0}'],
    ['data before hello', '1:x'],
    ['a welcome from the client', JSON.stringify({ type: 'welcome', sid: sid(1), resumed: false, ack: 0, next: 1 })],
  ])('%s: closed with 1002, and Redis holds no session for it', async (_name, frame) => {
    const n = await node();
    const c = await raw(n.url);
    c.ws.send(frame);
    expect((await c.closed).code).toBe(1002);
    await n.calls.settled();
    expect(c.frames).toEqual([]);
    expect(await n.keysInRedis()).toEqual([]);
  });

  it('binary data before hello: 1002, nothing stored', async () => {
    const n = await node();
    const c = await raw(n.url);
    c.ws.send(Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 120]));
    expect((await c.closed).code).toBe(1002);
    await n.calls.settled();
    expect(await n.keysInRedis()).toEqual([]);
  });

  it.each([
    ['a float', '{"type":"ack","ack":0.5}'],
    ['a string', '{"type":"ack","ack":"1"}'],
    ['a negative number', '{"type":"ack","ack":-1}'],
    ['2^53', '{"type":"ack","ack":9007199254740992}'],
    ['beyond the last seq sent', '{"type":"ack","ack":3}'],
  ])('an ack that is %s closes with 1002 and forgets nothing: the next socket gets every held message', async (_name, ack) => {
    let attach!: (session: AckSession) => void;
    const attached = new Promise<AckSession>((resolve) => (attach = resolve));
    const n = await node({ onSession: (s) => attach(s) });
    const a = await raw(n.url);
    a.ws.send(helloFrame(sid(1), 0, 1));
    const session = await attached;
    for (const m of ['s1', 's2']) expect(await session.sendDurable(m)).toBe(true);
    a.ws.send(ack);
    expect((await a.closed).code).toBe(1002);
    await n.calls.settled();
    const b = await raw(n.url);
    const replayed = new Promise<void>((resolve) => b.ws.on('message', () => b.frames.length === 3 && resolve()));
    b.ws.send(helloFrame(sid(1), 0, 1));
    await replayed;
    expect(b.frames.slice(1)).toEqual(['1:s1', '2:s2']);
  });

  it('a second hello sent while the first one\'s claim is on its way: 1002 once the first is answered, the session kept for a resume', async () => {
    const n = await node();
    const a = await raw(n.url);
    a.ws.send(helloFrame(sid(1), 0, 1));
    a.ws.send(helloFrame(sid(2), 0, 1));
    expect((await a.closed).code).toBe(1002);
    await n.calls.settled();
    // Only the first hello made a session; the second never reached the store.
    expect(await n.keysInRedis()).toHaveLength(1);
    const b = await raw(n.url);
    b.ws.send(helloFrame(sid(1), 0, 1));
    expect(JSON.parse(((await b.outcome) as { frame: string }).frame)).toMatchObject({ type: 'welcome', sid: sid(1), resumed: true });
  });
});

describe('messages that make onMessage fail, and sessions that ended [README: Acknowledged delivery]', () => {
  /** Resolves with the frames of `c` once `count` have come. */
  const frames = (c: Awaited<ReturnType<typeof raw>>, count: number) =>
    new Promise<string[]>((resolve) => {
      if (c.frames.length >= count) resolve(c.frames);
      c.ws.on('message', () => c.frames.length >= count && resolve(c.frames));
    });

  it.each([
    ['rejects with a non-Error, later', (p: string) => (p === 'bad' ? new Promise((_, reject) => setImmediate(() => reject('no'))) : undefined)],
    ['throws a non-Error', (p: string) => {
      if (p === 'bad') throw 'no';
    }],
  ])('an onMessage that %s: reported to onError as thrown, the message counts as processed, the next ones go on', async (_name, handler) => {
    const seen: string[] = [];
    const n = await node({ ackEvery: 1, onMessage: (_s, p) => (seen.push(String(p)), handler(String(p))) });
    const c = await raw(n.url);
    c.ws.send(helloFrame(sid(1), 0, 1));
    for (const [seq, p] of ['ok', 'bad', 'after'].entries()) c.ws.send(`${seq + 1}:${p}`);
    const got = await new Promise<string[]>((resolve) => {
      c.ws.on('message', () => c.frames.includes('{"type":"ack","ack":3}') && resolve(c.frames));
    });
    expect(got).toContain('{"type":"ack","ack":3}');
    expect(seen).toEqual(['ok', 'bad', 'after']);
    expect(n.errors).toEqual(['no']);
  });

  it('a hello for a session the server ended starts a new one (resumed false), without what the old one held', async () => {
    let attach!: (session: AckSession) => void;
    let attached = new Promise<AckSession>((resolve) => (attach = resolve));
    const n = await node({ onSession: (s) => attach(s) });
    const a = await raw(n.url);
    a.ws.send(helloFrame(sid(1), 0, 1));
    const first = await attached;
    expect(await first.sendDurable('old')).toBe(true);
    await frames(a, 2);
    attached = new Promise<AckSession>((resolve) => (attach = resolve));
    const undelivered = await first.end(4000, 'bye');
    expect(undelivered).toEqual(['old']);
    expect((await a.closed).code).toBe(4000);
    await n.calls.settled();
    const b = await raw(n.url);
    b.ws.send(helloFrame(sid(1), 1, 1)); // acknowledges 'old', which the ended session no longer has
    expect(JSON.parse((await frames(b, 1))[0]!)).toMatchObject({ type: 'welcome', resumed: false, next: 1 });
    const second = await attached;
    expect(second).not.toBe(first);
    expect(second.pending.count).toBe(0);
  });
});

describe('floods of empty frames against the waiting-frame bound [PROTOCOL.md: Bounds: frames waiting for an async store, maxBacklogBytes, 1013]', () => {
  // An empty payload is 0 bytes, but each waiting frame is an entry in a queue and a view of its bytes: counted as
  // nothing, a client could queue millions of 3-byte frames under any byte bound.
  const FLOOD = 20_000;
  const BOUND = 64 * 1024;

  /** A memory-store node (the default store, or `store`); no Redis. */
  async function memoryNode(options: Partial<AckServerOptions>) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const server = attachAckServer(wss, { onMessage: () => {}, onError: () => {}, ...options });
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.close();
          for (const ws of wss.clients) ws.terminate();
          wss.close(() => resolve());
        }),
    );
    return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  }

  /**
   * Sends `frames`, then closes with 1000: the server reads in order, so the close code the client sees is 1013 if
   * the server gave up on the flood first, and 1000 (its answer to ours) if it held every frame.
   */
  async function flood(url: string, first: Array<string | Buffer>, each: (i: number) => string | Buffer, ready?: Promise<unknown>) {
    const c = await raw(url);
    for (const frame of first) c.ws.send(frame);
    await ready;
    for (let i = 0; i < FLOOD; i++) c.ws.send(each(i));
    c.ws.close(1000);
    return (await c.closed).code;
  }

  it('empty data frames while an async onMessage runs (memory store): 1013', async () => {
    const url = await memoryNode({ maxBacklogBytes: BOUND, onMessage: () => new Promise(() => {}) });
    expect(await flood(url, [helloFrame(sid(1), 0, 1), '1:slow'], (i) => `${i + 2}:`)).toBe(1013);
  });

  it('empty binary data frames while an async onMessage runs (memory store): 1013', async () => {
    const url = await memoryNode({ maxBacklogBytes: BOUND, onMessage: () => new Promise(() => {}) });
    const header = (seq: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(seq));
      return b;
    };
    expect(await flood(url, [helloFrame(sid(1), 0, 1), '1:slow'], (i) => header(i + 2))).toBe(1013);
  });

  it('empty frames while the session loads from an async store that never answers: 1013', async () => {
    const url = await memoryNode({ maxBacklogBytes: BOUND, store: { get: () => new Promise(() => {}), set: () => true, delete: () => {} } });
    expect(await flood(url, [helloFrame(sid(1), 0, 1)], () => '')).toBe(1013);
  });

  it('empty data frames while an async onMessage runs (Redis store): 1013', async () => {
    // Flooded once the claim was answered and onMessage runs: the frames wait in the session, not for the claim.
    let running!: () => void;
    const started = new Promise<void>((resolve) => (running = resolve));
    const n = await node({ maxBacklogBytes: BOUND, onMessage: () => (running(), new Promise(() => {})) });
    expect(await flood(n.url, [helloFrame(sid(1), 0, 1), '1:slow'], (i) => `${i + 2}:`, started)).toBe(1013);
  });
});

describe('frames a dead socket left behind [PROTOCOL.md: Handshake ("the newest wins")]', () => {
  it('a gap the old socket sent while an async onMessage ran does not close the socket that resumed the session (memory store)', async () => {
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    let running!: () => void;
    const started = new Promise<void>((resolve) => (running = resolve));
    const seen: string[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const server = attachAckServer(wss, {
      ackEvery: 1,
      onError: () => {},
      onMessage: (_s, p) => {
        seen.push(String(p));
        if (String(p) === 'slow') return running(), slow;
      },
    });
    cleanup.push(() => new Promise<void>((resolve) => (server.close(), [...wss.clients].forEach((ws) => ws.terminate()), wss.close(() => resolve()))));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    /** Resolves once the server read everything `c` sent before: its pong to a ping sent now. */
    const read = (c: Awaited<ReturnType<typeof raw>>) =>
      new Promise<void>((resolve) => {
        c.ws.on('message', (data) => String(data) === '{"type":"pong"}' && resolve());
        c.ws.send('{"type":"ping"}');
      });

    const a = await raw(url);
    a.ws.send(helloFrame(sid(1), 0, 1));
    a.ws.send('1:slow');
    await started;
    a.ws.send('3:skipped-two'); // waits behind the slow one: a gap, but only once 'slow' is done
    await read(a);
    a.ws.terminate();
    await a.closed;

    const b = await raw(url);
    b.ws.send(helloFrame(sid(1), 0, 1)); // holds 1 and 2, nothing acknowledged
    b.ws.send('1:slow');
    b.ws.send('2:next');
    await read(b);
    const outcome = new Promise<string>((resolve) => {
      b.ws.on('message', (data) => String(data) === '{"type":"ack","ack":2}' && resolve('acked 2'));
      void b.closed.then(({ code }) => resolve(`closed ${code}`));
    });
    release();
    expect(await outcome).toBe('acked 2');
    expect(seen).toEqual(['slow', 'next']);
  });
});

describe('sequence numbers at 2^53 - 1 through Redis and Lua [PROTOCOL.md: Sessions and sequence numbers]', () => {
  it('a new session whose client starts at the last seq: welcomed with ack 2^53 - 2, that message processed and acknowledged exactly', async () => {
    const max = Number.MAX_SAFE_INTEGER;
    const seen: string[] = [];
    const n = await node({ ackEvery: 1, onMessage: (_s, p) => void seen.push(String(p)) });
    const c = await raw(n.url);
    const acked = new Promise<void>((resolve) => c.ws.on('message', (data) => String(data) === `{"type":"ack","ack":${max}}` && resolve()));
    c.ws.send(helloFrame(sid(1), 0, max));
    expect(JSON.parse(((await c.outcome) as { frame: string }).frame)).toEqual({ type: 'welcome', sid: sid(1), resumed: false, ack: max - 1, next: 1 });
    c.ws.send(`${max}:last`);
    await acked;
    expect(seen).toEqual(['last']);
  });
});

describe('a refused takeover attempt [PROTOCOL.md: Handshake; the session keeps everything it holds]', () => {
  it('a hello with an impossible ack for a session attached here: refused (1002), and the attached socket\'s frames that came meanwhile are still processed', async () => {
    // The hostile claim is held at the store's door until the honest socket's frame is in: the frame then waits
    // behind the claim (a claim on its way stops processing), and must not wait forever once the claim is refused.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let claimAsked!: () => void;
    const asked = new Promise<void>((resolve) => (claimAsked = resolve));
    let claims = 0;
    const seen: string[] = [];
    const n = await node({ ackEvery: 1, onMessage: (_s, p) => void seen.push(String(p)) }, (store) => ({
      ...store,
      claim: (...args) => {
        if (++claims === 1) return store.claim(...args);
        claimAsked();
        return gate.then(() => store.claim(...args));
      },
    }));
    const honest = await raw(n.url);
    honest.ws.send(helloFrame(sid(1), 0, 1));
    await honest.outcome;
    const hostileClient = await raw(n.url);
    hostileClient.ws.send(helloFrame(sid(1), 1_000_000, 1));
    await asked;
    const pong = new Promise<void>((resolve) => honest.ws.on('message', (data) => String(data) === '{"type":"pong"}' && resolve()));
    honest.ws.send('1:during the claim');
    honest.ws.send('{"type":"ping"}');
    await pong;
    const acked = new Promise<void>((resolve) => honest.ws.on('message', (data) => String(data) === '{"type":"ack","ack":1}' && resolve()));
    openGate();
    expect((await hostileClient.closed).code).toBe(1002);
    await acked;
    expect(seen).toEqual(['during the claim']);
    expect(honest.ws.readyState).toBe(WebSocket.OPEN);
  });
});
