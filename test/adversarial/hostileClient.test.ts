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
import { type AckServer, type AckServerOptions, type SharedSessionStore, attachAckServer } from '../../src/server/index.js';
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
async function node(options: Partial<AckServerOptions> = {}) {
  const prefix = `hostile${process.pid}-${++prefixes}:`;
  const client = await redisClient();
  const store = redisSessionStore({ client, prefix });
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
