import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnection } from '../../src/node.js';
import { createTcpRelay, createTestServer } from '../../src/testing/index.js';
import { nextEvent, reachState } from '../support/events.js';
import { chunking } from '../../src/plugins/chunking.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function authServer(validTokens: Set<string>) {
  const server = await createTestServer({
    onMessage(socket, data) {
      const text = data.toString();
      const msg = JSON.parse(text) as { type: string; token?: string };
      if (msg.type === 'auth') socket.send(JSON.stringify({ type: validTokens.has(msg.token ?? '') ? 'auth_ok' : 'auth_error' }));
      else socket.send(text);
    },
  });
  cleanup.push(() => server.close());
  return server;
}

describe('auth against a real server', () => {
  it('opens only after the ack, with app messages sent after the auth message', async () => {
    const server = await authServer(new Set(['good']));
    const conn = createConnection(server.url(), { auth: { token: async () => 'good' }, retryWait: () => Promise.resolve() });
    cleanup.push(() => conn.close());
    conn.send(JSON.stringify({ type: 'hello' }));
    await reachState(conn, 'connecting.authenticating');
    const reply = await nextEvent(conn, 'message');
    expect(reply.data).toBe('{"type":"hello"}');
    expect(server.received[0]).toBe('{"type":"auth","token":"good"}');
  });

  it('a refused token is refreshed once, then the session ends with closedBy auth', async () => {
    const server = await authServer(new Set(['fresh']));
    const tokens = ['stale', 'fresh'];
    const conn = createConnection(server.url(), { auth: { token: () => tokens.shift() ?? 'none' } });
    cleanup.push(() => conn.close());
    await conn.opened();
    expect(server.accepted).toBe(2);

    const bad = await authServer(new Set());
    const refused = createConnection(bad.url(), { auth: { token: () => 'nope' } });
    cleanup.push(() => refused.close());
    await reachState(refused, 'closed');
    expect(refused.closedBy?.kind).toBe('auth');
    expect(bad.accepted).toBe(2);
  });
});

describe('heartbeat against a blackhole', () => {
  it('detects a blackholed connection with protocol pings (no server cooperation) and reconnects', async () => {
    const server = await createTestServer();
    cleanup.push(() => server.close());
    const relay = await createTcpRelay(server.port);
    cleanup.push(() => relay.close());
    const clock = new SimulatedClock();
    const conn = createConnection(relay.url(), { clock, heartbeat: { interval: 10_000, timeout: 5_000 }, retryWait: () => Promise.resolve() });
    cleanup.push(() => conn.close());
    await conn.opened();

    // Healthy: the ping gets its pong from the real server.
    const pong = waitForPong(conn);
    clock.increment(10_000);
    await pong;
    clock.increment(5_000);
    expect(conn.state).toBe('open');
    expect(conn.rtt).not.toBeNull();

    // Blackholed: TCP stays up, nothing comes back.
    relay.blackhole(true);
    clock.increment(10_000);
    await new Promise((resolve) => setTimeout(resolve, 20)); // a real pong would arrive within this on loopback
    const lost = nextEvent(conn, 'close');
    clock.increment(5_000);
    expect((await lost).reason).toBe('Heartbeat timeout');
    expect(relay.connections).toBe(1); // the dead connection still looks up at the TCP level
    relay.blackhole(false);
    await nextEvent(conn, 'open');
  });
});

/** Resolves when a heartbeat probe is answered: the region goes from `probing` back to `resting`. */
describe('chunking over a real echo server', () => {
  it('splits large messages into frames within chunkSize and reassembles the echoes', async () => {
    const frameSizes: number[] = [];
    const server = await createTestServer({
      onMessage: (socket, data, isBinary) => {
        frameSizes.push((data as Buffer).length);
        socket.send(data, { binary: isBinary });
      },
    });
    cleanup.push(() => server.close());
    const conn = createConnection(server.url(), { chunking: chunking({ chunkSize: 16_384 }), binaryType: 'arraybuffer' });
    cleanup.push(() => conn.close());
    await conn.opened();
    const text = 'é'.repeat(100_000);
    const binary = new Uint8Array(50_000).map((_, i) => i % 251);
    const got: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      conn.onmessage = (e) => {
        got.push(e.data);
        if (got.length === 2) resolve();
      };
    });
    conn.send(text);
    conn.send(binary);
    await done;
    expect(got[0]).toBe(text);
    expect(new Uint8Array(got[1] as ArrayBuffer)).toEqual(binary);
    expect(frameSizes.length).toBeGreaterThan(15);
    expect(Math.max(...frameSizes)).toBeLessThanOrEqual(16_384);
  });
});

describe('backpressure against a slow reader', () => {
  it('holds sends while the socket buffer is above the high-water mark, then drains them in order', async () => {
    let serverSocket: import('ws').WebSocket | undefined;
    const received: string[] = [];
    const server = await createTestServer({
      onConnection: (socket) => (serverSocket = socket),
      onMessage: (_socket, data) => received.push(data.toString().slice(0, 8)),
    });
    cleanup.push(() => server.close());
    const conn = createConnection(server.url(), { flow: { highWaterMark: 256 * 1024 } });
    cleanup.push(() => conn.close());
    await conn.opened();
    // Stop reading on the server: the client's kernel and ws buffers fill up.
    const raw = (serverSocket as unknown as { _socket: import('node:net').Socket })._socket;
    raw.pause();
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    while (conn.metrics.queueLength === 0 && sent < 2000) conn.send(`${String(sent++).padStart(8, '0')}${chunk}`);
    expect(conn.metrics.queueLength).toBeGreaterThan(0);
    const queuedAt = sent;
    for (let i = 0; i < 5; i++) conn.send(`${String(sent++).padStart(8, '0')}${chunk}`);
    expect(conn.metrics.queueLength).toBe(6);
    const drained = nextEvent(conn, 'drain');
    raw.resume();
    await drained;
    await new Promise<void>((resolve) => {
      const poll = () => (received.length === sent ? resolve() : setTimeout(poll, 5));
      poll();
    });
    expect(received).toEqual(Array.from({ length: sent }, (_, i) => String(i).padStart(8, '0')));
    expect(queuedAt).toBeGreaterThan(1);
  });
});

function waitForPong(conn: ReturnType<typeof createConnection>): Promise<void> {
  return new Promise((resolve) => {
    let probing = false;
    const sub = conn.actor.subscribe((snapshot) => {
      if (snapshot.matches({ attempt: { open: { heartbeat: 'probing' } } })) probing = true;
      else if (probing && snapshot.matches({ attempt: { open: { heartbeat: 'resting' } } })) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
}
