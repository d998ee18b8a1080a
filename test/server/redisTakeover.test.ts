/**
 * A hello that takes over a session held on the same node, and hangs up before its claim is answered. The claim
 * succeeds in Redis (a new epoch, this node the owner) with no socket to attach, and Redis publishes no "lost"
 * notice to the node that claims. PROTOCOL.md "Running several server nodes" (Split brain; the CLAIM and RELEASE
 * rows) and the 4408 row of the close codes table.
 *
 * A real redis-server on a free port (test/server/redisServer.ts), one node, raw protocol clients. The hang-up is
 * made certain, not raced: the store's claim answer is held until the server has seen the new socket close. Time is a
 * SimulatedClock. Nothing sleeps: every wait is for an event (a frame, a close, a store call).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { SimulatedClock } from 'xstate';
import WebSocket, { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACK_PROTOCOL } from '../../src/delivery/index.js';
import { ACK_CLOSE_CODES, helloFrame } from '../../src/delivery/protocol.js';
import { type AckServerOptions, type AckSession, type SharedSessionStore, attachAckServer } from '../../src/server/index.js';
import { redisSessionStore } from '../../src/server/redis.js';
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
const SID = 'takeover-session-0000001';
const TTL = 60_000;

/** Resolves values in the order they are pushed, to whoever asks next. */
class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiting: Array<(item: T) => void> = [];
  push(item: T): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }
  next(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

/**
 * Redis' store, with its claim answers held while `holdClaims` is set (each held one announces itself on `held`
 * and waits for the function given there), REMOVE calls held before they reach Redis while `holdRemoves` is set
 * (announced on `removing`), and every RELEASE and REMOVE announced once Redis answered it.
 */
function watchedStore(store: SharedSessionStore) {
  const held = new Inbox<() => void>();
  const released = new Inbox<unknown>();
  const removed = new Inbox<unknown>();
  const removing = new Inbox<() => void>();
  const control = { holdClaims: false, holdRemoves: false };
  const watched: SharedSessionStore = {
    ...store,
    claim: async (...args) => {
      const result = await store.claim(...args);
      if (control.holdClaims) await new Promise<void>((resolve) => held.push(resolve));
      return result;
    },
    release: async (...args) => {
      const result = await store.release(...args);
      released.push(result);
      return result;
    },
    remove: async (...args) => {
      if (control.holdRemoves) await new Promise<void>((resolve) => removing.push(resolve));
      const result = await store.remove(...args);
      removed.push(result);
      return result;
    },
  };
  return { watched, held, released, removed, removing, control };
}

async function node(options: Partial<AckServerOptions>, prefix = `tk${process.pid}-${++prefixCount}:`) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const client = createClient({ url: redis.url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  cleanup.push(() => (client.isOpen ? client.close().catch(() => client.destroy()) : undefined));
  const store = watchedStore(redisSessionStore({ client, prefix }));
  const sockets = new Inbox<ServerSocket>();
  wss.on('connection', (ws) => sockets.push(ws));
  const sessions = new Inbox<AckSession>();
  const errors: unknown[] = [];
  const server = attachAckServer(wss, {
    store: store.watched,
    sessionTtl: TTL,
    onMessage: () => {},
    onSession: (session) => sessions.push(session),
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
  await server.ready();
  return { server, store, sockets, sessions, errors, prefix, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/` };
}

/** A protocol client by hand: `frames.next()` is the next frame it received. */
async function raw(url: string) {
  const ws = new WebSocket(url, [ACK_PROTOCOL]);
  const frames = new Inbox<string>();
  ws.on('message', (data) => frames.push(String(data)));
  ws.on('error', () => {});
  cleanup.push(() => ws.terminate());
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await once(ws, 'open');
  return { ws, frames, closed };
}

type Node = Awaited<ReturnType<typeof node>>;

/** A hello for SID on `n` whose socket is gone (the server saw it close) before Redis' answer to its claim is used. */
async function helloAndHangUp(n: Node): Promise<void> {
  n.store.control.holdClaims = true;
  const b = await raw(n.url);
  const serverSide = await n.sockets.next();
  b.ws.send(helloFrame(SID, 0, 1));
  const answer = await n.store.held.next(); // Redis claimed the session for B: a new epoch, this node its owner
  n.store.control.holdClaims = false;
  b.ws.terminate();
  await once(serverSide, 'close');
  answer();
}

describe('a hello that takes over a session on the same node, then hangs up [PROTOCOL.md: Running several server nodes]', () => {
  it('the socket attached here under the older epoch is closed at once with 4408, and the session resumes with nothing lost', async () => {
    const n = await node({ clock: new SimulatedClock() });
    const a = await raw(n.url);
    await n.sockets.next();
    a.ws.send(helloFrame(SID, 0, 1));
    expect(JSON.parse(await a.frames.next())).toMatchObject({ type: 'welcome', resumed: false });
    const session = await n.sessions.next();
    expect(await session.sendDurable('m1')).toBe(true);
    expect(await a.frames.next()).toBe('1:m1');
    const refusedBefore = n.server.stats.refused;

    await helloAndHangUp(n);
    // The claim's answer was used: the session was released in Redis for its sessionTtl.
    expect(await n.store.released.next()).not.toBe('stale');
    expect(n.server.stats.refused).toBe(refusedBefore + 1);
    expect(await a.closed).toEqual({ code: ACK_CLOSE_CODES.sessionTakenOver, reason: 'session resumed on another socket' });
    expect(n.server.sessions.get(SID)?.connected).toBe(false);

    // Whoever holds the sid resumes it, here, with what A never acknowledged replayed.
    const c = await raw(n.url);
    c.ws.send(helloFrame(SID, 0, 1));
    expect(JSON.parse(await c.frames.next())).toMatchObject({ type: 'welcome', resumed: true, ack: 0, next: 1 });
    expect(await c.frames.next()).toBe('1:m1');
    expect(n.errors).toEqual([]);
  });

  it('a session detached here takes the claim\'s epoch: its expiry is reported (onExpire), not refused as stale and dropped', async () => {
    const clock = new SimulatedClock();
    const expired: string[][] = [];
    const n = await node({ clock, onExpire: (_s, undelivered) => expired.push(undelivered.map(String)) });
    const a = await raw(n.url);
    await n.sockets.next();
    a.ws.send(helloFrame(SID, 0, 1));
    await a.frames.next();
    const session = await n.sessions.next();
    expect(await session.sendDurable('m1')).toBe(true);
    expect(await a.frames.next()).toBe('1:m1');
    a.ws.terminate();
    await n.store.released.next(); // A's socket closed: the session is detached here, expiring in sessionTtl

    await helloAndHangUp(n);
    expect(await n.store.released.next()).not.toBe('stale');
    clock.increment(TTL);
    expect(await n.store.removed.next()).not.toBe('stale');
    // The expiry's report follows Redis' answer within the same turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    expect(expired).toEqual([['m1']]);
    expect(n.server.sessions.get(SID)).toBeUndefined();
    expect(n.errors).toEqual([]);
  });

  it('an expiry whose REMOVE reaches Redis after such a claim is refused as stale, and the session expires again with the claim\'s epoch (reported)', async () => {
    const clock = new SimulatedClock();
    const expired: string[][] = [];
    const n = await node({ clock, onExpire: (_s, undelivered) => expired.push(undelivered.map(String)) });
    const a = await raw(n.url);
    await n.sockets.next();
    a.ws.send(helloFrame(SID, 0, 1));
    await a.frames.next();
    const session = await n.sessions.next();
    expect(await session.sendDurable('m1')).toBe(true);
    expect(await a.frames.next()).toBe('1:m1');
    a.ws.terminate();
    await n.store.released.next();
    n.store.control.holdRemoves = true;
    clock.increment(TTL); // the expiry starts: its REMOVE (with the old epoch) waits before Redis
    const removeNow = await n.store.removing.next();
    n.store.control.holdRemoves = false;

    await helloAndHangUp(n);
    expect(await n.store.released.next()).not.toBe('stale');
    removeNow();
    expect(await n.store.removed.next()).toBe('stale');
    await new Promise((resolve) => setImmediate(resolve));
    expect(expired).toEqual([]);
    expect(n.server.sessions.get(SID)?.connected).toBe(false); // still held here, not dropped as taken over
    clock.increment(TTL);
    expect(await n.store.removed.next()).not.toBe('stale');
    await new Promise((resolve) => setImmediate(resolve));
    expect(expired).toEqual([['m1']]);
  });

  it('a session another node held: that node\'s socket gets 4408 by the "lost" notice, and this node holds the session detached and reports its expiry', async () => {
    const clock = new SimulatedClock();
    const expired: string[][] = [];
    const m = await node({});
    const n = await node({ clock, onExpire: (_s, undelivered) => expired.push(undelivered.map(String)) }, m.prefix);
    const a = await raw(m.url);
    await m.sockets.next();
    a.ws.send(helloFrame(SID, 0, 1));
    await a.frames.next();
    const session = await m.sessions.next();
    expect(await session.sendDurable('m1')).toBe(true);
    expect(await a.frames.next()).toBe('1:m1');

    await helloAndHangUp(n);
    expect(await n.store.released.next()).not.toBe('stale');
    expect(await a.closed).toEqual({ code: ACK_CLOSE_CODES.sessionTakenOver, reason: 'session resumed on another node' });
    expect(m.server.stats.refused).toBe(1);
    expect(n.server.sessions.get(SID)?.connected).toBe(false);
    clock.increment(TTL);
    expect(await n.store.removed.next()).not.toBe('stale');
    await new Promise((resolve) => setImmediate(resolve));
    expect(expired).toEqual([['m1']]);
  });
});

describe('stats.refused counts each socket the shared-store server closes once [AckServerStats.refused]', () => {
  it('a socket displaced by a resume on another socket of the same node', async () => {
    const n = await node({});
    const a = await raw(n.url);
    a.ws.send(helloFrame(SID, 0, 1));
    await a.frames.next();
    const c = await raw(n.url);
    c.ws.send(helloFrame(SID, 0, 1));
    expect(JSON.parse(await c.frames.next())).toMatchObject({ type: 'welcome', resumed: true });
    expect(await a.closed).toEqual({ code: ACK_CLOSE_CODES.sessionTakenOver, reason: 'session resumed on another socket' });
    expect(n.server.stats.refused).toBe(1);
  });

  it('a socket closed for a sequence gap', async () => {
    const n = await node({});
    const a = await raw(n.url);
    a.ws.send(helloFrame(SID, 0, 1));
    await a.frames.next();
    a.ws.send('2:skips-1');
    expect((await a.closed).code).toBe(ACK_CLOSE_CODES.sequenceGap);
    expect(n.server.stats.refused).toBe(1);
  });
});
