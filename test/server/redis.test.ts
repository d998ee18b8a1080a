/**
 * attachAckServer on a shared Redis store (issue 13): several nodes in this process, each with its own ws server
 * and Redis connection, against a real redis-server on a free port. The kill -9 failover between processes is in
 * failover.test.ts.
 */
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { SimulatedClock } from 'xstate';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACK_PROTOCOL, atLeastOnce } from '../../src/delivery/index.js';
import { ACK_CLOSE_CODES, helloFrame } from '../../src/delivery/protocol.js';
import { createConnection } from '../../src/node.js';
import { type AckServer, type AckServerOptions, type AckSession, type SharedSessionStore, attachAckServer } from '../../src/server/index.js';
import { redisSessionStore } from '../../src/server/redis.js';
import { LEASE_RENEW_MS } from '../../src/server/store.js';
import { type RedisServer, startRedis } from './redisServer.js';

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

let prefixCount = 0;

async function redisClient() {
  const client = createClient({ url: redis.url, disableOfflineQueue: true, socket: { reconnectStrategy: (n) => Math.min(n * 20, 200) } });
  const errors: unknown[] = [];
  client.on('error', (error) => errors.push(error));
  await client.connect();
  cleanup.push(() => (client.isOpen ? client.close().catch(() => client.destroy()) : undefined));
  return Object.assign(client, { errors });
}

/** One server node: its own ws server, Redis connection and attachAckServer, sharing `prefix` with its peers. */
async function redisNode(
  prefix: string,
  options: Partial<AckServerOptions> = {},
  deafTo: 'lost' | 'out' | false = false,
  wrap: (store: SharedSessionStore) => SharedSessionStore = (store) => store,
) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const client = await redisClient();
  const received: string[] = [];
  const errors: unknown[] = [];
  const store = redisSessionStore({ client, prefix });
  // A node that never hears one kind of notice (as when its subscriber connection drops one).
  const deaf: SharedSessionStore = {
    ...store,
    listen: (node, onNotice, ...rest) => store.listen(node, (n) => (n.type === deafTo ? undefined : onNotice(n)), ...rest),
  };
  const server: AckServer = attachAckServer(wss, {
    store: wrap(deafTo ? deaf : store),
    onMessage: (_s, p) => received.push(String(p)),
    onError: (error) => errors.push(error),
    ...options,
  });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  await server.ready(); // a node refuses sessions until it listens to its notices
  const port = (wss.address() as AddressInfo).port;
  return { wss, server, client, port, url: `ws://127.0.0.1:${port}/`, received, errors };
}

const newPrefix = () => `t${process.pid}-${++prefixCount}:`;

/** A bare ws client speaking the protocol by hand. */
async function raw(url: string) {
  const ws = new WebSocket(url, [ACK_PROTOCOL]);
  const frames: string[] = [];
  ws.on('message', (data, isBinary) => frames.push(isBinary ? `bin:${Buffer.from(data as Buffer).toString('hex')}` : data.toString()));
  ws.on('error', () => {});
  cleanup.push(() => ws.terminate());
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await once(ws, 'open');
  const frame = async (n: number) => {
    await until(() => frames.length >= n);
    return frames[n - 1]!;
  };
  return { ws, frames, closed, frame };
}

/** A TCP relay to `port` that can freeze (hold every byte, both ways, close nothing) and heal (deliver them). */
async function freezableRelay(port: number) {
  let frozen = false;
  const held: Array<() => void> = [];
  const server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => (frozen ? held.push(() => to.write(chunk)) : to.write(chunk)));
      from.on('close', () => (frozen ? held.push(() => to.destroy()) : to.destroy()));
      from.on('error', () => {});
    };
    pipe(down, up);
    pipe(up, down);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => new Promise((r) => server.close(r)));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    freeze: () => (frozen = true),
    heal: () => {
      frozen = false;
      for (const deliver of held.splice(0)) deliver();
    },
  };
}

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const SID = 'redis-session-000000001';

describe('sessions in Redis: clients resume on any node', () => {
  it('resumes on another node with the replay and the dedupe state the first node stored', async () => {
    const prefix = newPrefix();
    const echoed: string[] = [];
    const echo: AckServerOptions['onMessage'] = (s, p) => {
      echoed.push(String(p));
      s.send(`echo:${String(p)}`);
    };
    const a = await redisNode(prefix, { ackEvery: 1, onMessage: echo });
    const b = await redisNode(prefix, { ackEvery: 1, onMessage: echo });
    const c1 = await raw(a.url);
    c1.ws.send(helloFrame(SID, 0, 1));
    expect(JSON.parse(await c1.frame(1))).toMatchObject({ type: 'welcome', resumed: false, ack: 0, next: 1 });
    c1.ws.send('1:a');
    c1.ws.send('2:b');
    await until(() => c1.frames.includes('2:echo:b') && c1.frames.includes('{"type":"ack","ack":2}'));
    c1.ws.terminate();
    // The client saw echo:a only (ack 1) and holds nothing below 3; it replays 2:b anyway.
    const c2 = await raw(b.url);
    c2.ws.send(helloFrame(SID, 1, 2));
    c2.ws.send('2:b');
    expect(JSON.parse(await c2.frame(1))).toEqual({ type: 'welcome', sid: SID, resumed: true, ack: 2, next: 2 });
    expect(await c2.frame(2)).toBe('2:echo:b');
    await until(() => c2.frames.includes('{"type":"ack","ack":2}'));
    expect(echoed).toEqual(['a', 'b']); // the replayed 2:b was a duplicate for B
    expect(a.server.stats.processed).toBe(2);
    expect(b.server.stats).toMatchObject({ resumed: 1, duplicates: 1, replayed: 1 });
  });

  it('never reuses a sequence number after failover: the next message continues where the store is', async () => {
    const prefix = newPrefix();
    let onA: AckSession | null = null;
    let onB: AckSession | null = null;
    const a = await redisNode(prefix, { onSession: (s) => (onA = s) });
    const b = await redisNode(prefix, { onSession: (s) => (onB = s) });
    const c1 = await raw(a.url);
    c1.ws.send(helloFrame(SID, 0, 1));
    await until(() => onA !== null);
    for (const m of ['s1', 's2', 's3']) expect(onA!.send(m)).toBe(true);
    await until(() => c1.frames.length === 4);
    c1.ws.terminate();
    const c2 = await raw(b.url);
    c2.ws.send(helloFrame(SID, 3, 1)); // delivered all three, acknowledged none
    expect(JSON.parse(await c2.frame(1))).toMatchObject({ resumed: true, next: 4 });
    onB!.send('s4');
    expect(await c2.frame(2)).toBe('4:s4');
  });

  it('session keys with spaces and braces (whatever sessionKey makes) work across nodes, notices included', async () => {
    const prefix = newPrefix();
    const sessionKey = (sid: string) => `user {42} / ${sid}`;
    const a = await redisNode(prefix, { sessionKey });
    const b = await redisNode(prefix, { sessionKey });
    const c1 = await raw(a.url);
    c1.ws.send(helloFrame(SID, 0, 1));
    await c1.frame(1);
    expect(await b.server.sendTo(`user {42} / ${SID}`, 'spaced')).toBe(true);
    expect(await c1.frame(2)).toBe('1:spaced');
    const c2 = await raw(b.url); // takes the session over: A is told (a "lost" notice naming the spaced key)
    c2.ws.send(helloFrame(SID, 1, 1));
    expect(JSON.parse(await c2.frame(1))).toMatchObject({ resumed: true });
    await until(() => a.server.sessions.get(`user {42} / ${SID}`) === undefined);
    expect((await c1.closed).code).toBe(4408);
  });

  it('server.sendTo() from any node reaches the client where it is attached, and is kept for replay when it is attached nowhere', async () => {
    const prefix = newPrefix();
    const a = await redisNode(prefix);
    const b = await redisNode(prefix);
    const c1 = await raw(a.url);
    c1.ws.send(helloFrame(SID, 0, 1));
    await c1.frame(1);
    expect(await b.server.sendTo(SID, 'from-b')).toBe(true);
    expect(await c1.frame(2)).toBe('1:from-b');
    expect(await a.server.sendTo(SID, Buffer.from([1, 2, 3]))).toBe(true);
    expect(await c1.frame(3)).toBe('bin:0000000000000002010203');
    c1.ws.terminate();
    await until(() => a.server.sessions.get(SID)?.connected === false);
    expect(await b.server.sendTo(SID, 'while-away')).toBe(true);
    expect(await b.server.sendTo('no-such-session-0000001', 'x')).toBe(false);
    const c2 = await raw(b.url);
    c2.ws.send(helloFrame(SID, 1, 1));
    await c2.frame(3);
    expect(c2.frames.slice(1)).toEqual(['bin:0000000000000002010203', '3:while-away']);
  });

  it('a node that misses the "out" notice of a message another node stored still writes it, at its next lease renewal', async () => {
    const prefix = newPrefix();
    const clock = new SimulatedClock();
    const a = await redisNode(prefix, { clock }, 'out');
    const b = await redisNode(prefix);
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await c.frame(1);
    expect(await b.server.sendTo(SID, 'quiet')).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.frames).toHaveLength(1);
    clock.increment(LEASE_RENEW_MS);
    expect(await c.frame(2)).toBe('1:quiet');
  });

  it('session.sendDurable() resolves once Redis holds the message, false when it is not accepted', async () => {
    const prefix = newPrefix();
    let session: AckSession | null = null;
    const a = await redisNode(prefix, { maxUnacked: 2, onSession: (s) => (session = s) });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    expect(await session!.sendDurable('one')).toBe(true);
    expect(await a.client.hGet(`${prefix}{${SID}}:o`, '1')).toBe('tone');
    expect(await session!.sendDurable('two')).toBe(true);
    expect(await session!.sendDurable('three')).toBe(false); // maxUnacked
    await until(() => c.frames.length === 3);
    expect(c.frames.slice(1)).toEqual(['1:one', '2:two']);
  });

  it('session.end() right after send()/sendDurable(): the messages still on their way to Redis are reported, not accepted', async () => {
    const prefix = newPrefix();
    let session: AckSession | null = null;
    const undelivered: string[] = [];
    const a = await redisNode(prefix, {
      onSession: (s) => (session = s),
      onUndelivered: (_s, payloads, reason) => undelivered.push(...payloads.map((p) => `${String(p)}:${reason}`)),
    });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    expect(session!.send('lost-one')).toBe(true);
    const durable = session!.sendDurable('durable-one');
    session!.end();
    expect(await durable).toBe(false); // sendDurable's answer is its report
    await until(() => undelivered.length === 1);
    expect(undelivered).toEqual(['lost-one:ended']);
  });

  it('session.end() from onMessage stops the batch: the frames after it are not processed', async () => {
    const prefix = newPrefix();
    const seen: string[] = [];
    const a = await redisNode(prefix, {
      onMessage: (s, p) => {
        seen.push(String(p));
        if (String(p) === 'stop') s.end(4000, 'done');
      },
    });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await c.frame(1);
    for (const f of ['1:a', '2:stop', '3:after', '4:after']) c.ws.send(f);
    expect((await c.closed).code).toBe(4000);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['a', 'stop']);
  });

  it('onMessage gets an idempotency key, and message.commit() runs Redis commands atomically with the mark', async () => {
    const prefix = newPrefix();
    const keys: string[] = [];
    const a = await redisNode(prefix, {
      ackEvery: 1,
      onMessage: (_s, payload, message) => {
        keys.push(message.key);
        message.commit(['RPUSH', `${prefix}orders`, `${message.key}=${String(payload)}`]);
        message.commit(['INCRBY', `${prefix}total`, String(payload).length.toString()]);
      },
    });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    c.ws.send('1:apple');
    c.ws.send('2:kiwi');
    c.ws.send('2:kiwi'); // a replay: skipped, nothing committed
    await until(() => c.frames.includes('{"type":"ack","ack":2}'));
    expect(keys).toEqual([`${SID}:1`, `${SID}:2`]);
    expect(await a.client.lRange(`${prefix}orders`, 0, -1)).toEqual([`${SID}:1=apple`, `${SID}:2=kiwi`]);
    expect(await a.client.get(`${prefix}total`)).toBe('9');
  });

  it('keys carry TTLs: a lease while attached, sessionTtl (+ grace) once detached, so sessions of dead nodes expire too', async () => {
    const prefix = newPrefix();
    const a = await redisNode(prefix, { sessionTtl: 60_000 });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await c.frame(1);
    const ttl = await a.client.pTTL(`${prefix}{${SID}}:s`);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(65_000);
    c.ws.terminate();
    await until(() => a.server.sessions.get(SID)?.connected === false);
    expect(await a.client.pTTL(`${prefix}{${SID}}:s`)).toBeGreaterThan(60_000);
  });

  it('expiry: the node the client left reports what was never acknowledged (read from Redis) and deletes the keys', async () => {
    const prefix = newPrefix();
    const clock = new SimulatedClock();
    const expired: string[][] = [];
    const a = await redisNode(prefix, { clock, sessionTtl: 1000, onExpire: (_s, undelivered) => expired.push(undelivered.map(String)) });
    const b = await redisNode(prefix);
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await c.frame(1);
    c.ws.terminate();
    await until(() => a.server.sessions.get(SID)?.connected === false);
    expect(await b.server.sendTo(SID, 'never-read')).toBe(true);
    clock.increment(1000);
    await until(() => expired.length === 1);
    expect(expired).toEqual([['never-read']]);
    expect(await a.client.exists(`${prefix}{${SID}}:s`)).toBe(0);
  });

  it('a real client with atLeastOnce() roams between nodes: every message once, in order, both ways', async () => {
    const prefix = newPrefix();
    const processed: string[] = [];
    const echo: AckServerOptions['onMessage'] = (s, p) => {
      processed.push(String(p));
      s.send(`echo:${String(p)}`);
    };
    const a = await redisNode(prefix, { onMessage: echo });
    const b = await redisNode(prefix, { onMessage: echo });
    const urls = [a.url, b.url];
    let turn = 0;
    const conn = createConnection(() => urls[turn++ % 2]!, { retryWait: () => Promise.resolve(), random: () => 0, delivery: atLeastOnce() });
    cleanup.push(() => conn.close());
    const got: string[] = [];
    conn.addEventListener('message', (e) => got.push(String(e.data)));
    for (let i = 0; i < 200; i++) {
      conn.send(`m${i}`);
      if (i % 50 === 49) for (const ws of [...a.wss.clients, ...b.wss.clients]) ws.terminate();
      await new Promise((r) => setImmediate(r));
    }
    await until(() => got.length >= 200, 10_000);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => `echo:m${i}`));
    expect(processed).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
    expect(a.server.stats.resumed + b.server.stats.resumed).toBeGreaterThanOrEqual(3);
  });
});

describe('bad input', () => {
  it('redisSessionStore() and attachAckServer() check a shared store at the call', async () => {
    const client = await redisClient();
    const bad: Array<[string, unknown]> = [
      ['options', null],
      ['client', { client: {} }],
      ['prefix', { client, prefix: 5 }],
      ['expiryGrace', { client, expiryGrace: -1 }],
      ['expiryGrace', { client, expiryGrace: 1.5 }],
      ['commandTimeout', { client, commandTimeout: 0 }],
    ];
    for (const [name, options] of bad) {
      expect(() => redisSessionStore(options as never), name).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining(name) }),
      );
    }
    const wss = new WebSocketServer({ noServer: true });
    const halfShared = { ...redisSessionStore({ client }), touch: undefined };
    expect(() => attachAckServer(wss, { onMessage: () => {}, store: halfShared as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('SharedSessionStore') }),
    );
    expect(() => attachAckServer(wss, { onMessage: () => {}, onUndelivered: 'no' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('onUndelivered') }),
    );
    wss.close();
  });

  it('message.commit() checks its effect: a Redis command is a non-empty array of strings or bytes', async () => {
    const prefix = newPrefix();
    const thrown: unknown[] = [];
    const a = await redisNode(prefix, {
      ackEvery: 1,
      onMessage: (_s, _p, message) => {
        for (const effect of [[], 'RPUSH x y', [1, 2], () => {}]) {
          try {
            message.commit(effect as never);
          } catch (error) {
            thrown.push(error);
          }
        }
      },
    });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    c.ws.send('1:x');
    // Refused at the call, with a typed error; the message itself is recorded and acknowledged.
    await until(() => c.frames.includes('{"type":"ack","ack":1}'));
    expect(thrown).toHaveLength(4);
    expect(thrown.every((e) => (e as { code?: string }).code === 'ERR_INVALID_DATA')).toBe(true);
    expect(a.errors).toEqual([]);
  });
});

describe('malicious client against a shared store: no unbounded per-socket buffer', () => {
  it('"frames waiting for the store are bounded by maxBacklogBytes (1013)": a store that stops answering fence checks', async () => {
    const prefix = newPrefix();
    const a = await redisNode(prefix, { maxBacklogBytes: 64 * 1024 }, false, (store) => ({ ...store, fence: () => new Promise(() => {}) }));
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await c.frame(1);
    const big = 'x'.repeat(16 * 1024);
    for (let i = 1; i <= 200 && c.ws.readyState === WebSocket.OPEN; i++) c.ws.send(`${i}:${big}`);
    expect(await c.closed).toMatchObject({ code: 1013, reason: 'session store too slow' });
    expect(a.received).toEqual([]);
  });

  it('"a flood of acks costs one store call per round trip": trims are coalesced', async () => {
    const prefix = newPrefix();
    let trims = 0;
    let session: AckSession | null = null;
    const a = await redisNode(prefix, { onSession: (s) => (session = s) }, false, (store) => ({
      ...store,
      trim: (...args) => (trims++, store.trim(...args)),
    }));
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => session!.sendDurable(`m${i}`)));
    await until(() => c.frames.length === 2001);
    for (let ack = 1; ack <= 2000; ack++) c.ws.send(`{"type":"ack","ack":${ack}}`);
    await until(async () => (await a.client.hLen(`${prefix}{${SID}}:o`)) === 0);
    expect(session!.pending.count).toBe(0);
    expect(trims).toBeLessThan(100);
  });
});

describe('split brain: a node cut off from its client must not act for the session', () => {
  async function scenario(loseNotice: boolean) {
    const prefix = newPrefix();
    let onA: AckSession | null = null;
    const undelivered: Array<[string[], string]> = [];
    const a = await redisNode(
      prefix,
      { ackEvery: 1, onSession: (s) => (onA = s), onUndelivered: (_s, payloads, reason) => undelivered.push([payloads.map(String), reason]) },
      loseNotice ? 'lost' : false,
    );
    const b = await redisNode(prefix, { ackEvery: 1 });
    const relay = await freezableRelay(a.port);
    const c1 = await raw(relay.url);
    c1.ws.send(helloFrame(SID, 0, 1));
    c1.ws.send('1:a');
    await until(() => c1.frames.includes('{"type":"ack","ack":1}'));
    onA!.send('s1');
    await until(() => c1.frames.includes('1:s1'));
    relay.freeze(); // no bytes either way, nothing closed
    c1.ws.send('2:b'); // held by the frozen link
    const c2 = await raw(b.url);
    c2.ws.send(helloFrame(SID, 1, 2));
    c2.ws.send('2:b');
    expect(JSON.parse(await c2.frame(1))).toMatchObject({ resumed: true, ack: 1 });
    await until(() => b.received.length === 1);
    return { prefix, a, b, relay, c1, c2, onA: onA!, undelivered };
  }

  it('a takeover notice that overtakes this node\'s own claim reply is not lost: the node lets go as it attaches', async () => {
    const prefix = newPrefix();
    let gate: (() => void) | null = null;
    let holdNextClaim = false;
    const notices: string[] = [];
    const a = await redisNode(prefix, {}, false, (store) => ({
      ...store,
      claim: async (...args: Parameters<SharedSessionStore['claim']>) => {
        const result = await store.claim(...args);
        if (holdNextClaim) await new Promise<void>((release) => (gate = release)); // the reply is late
        return result;
      },
      listen: (node, onNotice, ...rest) => store.listen(node, (n) => (notices.push(n.type), onNotice(n)), ...rest),
    }));
    const b = await redisNode(prefix);
    const c0 = await raw(a.url); // A owns the session first, so B's claim notifies A
    c0.ws.send(helloFrame(SID, 0, 1));
    await c0.frame(1);
    holdNextClaim = true;
    const c1 = await raw(a.url); // A claims again; Redis answers, the reply is held
    c1.ws.send(helloFrame(SID, 0, 1));
    await until(() => gate !== null);
    const c2 = await raw(b.url); // B takes over meanwhile: A hears "lost" before its own reply
    c2.ws.send(helloFrame(SID, 0, 1));
    await c2.frame(1);
    await until(() => notices.includes('lost'));
    gate!();
    // A attaches with a superseded epoch and lets go at once, instead of holding c1 until its next fenced call.
    expect((await c1.closed).code).toBe(ACK_CLOSE_CODES.sessionTakenOver);
    expect(a.server.sessions.get(SID)).toBeUndefined();
  });

  it.each([
    ['with the takeover notice', false],
    ['with the notice lost (the fence check alone)', true],
  ])('(a) the link heals and A receives the old frames: A does not process them (%s)', async (_name, loseNotice) => {
    const { a, b, relay, onA, undelivered, c2 } = await scenario(loseNotice);
    if (loseNotice) {
      // A still believes it owns the session: it accepts a send, the store refuses it (fenced), and it is reported.
      expect(onA.send('late-accepted')).toBe(true);
      await until(() => undelivered.length === 1);
      expect(undelivered).toEqual([[['late-accepted'], 'taken-over']]);
      expect(onA.state).toBe('lost');
    }
    relay.heal();
    await until(() => onA.state === 'lost');
    // Once A knows, its late sends are refused at once (false): never accepted and lost.
    expect(onA.send('late')).toBe(false);
    expect(c2.frames.some((f) => f.includes('late'))).toBe(false);
    expect(a.received).toEqual(['a']);
    expect(b.received).toEqual(['b']);
  });

  it('(b) the client goes back to A while A still holds its stale copy: A takes the current state from Redis', async () => {
    const { a, b, c2 } = await scenario(true);
    await until(() => c2.frames.includes('{"type":"ack","ack":2}'));
    expect(await b.server.sendTo(SID, 's2')).toBe(true);
    await until(() => c2.frames.includes('2:s2'));
    c2.ws.terminate();
    const c3 = await raw(a.url);
    c3.ws.send(helloFrame(SID, 1, 3)); // saw s1 only
    // B's state: client messages up to 2 processed, s2 still unacknowledged (replayed by A).
    expect(JSON.parse(await c3.frame(1))).toEqual({ type: 'welcome', sid: SID, resumed: true, ack: 2, next: 2 });
    expect(await c3.frame(2)).toBe('2:s2');
    c3.ws.send('3:c');
    await until(() => a.received.length === 2);
    expect(a.received).toEqual(['a', 'c']);
    expect(b.received).toEqual(['b']);
  });
});

describe('Redis down', () => {
  it('without onError: store failures are counted and warned about once, never rethrown (the process lives on)', async () => {
    const prefix = newPrefix();
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const client = await redisClient();
    const server = attachAckServer(wss, { store: redisSessionStore({ client, prefix }), onMessage: () => {} });
    cleanup.push(() => new Promise<void>((resolve) => (server.close(), wss.close(() => resolve()))));
    await server.ready();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    cleanup.push(() => process.off('warning', onWarning));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    const c1 = await raw(url);
    c1.ws.send(helloFrame(SID, 0, 1));
    await c1.frame(1);
    await redis.kill();
    await until(() => !client.isReady);
    c1.ws.send('1:x');
    expect((await c1.closed).code).toBe(1011);
    const c2 = await raw(url);
    c2.ws.send(helloFrame('another-session-000002', 0, 1));
    expect((await c2.closed).code).toBe(1011);
    await until(() => warnings.length > 0);
    await new Promise((r) => setTimeout(r, 20));
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['SOCKETCHART_STORE_FAILED']);
    expect(server.stats.storeFailures).toBeGreaterThanOrEqual(2);
    await redis.restart();
    await until(() => client.isReady, 10_000);
  });

  it('a real client through an outage: it retries on 1011 and, once Redis is back, every message it held gets through', async () => {
    const prefix = newPrefix();
    const processed: string[] = [];
    const a = await redisNode(prefix, { onMessage: (_s, p) => processed.push(String(p)) });
    const conn = createConnection(a.url, { retryWait: () => new Promise((r) => setTimeout(r, 20)), random: () => 0, delivery: atLeastOnce() });
    cleanup.push(() => conn.close());
    const drops: unknown[] = [];
    conn.addEventListener('drop', (e) => drops.push(e));
    await conn.opened();
    for (let i = 0; i < 50; i++) conn.send(`before-${i}`);
    await until(() => processed.length === 50 && conn.bufferedAmount === 0);
    await redis.kill();
    for (let i = 0; i < 50; i++) conn.send(`during-${i}`);
    await until(() => conn.state !== 'open'); // closed with 1011, retrying
    await redis.restart();
    await until(() => processed.length >= 100 && conn.bufferedAmount === 0, 15_000);
    // This Redis kept no data: the session started over and the held messages went into the new one, once each.
    expect(processed).toEqual([...Array.from({ length: 50 }, (_, i) => `before-${i}`), ...Array.from({ length: 50 }, (_, i) => `during-${i}`)]);
    expect(drops).toEqual([]);
  }, 20_000);

  it('an expiry while Redis is down is retried, then ends the session on this node (no session kept forever)', async () => {
    const prefix = newPrefix();
    const clock = new SimulatedClock();
    let session: AckSession | null = null;
    const expired: string[][] = [];
    const a = await redisNode(prefix, {
      clock,
      sessionTtl: 1000,
      onSession: (s) => (session = s),
      onExpire: (_s, undelivered) => expired.push(undelivered.map(String)),
    });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    expect(await session!.sendDurable('never-acked')).toBe(true);
    c.ws.terminate();
    await until(() => a.server.sessions.get(SID)?.connected === false);
    await new Promise((r) => setTimeout(r, 50)); // the release reaches Redis
    await redis.kill();
    await until(() => !a.client.isReady);
    clock.increment(1000); // the expiry: its REMOVE fails
    for (let i = 0; i < 31 && a.server.sessions.has(SID); i++) {
      await new Promise((r) => setTimeout(r, 5));
      clock.increment(1000);
    }
    await until(() => !a.server.sessions.has(SID));
    expect(expired).toEqual([['never-acked']]);
    await redis.restart();
  }, 20_000);

  it('never crashes: attached sockets close with 1011 on their next frame, new sessions are refused with 1011, sends report false; back when Redis is', async () => {
    const prefix = newPrefix();
    let session: AckSession | null = null;
    const a = await redisNode(prefix, { ackEvery: 1, onSession: (s) => (session = s) });
    const c1 = await raw(a.url);
    c1.ws.send(helloFrame(SID, 0, 1));
    c1.ws.send('1:before');
    await until(() => c1.frames.includes('{"type":"ack","ack":1}'));
    await redis.kill();
    await until(() => !a.client.isReady);
    expect(session!.send('during')).toBe(false);
    await expect(a.server.sendTo(SID, 'during')).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
    c1.ws.send('2:during');
    expect(await c1.closed).toMatchObject({ code: 1011 });
    const c2 = await raw(a.url);
    c2.ws.send(helloFrame('another-session-000001', 0, 1));
    expect(await c2.closed).toEqual({ code: 1011, reason: 'session store unavailable' });
    expect(a.received).toEqual(['before']);
    expect(a.errors.length).toBeGreaterThan(0);
    // Redis comes back (empty: this test server keeps no data): new sessions work again.
    await redis.restart();
    await until(() => a.client.isReady, 10_000);
    await a.server.ready(); // its notice subscription dropped with Redis, and is made again
    const c3 = await raw(a.url);
    c3.ws.send(helloFrame(SID, 0, 2));
    expect(JSON.parse(await c3.frame(1))).toMatchObject({ type: 'welcome', resumed: false });
    c3.ws.send('2:after');
    await until(() => a.received.length === 2);
    expect(a.received).toEqual(['before', 'after']);
  });
});

describe('review fixes: nothing cleared or dropped without a report, no endless retry', () => {
  const sessionKeys = (prefix: string) => [`${prefix}{${SID}}:s`, `${prefix}{${SID}}:o`];

  it.each([
    ['its keys expired', false],
    ['its keys expired and another node created a new session under the key', true],
  ])('an attached session the store no longer has (%s) ends as expired: onExpire gets its unacknowledged messages, the socket 1011', async (_name, recreated) => {
    const prefix = newPrefix();
    const clock = new SimulatedClock();
    let session: AckSession | null = null;
    const expired: string[][] = [];
    const undelivered: string[] = [];
    const a = await redisNode(prefix, {
      clock,
      onSession: (s) => (session = s),
      onExpire: (_s, payloads) => expired.push(payloads.map(String)),
      onUndelivered: (_s, payloads) => undelivered.push(...payloads.map(String)),
    });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    expect(await session!.sendDurable('never-acked')).toBe(true);
    await c.frame(2);
    // As when lease renewals failed for longer than the lease (or Redis lost its data).
    await a.client.del(sessionKeys(prefix));
    if (recreated) {
      const b = await redisNode(prefix);
      const other = await raw(b.url);
      other.ws.send(helloFrame(SID, 0, 1));
      expect(JSON.parse(await other.frame(1))).toMatchObject({ resumed: false });
    }
    clock.increment(LEASE_RENEW_MS); // the renewal finds the session gone
    expect(await c.closed).toEqual({ code: 1011, reason: 'session expired in the store' });
    expect(expired).toEqual([['never-acked']]);
    expect(session!.state).toBe('expired');
    expect(a.server.sessions.has(SID)).toBe(false);
    expect(a.server.stats.expired).toBe(1);
    expect(session!.send('late')).toBe(false);
    expect(undelivered).toEqual([]);
  });

  it('a send on its way when the store finds the session gone is reported (ended), and the rest to onExpire', async () => {
    const prefix = newPrefix();
    let session: AckSession | null = null;
    const expired: string[][] = [];
    const undelivered: Array<[string, string]> = [];
    const a = await redisNode(prefix, {
      onSession: (s) => (session = s),
      onExpire: (_s, payloads) => expired.push(payloads.map(String)),
      onUndelivered: (_s, payloads, reason) => undelivered.push(...payloads.map((p): [string, string] => [String(p), reason])),
    });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    expect(await session!.sendDurable('held')).toBe(true);
    await a.client.del(sessionKeys(prefix));
    expect(session!.send('on-its-way')).toBe(true);
    expect((await c.closed).code).toBe(1011);
    await until(() => undelivered.length === 1);
    expect(undelivered).toEqual([['on-its-way', 'ended']]);
    expect(expired).toEqual([['held']]);
  });

  it.each([
    ['its RELEASE failed (Redis unreachable as the socket closed)', 'release'],
    ['its keys were already gone', 'gone'],
  ])('a detached session whose expiry finds %s reports its messages to onExpire', async (_name, how) => {
    const prefix = newPrefix();
    const clock = new SimulatedClock();
    let session: AckSession | null = null;
    const expired: string[][] = [];
    const a = await redisNode(
      prefix,
      { clock, sessionTtl: 1000, onSession: (s) => (session = s), onExpire: (_s, payloads) => expired.push(payloads.map(String)) },
      false,
      (store) => ({
        ...store,
        release: how === 'release' ? () => Promise.reject(new Error('Redis unreachable')) : store.release,
      }),
    );
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    expect(await session!.sendDurable('never-acked')).toBe(true);
    c.ws.terminate();
    await until(() => session!.state === 'detached');
    if (how === 'gone') await a.client.del(sessionKeys(prefix));
    await new Promise((r) => setTimeout(r, 20)); // the release (or its failure) is answered
    clock.increment(1000);
    await until(() => expired.length === 1);
    expect(expired).toEqual([['never-acked']]);
    expect(session!.state).toBe('expired');
    expect(await a.client.exists(sessionKeys(prefix))).toBe(0);
  });

  describe('the message hash evicted and the session state kept (a volatile-* maxmemory policy): no silent skip, no stall', () => {
    const GAP = 'session messages missing in the store';
    const lostReport = (errors: unknown[]) => errors.find((e) => String((e as Error).message).includes('noeviction')) as Error | undefined;

    it('a resume on another node: the session is reported (what is left to onExpire, the lost seqs to onError), removed and closed with 1011; the client starts a new one', async () => {
      const prefix = newPrefix();
      let onA: AckSession | null = null;
      const expired: string[][] = [];
      const a = await redisNode(prefix, { onSession: (s) => (onA = s) });
      const b = await redisNode(prefix, { onExpire: (_s, payloads) => expired.push(payloads.map(String)) });
      const c1 = await raw(a.url);
      c1.ws.send(helloFrame(SID, 0, 1));
      await until(() => onA !== null);
      expect(await onA!.sendDurable('m1')).toBe(true);
      expect(await onA!.sendDurable('m2')).toBe(true);
      await c1.frame(3);
      c1.ws.terminate();
      await until(() => onA!.state === 'detached');
      await a.client.del(`${prefix}{${SID}}:o`); // as Redis' eviction would
      expect(await b.server.sendTo(SID, 'm3')).toBe(true); // stored after it, as seq 3
      const c2 = await raw(b.url);
      c2.ws.send(helloFrame(SID, 0, 1)); // acknowledged nothing
      expect(await Promise.race([c2.closed, c2.frame(1)])).toEqual({ code: 1011, reason: GAP });
      expect(expired).toEqual([['m3']]);
      expect(lostReport(b.errors)).toMatchObject({ code: 'ERR_STORE_DATA_LOST', message: expect.stringMatching(/seq 1-2\b/) });
      expect(b.server.stats.expired).toBe(1);
      expect(await b.client.exists(sessionKeys(prefix))).toBe(0);
      const c3 = await raw(b.url);
      c3.ws.send(helloFrame(SID, 0, 1));
      expect(JSON.parse(await c3.frame(1))).toMatchObject({ type: 'welcome', resumed: false });
    });

    it('while attached: the node that must read a lost seq ends the session instead of stalling, with its own copy of the lost ones reported', async () => {
      const prefix = newPrefix();
      const clock = new SimulatedClock();
      let session: AckSession | null = null;
      const expired: string[][] = [];
      // Deaf to "out" notices: A reads what B stores at its lease renewal, when the clock says so.
      const a = await redisNode(prefix, { clock, onSession: (s) => (session = s), onExpire: (_s, payloads) => expired.push(payloads.map(String)) }, 'out');
      const b = await redisNode(prefix);
      const c = await raw(a.url);
      c.ws.send(helloFrame(SID, 0, 1));
      await until(() => session !== null);
      expect(await session!.sendDurable('a1')).toBe(true); // A holds a copy
      await c.frame(2);
      expect(await b.server.sendTo(SID, 'b2')).toBe(true);
      expect(await b.server.sendTo(SID, 'b3')).toBe(true);
      await a.client.del(`${prefix}{${SID}}:o`);
      expect(await b.server.sendTo(SID, 'b4')).toBe(true);
      clock.increment(LEASE_RENEW_MS); // A learns of seq 4 and reads 2..4
      expect(await Promise.race([c.closed, c.frame(3)])).toEqual({ code: 1011, reason: GAP });
      expect(expired).toEqual([['a1', 'b4']]);
      expect(lostReport(a.errors)?.message).toMatch(/seq 1-3\b/);
      expect(lostReport(a.errors)?.message).toMatch(/2 cannot be reported \(seq 2-3\)/);
      expect(session!.state).toBe('expired');
      expect(a.server.sessions.has(SID)).toBe(false);
      expect(await a.client.exists(sessionKeys(prefix))).toBe(0);
    });

    it('at expiry: the node reports its own copy of the lost messages', async () => {
      const prefix = newPrefix();
      const clock = new SimulatedClock();
      let session: AckSession | null = null;
      const expired: string[][] = [];
      const a = await redisNode(prefix, { clock, sessionTtl: 1000, onSession: (s) => (session = s), onExpire: (_s, payloads) => expired.push(payloads.map(String)) });
      const c = await raw(a.url);
      c.ws.send(helloFrame(SID, 0, 1));
      await until(() => session !== null);
      expect(await session!.sendDurable('a1')).toBe(true);
      c.ws.terminate();
      await until(() => session!.state === 'detached');
      await new Promise((r) => setTimeout(r, 20)); // the release is answered
      await a.client.del(`${prefix}{${SID}}:o`);
      clock.increment(1000);
      await until(() => expired.length === 1);
      expect(expired).toEqual([['a1']]);
      expect(lostReport(a.errors)?.message).toMatch(/seq 1\b/);
      expect(await a.client.exists(sessionKeys(prefix))).toBe(0);
    });
  });

  it('an effect that always fails is retried maxEffectFailures times (counted in Redis, across nodes), then dead-lettered and skipped', async () => {
    const prefix = newPrefix();
    const calls: string[] = [];
    const deadLetters: Array<{ payload: string; key: string; seq: number; code: unknown }> = [];
    const options: Partial<AckServerOptions> = {
      ackEvery: 1,
      onMessage: (_s, payload, message) => {
        calls.push(`${message.key}=${String(payload)}`);
        // A string where the command needs a list: WRONGTYPE, every time.
        if (String(payload) === 'poison') message.commit(['RPUSH', `${prefix}a-string`, 'x']);
        message.commit(['RPUSH', `${prefix}done`, String(payload)]);
      },
      onDeadLetter: (_s, payload, message, error) =>
        deadLetters.push({ payload: String(payload), key: message.key, seq: message.seq, code: (error as { code?: unknown }).code }),
    };
    const a = await redisNode(prefix, options);
    const b = await redisNode(prefix, options);
    await a.client.set(`${prefix}a-string`, 'not a list');
    const attempt = async (url: string, next: number) => {
      const c = await raw(url);
      c.ws.send(helloFrame(SID, 0, next));
      c.ws.send('1:poison');
      c.ws.send('2:fine');
      return c;
    };
    // Attempts 1 and 2 (on A, then B): closed with 1011, the client replays both messages.
    for (const node of [a, b]) {
      const c = await attempt(node.url, 1);
      expect(await c.closed).toEqual({ code: 1011, reason: 'message effects failed' });
      expect(deadLetters).toEqual([]);
    }
    // Attempt 3 (back on A): the message is reported and recorded without its effects.
    const c3 = await attempt(a.url, 1);
    expect((await c3.closed).code).toBe(1011);
    expect(deadLetters).toEqual([{ payload: 'poison', key: `${SID}:1`, seq: 1, code: 'ERR_EFFECT_FAILED' }]);
    // The next socket: seq 1 is processed (a duplicate now), seq 2 goes through.
    const c4 = await attempt(b.url, 1);
    expect(JSON.parse(await c4.frame(1))).toMatchObject({ resumed: true, ack: 1 });
    await until(() => c4.frames.includes('{"type":"ack","ack":2}'));
    expect(calls.filter((call) => call.endsWith('=poison'))).toHaveLength(3);
    expect(await a.client.lRange(`${prefix}done`, 0, -1)).toEqual(['fine']);
    expect(a.server.stats.deadLetters + b.server.stats.deadLetters).toBe(1);
    // Every failed attempt was reported, naming the command.
    const failures = [...a.errors, ...b.errors].filter((e) => String((e as Error).message).includes('WRONGTYPE'));
    expect(failures).toHaveLength(3);
    expect(failures.every((e) => (e as { code?: unknown }).code === 'ERR_EFFECT_FAILED')).toBe(true);
    expect(String((failures[0] as Error).message)).toContain('"RPUSH"');
  });

  it('without onDeadLetter the skipped message goes to onError (ERR_EFFECT_FAILED, naming it)', async () => {
    const prefix = newPrefix();
    const a = await redisNode(prefix, {
      maxEffectFailures: 1,
      onMessage: (_s, _p, message) => message.commit(['NO-SUCH-COMMAND']),
    });
    const c = await raw(a.url);
    c.ws.send(helloFrame(SID, 0, 1));
    c.ws.send('1:x');
    expect((await c.closed).code).toBe(1011);
    await until(() => a.server.stats.deadLetters === 1);
    const report = a.errors.find((e) => String((e as Error).message).includes('recorded as processed without'));
    expect(report).toMatchObject({ code: 'ERR_EFFECT_FAILED', message: expect.stringContaining(`${SID}:1`) });
  });

  it('Redis down when the server starts: subscribing is retried with backoff, reported, and new sessions are refused until it listens', async () => {
    const prefix = newPrefix();
    const clock = new SimulatedClock();
    // A client whose reconnects give up (as node-redis does by default on a socket timeout): connect() rejects.
    const client = createClient({ url: redis.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => new Error('gave up') } });
    client.on('error', () => {});
    await client.connect();
    cleanup.push(() => (client.isOpen ? client.close().catch(() => client.destroy()) : undefined));
    await redis.kill();
    await until(() => !client.isOpen);
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const errors: unknown[] = [];
    const server = attachAckServer(wss, { clock, store: redisSessionStore({ client, prefix }), onMessage: () => {}, onError: (e) => errors.push(e) });
    cleanup.push(() => new Promise<void>((resolve) => (server.close(), [...wss.clients].forEach((ws) => ws.terminate()), wss.close(() => resolve()))));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    let isReady = false;
    const ready = server.ready().then(() => (isReady = true));
    // The subscription failed (its connect() gave up), and that was reported.
    await until(() => errors.some((e) => (e as Error).message === 'gave up'));
    await redis.restart();
    await client.connect();
    // Redis is back, but this node does not hear takeover notices yet: it refuses sessions.
    const early = await raw(url);
    early.ws.send(helloFrame(SID, 0, 1));
    expect(await early.closed).toEqual({ code: 1011, reason: 'session store unavailable' });
    expect(isReady).toBe(false);
    clock.increment(250); // the retry
    await ready;
    const admin = await redisClient();
    expect(await admin.pubSubChannels(`${prefix}node:${server.node}`)).toHaveLength(1);
    const c = await raw(url);
    c.ws.send(helloFrame(SID, 0, 1));
    expect(JSON.parse(await c.frame(1))).toMatchObject({ type: 'welcome', resumed: false });
    // It listens: a takeover elsewhere reaches it at once (no fenced call, no renewal: the clock stands still).
    const b = await redisNode(prefix);
    const c2 = await raw(b.url);
    c2.ws.send(helloFrame(SID, 0, 1));
    expect((await c.closed).code).toBe(ACK_CLOSE_CODES.sessionTakenOver);
  }, 15_000);

  it('the notice subscription drops while the node runs (CLIENT KILL): reported, new sessions refused until it is made again, then what it missed is caught up at once', async () => {
    const prefix = newPrefix();
    const clock = new SimulatedClock();
    let listens = 0;
    let gate: (() => void) | null = null;
    const a = await redisNode(prefix, { clock }, false, (store) => ({
      ...store,
      // The subscription after the drop waits for the test, so that the window without one can be looked at.
      listen: async (...args: Parameters<SharedSessionStore['listen']>) => {
        if (++listens === 2) await new Promise<void>((release) => (gate = release));
        return store.listen(...args);
      },
    }));
    const c1 = await raw(a.url);
    c1.ws.send(helloFrame(SID, 0, 1));
    await c1.frame(1);
    const admin = await redisClient();
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']); // A's subscriber: the only one now
    await until(() => a.errors.some((e) => /closed unexpectedly/i.test(String((e as Error).message))));
    // Deaf: no new sessions (it would not hear a takeover), and ready() waits again.
    let isReady = false;
    const ready = a.server.ready().then(() => (isReady = true));
    const refused = await raw(a.url);
    refused.ws.send(helloFrame('another-session-000003', 0, 1));
    expect(await Promise.race([refused.closed, refused.frame(1)])).toEqual({ code: 1011, reason: 'session store unavailable' });
    // A takeover while A is deaf: its "lost" notice is gone.
    const b = await redisNode(prefix);
    const c2 = await raw(b.url);
    c2.ws.send(helloFrame(SID, 0, 1));
    expect(JSON.parse(await c2.frame(1))).toMatchObject({ resumed: true });
    expect(listens).toBe(2);
    expect(isReady).toBe(false);
    gate!();
    await ready;
    // Listening again, A renews its leases at once (the clock stands still): the renewal finds the takeover.
    expect((await c1.closed).code).toBe(ACK_CLOSE_CODES.sessionTakenOver);
    expect(await admin.pubSubChannels(`${prefix}node:${a.server.node}`)).toHaveLength(1);
    const c3 = await raw(a.url);
    c3.ws.send(helloFrame('another-session-000003', 0, 1));
    expect(JSON.parse(await c3.frame(1))).toMatchObject({ type: 'welcome', resumed: false });
  });

  it('a failed subscription is retried with growing delays, and server.close() stops the retries', async () => {
    const prefix = newPrefix();
    const clock = new SimulatedClock();
    let attempts = 0;
    const wss = new WebSocketServer({ noServer: true });
    const client = await redisClient();
    const store = redisSessionStore({ client, prefix });
    const errors: unknown[] = [];
    const server = attachAckServer(wss, {
      clock,
      store: { ...store, listen: () => (attempts++, Promise.reject(new Error('subscribe failed'))) },
      onMessage: () => {},
      onError: (e) => errors.push(e),
    });
    const settle = () => new Promise((r) => setTimeout(r, 5));
    await settle();
    expect(attempts).toBe(1);
    for (const [delay, expected] of [[249, 1], [1, 2], [499, 2], [1, 3], [1000, 4], [2000, 5], [3999, 5], [1, 6], [5000, 7]] as const) {
      clock.increment(delay);
      await settle();
      expect(attempts).toBe(expected);
    }
    expect(errors).toHaveLength(7);
    const pending = server.ready();
    server.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
    await expect(server.ready()).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
    clock.increment(60_000);
    await settle();
    expect(attempts).toBe(7);
    wss.close();
  });
});

describe('async onMessage: same guarantees on both stores', () => {
  async function memoryNode(options: Partial<AckServerOptions>) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const errors: unknown[] = [];
    const server = attachAckServer(wss, { onMessage: () => {}, onError: (e) => errors.push(e), ...options });
    cleanup.push(() => new Promise<void>((resolve) => (server.close(), [...wss.clients].forEach((ws) => ws.terminate()), wss.close(() => resolve()))));
    return { server, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, errors };
  }

  it.each(['memory', 'redis'] as const)(
    '%s: the next message waits for the promise; the mark (and the ack) and commit() effects follow it; a rejection is reported, its effects discarded',
    async (kind) => {
      const prefix = newPrefix();
      const started: string[] = [];
      const gates = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
      const committed: string[] = [];
      const onMessage: AckServerOptions['onMessage'] = async (_s, payload, message) => {
        started.push(String(payload));
        await new Promise<void>((resolve, reject) => gates.set(String(payload), { resolve, reject }));
        // After an await: still inside onMessage, so commit() works.
        message.commit(kind === 'memory' ? () => committed.push(String(payload)) : ['RPUSH', `${prefix}committed`, String(payload)]);
      };
      const node = kind === 'memory' ? await memoryNode({ ackEvery: 1, onMessage }) : await redisNode(prefix, { ackEvery: 1, onMessage });
      const readCommitted = async () => (kind === 'memory' ? committed : await (node as Awaited<ReturnType<typeof redisNode>>).client.lRange(`${prefix}committed`, 0, -1));
      const c = await raw(node.url);
      c.ws.send(helloFrame(SID, 0, 1));
      await c.frame(1);
      c.ws.send('1:one');
      c.ws.send('2:two');
      c.ws.send('3:three');
      await until(() => started.length === 1);
      await new Promise((r) => setTimeout(r, 30));
      expect(started).toEqual(['one']); // in order: two waits
      expect(c.frames.some((f) => f.startsWith('{"type":"ack"'))).toBe(false); // not processed until it settles
      gates.get('one')!.resolve();
      await until(() => c.frames.includes('{"type":"ack","ack":1}') && started.length === 2);
      expect(await readCommitted()).toEqual(['one']);
      gates.get('two')!.reject(new Error('handler failed'));
      await until(() => c.frames.includes('{"type":"ack","ack":2}') && started.length === 3);
      expect(node.errors).toEqual([expect.objectContaining({ message: 'handler failed' })]);
      gates.get('three')!.resolve();
      await until(() => c.frames.includes('{"type":"ack","ack":3}'));
      expect(await readCommitted()).toEqual(['one', 'three']); // two's effect discarded
      // A replay of what was processed is skipped.
      c.ws.send('3:three');
      c.ws.send('4:four');
      await until(() => started.length === 4);
      expect(started).toEqual(['one', 'two', 'three', 'four']);
      gates.get('four')!.resolve();
      await until(() => c.frames.includes('{"type":"ack","ack":4}'));
    },
  );

  it('memory: server.ready() resolves at once', async () => {
    const node = await memoryNode({});
    await node.server.ready();
  });

  it('memory: a commit() effect that throws is reported as ERR_EFFECT_FAILED (its error as the cause); the message counts as processed', async () => {
    const thrown = new Error('disk full');
    const ran: string[] = [];
    const node = await memoryNode({
      ackEvery: 1,
      onMessage: (_s, payload, message) => {
        message.commit(() => ran.push(`first:${String(payload)}`));
        message.commit(() => {
          throw thrown;
        });
        message.commit(() => ran.push(`after:${String(payload)}`));
      },
    });
    const c = await raw(node.url);
    c.ws.send(helloFrame(SID, 0, 1));
    c.ws.send('1:x');
    await until(() => c.frames.includes('{"type":"ack","ack":1}'));
    expect(node.errors).toEqual([expect.objectContaining({ code: 'ERR_EFFECT_FAILED', cause: thrown, message: expect.stringContaining(`${SID}:1`) })]);
    expect(ran).toEqual(['first:x']); // the effects after the failing one do not run
  });

  it.each(['memory', 'redis'] as const)('%s: a message whose async onMessage is still running when the client resumes is processed once', async (kind) => {
    const prefix = newPrefix();
    const started: string[] = [];
    let release: (() => void) | null = null;
    const onMessage: AckServerOptions['onMessage'] = async (_s, payload) => {
      started.push(String(payload));
      if (String(payload) === 'slow') await new Promise<void>((resolve) => (release = resolve));
    };
    const node = kind === 'memory' ? await memoryNode({ ackEvery: 1, onMessage }) : await redisNode(prefix, { ackEvery: 1, onMessage });
    const c1 = await raw(node.url);
    c1.ws.send(helloFrame(SID, 0, 1));
    c1.ws.send('1:slow');
    await until(() => release !== null);
    c1.ws.terminate();
    const c2 = await raw(node.url);
    c2.ws.send(helloFrame(SID, 0, 1));
    c2.ws.send('1:slow');
    c2.ws.send('2:next');
    // The resume reaches the node while the handler runs (with Redis, the claim waits for it to settle).
    await new Promise((r) => setTimeout(r, 50));
    release!();
    expect(JSON.parse(await c2.frame(1))).toMatchObject({ type: 'welcome', resumed: true });
    await until(() => c2.frames.includes('{"type":"ack","ack":2}'), 5000);
    expect(started).toEqual(['slow', 'next']);
  });
});
