import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { createConnection } from '../../src/node.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';
import { nextEvent, reachState, recordEvents } from '../support/events.js';
import { createSilentServer } from '../support/silentServer.js';

// Retries happen at once (retryWait), so the real-socket tests never wait out a backoff.
const fast = { retryWait: () => Promise.resolve(), random: () => 0 } as const;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function server(options?: Parameters<typeof createTestServer>[0]): Promise<TestServer> {
  const s = await createTestServer(options);
  cleanup.push(() => s.close());
  return s;
}

function connect(url: string | (() => string), options: Parameters<typeof createConnection>[1] = {}): Connection {
  const conn = createConnection(url, { ...fast, ...options });
  cleanup.push(() => conn.close());
  return conn;
}

describe('over a real ws server on loopback', () => {
  it('echoes text', async () => {
    const s = await server();
    const conn = connect(s.url());
    await conn.opened();
    conn.send('hello');
    const reply = await nextEvent(conn, 'message');
    expect(reply.data).toBe('hello');
    expect(reply.target).toBe(conn);
    expect(conn.url).toBe(s.url());
  });

  it('heals after the server drops the connection and delivers queued messages in order', async () => {
    const s = await server();
    const conn = connect(s.url());
    await conn.opened();
    const log = recordEvents(conn, ['statechange', 'close', 'open']);
    const closed = nextEvent(conn, 'close');
    s.dropAll();
    const close = await closed;
    expect(close.code).toBe(1006);
    expect(close.wasClean).toBe(false);
    // Reconnecting now: these wait in the queue.
    expect(conn.readyState).toBe(conn.CONNECTING);
    for (const n of [1, 2, 3]) conn.send(`q${n}`);
    await nextEvent(conn, 'open');
    conn.send('after');
    const got: string[] = [];
    await new Promise<void>((resolve) => {
      conn.onmessage = (e) => {
        got.push(String(e.data));
        if (got.length === 4) resolve();
      };
    });
    expect(got).toEqual(['q1', 'q2', 'q3', 'after']);
    expect(log).toEqual([
      'statechange:open->reconnecting.backoff',
      'close:1006',
      'statechange:reconnecting.backoff->connecting.opening',
      'statechange:connecting.opening->open',
      'open',
    ]);
  });

  it('retries a handshake refused with HTTP 503, then opens', async () => {
    const s = await server();
    s.refuseNext(503, 2);
    const conn = connect(s.url());
    const errors: string[] = [];
    conn.addEventListener('error', (e) => errors.push(e.message));
    await conn.opened();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/503/);
    expect(s.accepted).toBe(1);
  });

  it('gives up once maxRetries retries are used up when the server keeps refusing', async () => {
    const s = await server();
    s.refuseNext(503, 10);
    const conn = connect(s.url(), { backoff: { maxRetries: 2 } });
    const log = recordEvents(conn, ['giveup', 'close']);
    await reachState(conn, 'closed');
    expect(conn.closedBy?.kind).toBe('giveup');
    expect(log).toEqual(['giveup', 'close:1006']);
    await expect(conn.opened()).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
  });

  it.each([1001, 1011, 1012, 4000])('reconnects after the server closes with %i', async (code) => {
    const s = await server();
    const conn = connect(s.url());
    await conn.opened();
    const close = nextEvent(conn, 'close');
    s.closeAll(code, 'bye');
    expect(await close).toMatchObject({ code, reason: 'bye', wasClean: true });
    await nextEvent(conn, 'open');
    expect(s.accepted).toBe(2);
  });

  it('waits longer after 1013 Try Again Later', async () => {
    const s = await server();
    const conn = createConnection(s.url(), { random: () => 0 });
    cleanup.push(() => conn.close());
    await conn.opened();
    const retry = nextEvent(conn, 'reconnecting');
    s.closeAll(1013, 'busy');
    expect((await retry).delay).toBeGreaterThanOrEqual(2500);
  });

  it.each([1002, 1003, 1007, 1008, 1009, 1010])('stops for good after fatal close code %i', async (code) => {
    const s = await server();
    const conn = connect(s.url());
    await conn.opened();
    s.closeAll(code);
    await reachState(conn, 'closed');
    expect(conn.closedBy).toMatchObject({ kind: 'fatal', code });
    expect(s.accepted).toBe(1);
  });

  it('lets a classifier make an application code fatal', async () => {
    const s = await server();
    const conn = connect(s.url(), { closeCodes: (code) => (code === 4401 ? 'fatal' : undefined) });
    await conn.opened();
    s.closeAll(4401, 'session expired');
    await reachState(conn, 'closed');
    expect(conn.closedBy).toMatchObject({ kind: 'fatal', code: 4401, reason: 'session expired' });
  });

  it('closes with a clean handshake', async () => {
    const s = await server();
    const conn = connect(s.url());
    await conn.opened();
    const closing = nextEvent(conn, 'close');
    conn.close(1000, 'bye');
    expect(conn.readyState).toBe(conn.CLOSING);
    const close = await closing;
    expect(close).toMatchObject({ code: 1000, reason: 'bye', wasClean: true });
    expect(conn.state).toBe('closed');
    expect(conn.closedBy?.kind).toBe('user');
  });

  it('terminates after closeTimeout when the server never answers the close frame', async () => {
    const silent = await createSilentServer('handshake-then-silent');
    cleanup.push(() => silent.close());
    const clock = new SimulatedClock();
    const conn = connect(silent.url, { clock });
    await conn.opened();
    conn.close();
    expect(conn.state).toBe('closing');
    clock.increment(5000);
    expect(conn.state).toBe('closed');
    expect(conn.closedBy).toMatchObject({ kind: 'user', wasClean: false });
  });

  it('abandons a handshake that hangs after connectTimeout', async () => {
    const silent = await createSilentServer('no-handshake');
    cleanup.push(() => silent.close());
    const clock = new SimulatedClock();
    const conn = connect(silent.url, { clock, retryWait: undefined });
    await new Promise<void>((resolve) => {
      const poll = () => (silent.sockets.size > 0 ? resolve() : setImmediate(poll));
      poll();
    });
    clock.increment(10_000);
    expect(conn.state).toBe('reconnecting.backoff');
  });

  it('round-trips binary data, and keeps binaryType across a reconnect', async () => {
    const s = await server();
    const conn = connect(s.url(), { binaryType: 'arraybuffer' });
    await conn.opened();
    conn.send(new Uint8Array([1, 2, 3, 255]));
    const first = await nextEvent(conn, 'message');
    expect(first.data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(first.data as ArrayBuffer)]).toEqual([1, 2, 3, 255]);

    conn.binaryType = 'nodebuffer';
    s.dropAll();
    await nextEvent(conn, 'open');
    expect(conn.binaryType).toBe('nodebuffer');
    conn.send(new Uint8Array([9]).buffer);
    const second = await nextEvent(conn, 'message');
    expect(Buffer.isBuffer(second.data)).toBe(true);

    conn.binaryType = 'blob';
    conn.send(new Blob([new Uint8Array([7, 8])]));
    const third = await nextEvent(conn, 'message');
    expect(third.data).toBeInstanceOf(Blob);
    expect([...new Uint8Array(await (third.data as Blob).arrayBuffer())]).toEqual([7, 8]);
  });

  it('calls the URL function before every attempt and sends per-attempt headers', async () => {
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    const s = await server({ onConnection: (_socket, req) => seen.push({ url: req.url ?? '', auth: req.headers.authorization }) });
    let n = 0;
    const conn = connect(() => s.url(`/?token=t${++n}`), { headers: async () => ({ Authorization: `Bearer h${n}` }) });
    await conn.opened();
    s.dropAll();
    await nextEvent(conn, 'open');
    expect(seen).toEqual([
      { url: '/?token=t1', auth: 'Bearer h1' },
      { url: '/?token=t2', auth: 'Bearer h2' },
    ]);
  });

  it('negotiates a subprotocol', async () => {
    const s = await server({ handleProtocols: (p) => (p.has('v2') ? 'v2' : false) });
    const conn = connect(s.url(), { protocols: ['v1', 'v2'] });
    await conn.opened();
    expect(conn.protocol).toBe('v2');
  });

  it('reconnect() after close() starts a new session', async () => {
    const s = await server();
    const conn = connect(s.url());
    await conn.opened();
    conn.close();
    await reachState(conn, 'closed');
    conn.reconnect();
    await conn.opened();
    expect(s.accepted).toBe(2);
  });

  it('leaves nothing running after close(): the process exits by itself', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/exitsAfterClose.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 8000);
    const [code, signal] = await once(child, 'exit');
    clearTimeout(killer);
    expect({ code, signal, out: out.trim() }).toEqual({ code: 0, signal: null, out: 'closed:closed' });
  });
});
