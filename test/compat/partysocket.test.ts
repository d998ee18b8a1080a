/**
 * partysocket's ReconnectingWebSocket tests (partykit/partykit and cloudflare/partykit, packages/partysocket:
 * src/tests/reconnecting.test.ts, edge-cases.test.ts, error-handling.test.ts, integration.test.ts), ported to
 * socketchart's API. What partysocket's suite shares with reconnecting-websocket's is in
 * reconnecting-websocket.test.ts; this file covers what partysocket adds: protocol providers, the browser
 * `WebSocket` (Blob messages by default), close code and reason passed through, reconnect() after the retries ran
 * out, the edge cases of its queue and getters, its error handling, and its integration scenarios. The
 * `PartySocket` class itself (host/room URLs, ids, fetch) has no counterpart here.
 * Options map as in reconnecting-websocket.test.ts. Where we deliberately differ, the test asserts our documented
 * behaviour and one `DIFFERS:` line says why. Real `ws` servers on 127.0.0.1, no sleeps.
 */
import { WebSocket as WsWebSocket } from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Connection, backoffDelay, createBrowserTransport, createConnection, logTransitions } from '../../src/index.js';
import { DEFAULTS, type ConnectionOptions } from '../../src/options.js';
import { type CompatServer, closedState, next, refusedUrl, startServer, text } from './support.js';

const now = () => Promise.resolve();

/** What partysocket's tests run on: a WHATWG WebSocket (here ws's, through the browser transport). */
const browser = createBrowserTransport(WsWebSocket as never);

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
  vi.restoreAllMocks();
});

async function server(options?: Parameters<typeof startServer>[0]): Promise<CompatServer> {
  const s = await startServer(options);
  cleanup.push(() => s.close());
  return s;
}

function connect(url: string | (() => string | Promise<string>), options: ConnectionOptions<unknown, unknown> = {}): Connection {
  const conn = createConnection(url, { transport: browser, ...options }) as Connection;
  cleanup.push(() => conn.close());
  return conn;
}

describe('partysocket reconnecting.test.ts, where it goes beyond reconnecting-websocket', () => {
  it('websocket invalid protocolsProvider', async () => {
    const conn = connect(await refusedUrl(), { protocols: () => /Hahaha/ as never, backoff: { maxRetries: 0 } });
    const error = await next(conn, 'error');
    expect(error.error).toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await closedState(conn);
  });

  const sync = (): string => 'bar';
  const async = (): Promise<string> => Promise.resolve('foo');
  it.each([
    ['sync', sync, 'bar'],
    ['async', async, 'foo'],
  ] as const)('websocket %s protocolsProvider', async (_kind, protocols, expected) => {
    const s = await server();
    const conn = connect(s.url, { protocols });
    await next(conn, 'open');
    expect(conn.url).toBe(s.url);
    expect(conn.protocol).toBe(expected);
  });

  it('getters: binaryType is blob on a browser WebSocket', async () => {
    const s = await server();
    const conn = connect(s.url, { protocols: 'foobar' });
    await next(conn, 'open');
    expect([conn.protocol, conn.extensions, conn.bufferedAmount, conn.binaryType]).toEqual(['foobar', '', 0, 'blob']);
  });

  it('binaryType', async () => {
    const s = await server();
    const conn = connect(s.url);
    expect(conn.binaryType).toBe('blob');
    conn.binaryType = 'arraybuffer';
    await next(conn, 'open');
    expect(conn.binaryType).toBe('arraybuffer');
    conn.binaryType = 'blob';
    expect(conn.binaryType).toBe('blob');
    conn.send(new Uint8Array([1]));
    expect((await next(conn, 'message')).data).toBeInstanceOf(Blob);
  });

  it('calling to close multiple times fires exactly one close', async () => {
    const s = await server();
    const conn = connect(s.url);
    conn.addEventListener('open', () => {
      conn.close();
      conn.close();
      conn.close();
    });
    let calls = 0;
    conn.addEventListener('close', () => calls++);
    await closedState(conn);
    const probe = connect(s.url);
    await probe.opened();
    expect(calls).toBe(1);
  });

  it.each([false, true])('connect, send, receive, close (startClosed: %s): Blob data, code and reason passed through', async (startClosed) => {
    const s = await server();
    const conn = connect(s.url, { protocols: 'foobar', startClosed, backoff: { initialDelay: 100, maxDelay: 200 } });
    // DIFFERS: startClosed waits in `idle`, whose readyState is CONNECTING (0) as before any session, not CLOSED.
    expect(conn.readyState).toBe(conn.CONNECTING);
    if (startClosed) conn.reconnect();
    await next(conn, 'open');
    expect(conn.protocol).toBe('foobar');
    expect(conn.readyState).toBe(conn.OPEN);
    // Sent as binary, so it comes back binary: a Blob, as in a browser.
    conn.send(new TextEncoder().encode('hello'));
    const message = await next(conn, 'message');
    expect(message.data).toBeInstanceOf(Blob);
    expect(await text(message.data)).toBe('hello');
    const closed = next(conn, 'close');
    conn.close(1000, 'some reason');
    expect(conn.readyState).toBe(conn.CLOSING);
    const close = await closed;
    expect(conn.readyState).toBe(conn.CLOSED);
    expect(conn.url).toBe(s.url);
    expect(close).toMatchObject({ code: 1000, reason: 'some reason', wasClean: true });
  });

  it('enqueue messages: bufferedAmount counts them when the attempt fails, then the end of the session reports them', async () => {
    const conn = connect(await refusedUrl(), { backoff: { maxRetries: 0 } });
    for (let i = 0; i < 10; i++) conn.send('message');
    const amounts: number[] = [];
    conn.onerror = () => amounts.push(conn.bufferedAmount);
    const drops: string[] = [];
    conn.addEventListener('drop', (e) => drops.push(e.reason));
    await closedState(conn);
    expect(amounts).toEqual([70]);
    // DIFFERS: the session ended, so each queued message is reported (`drop`, 'closed') instead of kept.
    expect(drops).toEqual(Array(10).fill('closed'));
  });

  it('reconnect() works after maxRetries has been exhausted', async () => {
    const s = await server();
    let url = await refusedUrl();
    const conn = connect(() => url, { connectTimeout: 500, backoff: { maxRetries: 0, initialDelay: 10, maxDelay: 50 } });
    await next(conn, 'error');
    await closedState(conn);
    expect(conn.closedBy?.kind).toBe('giveup');
    url = s.url;
    conn.reconnect();
    await next(conn, 'open');
    expect(conn.retryCount).toBe(0);
  });
});

describe('partysocket reconnecting-node.test.ts', () => {
  it('pass WebSocket via options, and reconnect() at once', async () => {
    const had = Object.prototype.hasOwnProperty.call(globalThis, 'WebSocket');
    const before = (globalThis as { WebSocket?: unknown }).WebSocket;
    delete (globalThis as { WebSocket?: unknown }).WebSocket;
    cleanup.push(() => {
      if (had) (globalThis as { WebSocket?: unknown }).WebSocket = before;
    });
    const s = await server();
    const conn = connect(s.url, { transport: createBrowserTransport(WsWebSocket as never), backoff: { maxRetries: 0 } });
    conn.reconnect();
    await next(conn, 'open');
    expect(s.accepted.at(-1)?.readyState).toBe(WsWebSocket.OPEN);
  });
});

describe('partysocket edge-cases.test.ts', () => {
  it('binaryType: default blob, set before connecting, applied on open, kept across reconnect()', async () => {
    const s = await server();
    const conn = connect(s.url, { startClosed: true });
    expect(conn.binaryType).toBe('blob');
    conn.binaryType = 'arraybuffer';
    expect(conn.binaryType).toBe('arraybuffer');
    conn.reconnect();
    await next(conn, 'open');
    conn.send(new Uint8Array([1]));
    expect((await next(conn, 'message')).data).toBeInstanceOf(ArrayBuffer);
    conn.reconnect();
    await next(conn, 'open');
    expect(conn.binaryType).toBe('arraybuffer');
    conn.send(new Uint8Array([2]));
    expect((await next(conn, 'message')).data).toBeInstanceOf(ArrayBuffer);
  });

  it('queues up to maxEnqueuedMessages and no more', () => {
    // DIFFERS: by default the oldest message makes room (and is reported); `overflow: 'drop-newest'` refuses the new
    // one as partysocket does, also reported (`drop`, 'queue-full') instead of dropped silently.
    const conn = connect('ws://127.0.0.1:1/', { startClosed: true, queue: { maxMessages: 5, overflow: 'drop-newest' } });
    const drops: unknown[] = [];
    conn.addEventListener('drop', (e) => drops.push([e.reason, e.message]));
    for (let i = 0; i < 5; i++) conn.send(`message${i}`);
    const full = conn.bufferedAmount;
    expect(full).toBe(5 * 'message0'.length);
    conn.send('message6');
    expect(conn.bufferedAmount).toBe(full);
    expect(drops).toEqual([['queue-full', 'message6']]);
  });

  it('counts bufferedAmount in bytes for strings, Blobs, ArrayBuffers and views', () => {
    const conn = connect('ws://127.0.0.1:1/', { startClosed: true });
    conn.send('hello');
    expect(conn.bufferedAmount).toBe(5);
    conn.send(new Blob(['test data']));
    expect(conn.bufferedAmount).toBe(5 + 9);
    conn.send(new ArrayBuffer(8));
    expect(conn.bufferedAmount).toBe(5 + 9 + 8);
    conn.send(new Uint8Array([1, 2, 3, 4, 5]));
    expect(conn.bufferedAmount).toBe(5 + 9 + 8 + 5);
    // UTF-8 bytes, as a WebSocket's bufferedAmount counts them (partysocket counts string length).
    conn.send('é');
    expect(conn.bufferedAmount).toBe(5 + 9 + 8 + 5 + 2);
  });

  it('flushes the queue on the open that reconnect() starts', async () => {
    const s = await server({ echo: false });
    const conn = connect(s.url, { startClosed: true });
    conn.send('queued1');
    conn.send('queued2');
    expect(conn.bufferedAmount).toBeGreaterThan(0);
    const client = s.nextConnection();
    conn.reconnect();
    const socket = await client;
    const got: string[] = [];
    await new Promise<void>((resolve) =>
      socket.on('message', (data) => {
        got.push(String(data));
        if (got.length === 2) resolve();
      }),
    );
    expect(got).toEqual(['queued1', 'queued2']);
    expect(conn.bufferedAmount).toBe(0);
  });

  it('readyState: constants, CONNECTING by default and with startClosed', () => {
    const started = connect('ws://127.0.0.1:1/');
    expect(started.readyState).toBe(0);
    const idle = connect('ws://127.0.0.1:1/', { startClosed: true });
    // DIFFERS: `idle` (startClosed) is CONNECTING (0), not CLOSED; `state === 'idle'` tells it apart.
    expect([idle.readyState, idle.state]).toEqual([0, 'idle']);
    expect([idle.CONNECTING, idle.OPEN, idle.CLOSING, idle.CLOSED]).toEqual([0, 1, 2, 3]);
  });

  it('close(): when not connected, twice, and what says it will not reconnect', async () => {
    const idle = connect('ws://127.0.0.1:1/', { startClosed: true });
    expect(() => idle.close()).not.toThrow();
    expect(() => idle.close()).not.toThrow();
    expect(idle.readyState).toBe(3);
    const s = await server();
    const conn = connect(s.url, { startClosed: true });
    conn.reconnect();
    await conn.opened();
    conn.close();
    expect(() => conn.close()).not.toThrow();
    await closedState(conn);
    // DIFFERS: no `shouldReconnect` flag; a session closed by close() is `closed` with `closedBy.kind === 'user'`.
    expect([conn.state, conn.closedBy?.kind]).toEqual(['closed', 'user']);
  });

  it('retryCount: 0 at the start, 0 again after reconnect()', async () => {
    const idle = connect('ws://127.0.0.1:1/', { startClosed: true });
    expect(idle.retryCount).toBe(0);
    const s = await server();
    const conn = connect(s.url, { startClosed: true });
    conn.reconnect();
    await conn.opened();
    conn.reconnect();
    expect(conn.retryCount).toBe(0);
    await next(conn, 'open');
  });

  it('extensions, protocol and url before connecting', () => {
    const conn = connect('ws://127.0.0.1:1/', { startClosed: true });
    expect([conn.extensions, conn.protocol]).toEqual(['', '']);
    // DIFFERS: a fixed URL shows at once, as a DOM WebSocket's does; a URL function's only once it resolved.
    expect(conn.url).toBe('ws://127.0.0.1:1/');
    expect(connect(() => 'ws://127.0.0.1:1/', { startClosed: true }).url).toBe('');
  });
});

describe('partysocket error-handling.test.ts', () => {
  it.each([
    ['async', async () => Promise.reject(new Error('URL fetch failed'))],
    [
      'sync',
      () => {
        throw new Error('URL generation failed');
      },
    ],
  ] as const)('an %s URL provider that throws is reported as an error event, not thrown', async (_kind, provider) => {
    let conn!: Connection;
    expect(() => (conn = connect(provider, { backoff: { maxRetries: 0 } }))).not.toThrow();
    const error = await next(conn, 'error');
    expect(error.error).toMatchObject({ code: 'ERR_PROVIDER_FAILED', cause: expect.objectContaining({ message: expect.stringMatching(/URL/) }) });
    await closedState(conn);
  });

  it('an invalid URL type is refused at construction', () => {
    // DIFFERS: refused by createConnection (ERR_INVALID_URL) instead of failing the first attempt.
    expect(() => createConnection(123 as never, { transport: browser })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_URL' }));
  });

  it('a null protocols value means none', async () => {
    const s = await server();
    const conn = connect(s.url, { protocols: null as never });
    await conn.opened();
    expect(conn.protocol).toBe('');
  });

  it('a missing WebSocket implementation', () => {
    const had = Object.prototype.hasOwnProperty.call(globalThis, 'WebSocket');
    const before = (globalThis as { WebSocket?: unknown }).WebSocket;
    delete (globalThis as { WebSocket?: unknown }).WebSocket;
    cleanup.push(() => {
      if (had) (globalThis as { WebSocket?: unknown }).WebSocket = before;
    });
    // DIFFERS: thrown at once (ERR_NO_TRANSPORT, naming socketchart/node), not logged with console.error later.
    expect(() => createConnection('ws://127.0.0.1:1/', { backoff: { maxRetries: 0 } })).toThrow(expect.objectContaining({ code: 'ERR_NO_TRANSPORT' }));
  });

  it('stops retrying after maxRetries, with retryCount === maxRetries', async () => {
    const maxRetries = 3;
    const conn = connect(await refusedUrl(), { backoff: { maxRetries, initialDelay: 10, maxDelay: 20 }, retryWait: now });
    let errors = 0;
    conn.addEventListener('error', () => errors++);
    await closedState(conn);
    expect(conn.retryCount).toBe(maxRetries);
    expect(errors).toBe(maxRetries + 1);
    expect(conn.closedBy?.kind).toBe('giveup');
  });

  it('respects maxEnqueuedMessages, summing bytes of every kind of message', () => {
    const conn = connect('ws://127.0.0.1:1/', { startClosed: true, queue: { maxMessages: 5 } });
    for (let i = 0; i < 15; i++) conn.send(`message-${i}`);
    expect(conn.metrics.queueLength).toBe(5);
    expect(conn.bufferedAmount).toBe(5 * 'message-10'.length);
    const mixed = connect('ws://127.0.0.1:1/', { startClosed: true });
    mixed.send('hello');
    mixed.send(new ArrayBuffer(10));
    mixed.send(new Blob(['test']));
    expect(mixed.bufferedAmount).toBe(19);
  });

  it('an unbounded queue (maxMessages: Infinity)', () => {
    const conn = connect('ws://127.0.0.1:1/', { startClosed: true, queue: { maxMessages: Infinity } });
    for (let i = 0; i < 1000; i++) conn.send(`message-${i}`);
    expect(conn.metrics.queueLength).toBe(1000);
  });

  it('an empty message is queued and delivered like any other', async () => {
    const s = await server();
    const conn = connect(s.url, { startClosed: true });
    expect(() => conn.send('')).not.toThrow();
    expect(conn.metrics.queueLength).toBe(1);
    conn.reconnect();
    expect((await next(conn, 'message')).data).toBe('');
  });

  it('rapid reconnect() calls: from idle, and while connecting, end in one open', async () => {
    const idle = connect('ws://127.0.0.1:1/', { startClosed: true });
    for (let i = 0; i < 10; i++) idle.reconnect();
    idle.close();
    expect(idle.state).toBe('closed');
    const s = await server();
    const conn = connect(s.url);
    let opens = 0;
    conn.addEventListener('open', () => opens++);
    conn.reconnect();
    conn.reconnect();
    conn.reconnect();
    await conn.opened();
    conn.send('x');
    await next(conn, 'message');
    expect(opens).toBe(1);
  });

  it('binaryType changes while disconnected', () => {
    const conn = connect('ws://127.0.0.1:1/', { startClosed: true });
    conn.binaryType = 'arraybuffer';
    conn.binaryType = 'blob';
    expect(conn.binaryType).toBe('blob');
    // The browser transport has no 'nodebuffer': refused with the choices it has.
    expect(() => (conn.binaryType = 'nodebuffer')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  it('the backoff window grows exponentially', () => {
    const options = { ...DEFAULTS.backoff, initialDelay: 50, maxDelay: 500, factor: 2 };
    const top = () => 0.999_999;
    const windows = [1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, options, 'normal', top) + 1);
    expect(windows).toEqual([50, 100, 200, 400, 500]);
  });

  it('a custom debug logger receives the connection attempts', async () => {
    // DIFFERS: no `debug`/`debugLogger` options; logTransitions(conn, { write }) is the logger.
    const lines: string[] = [];
    const conn = connect(await refusedUrl(), { startClosed: true, backoff: { maxRetries: 0 } });
    logTransitions(conn, { write: (line) => lines.push(line), color: false });
    conn.reconnect();
    await closedState(conn);
    expect(lines[0]).toMatch(/CONNECTING - connecting\.opening/);
    expect(lines.at(-1)).toMatch(/CLOSED/);
  });
});

describe('partysocket integration.test.ts', () => {
  it('complete lifecycle: connect, send, receive, close', async () => {
    const s = await server({ echo: false });
    s.wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo: ${String(data)}`)));
    const conn = connect(s.url);
    conn.addEventListener('open', () => conn.send('integration-test-message'));
    const message = await next(conn, 'message');
    expect(message.data).toBe('echo: integration-test-message');
    conn.close();
    await closedState(conn);
    expect(conn.readyState).toBe(WsWebSocket.CLOSED);
  });

  it('server disconnect, then reconnect', async () => {
    const s = await server();
    const conn = connect(s.url, { retryWait: now });
    await next(conn, 'open');
    s.accepted[0]!.close();
    await next(conn, 'open');
    expect(s.accepted).toHaveLength(2);
  });

  it('keeps message order', async () => {
    const s = await server();
    const conn = connect(s.url);
    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      conn.addEventListener('message', (e) => {
        got.push(String(e.data));
        if (got.length === 20) resolve();
      });
    });
    // Half sent before the open (queued), half after: one order.
    for (let i = 0; i < 10; i++) conn.send(`message-${i}`);
    await conn.opened();
    for (let i = 10; i < 20; i++) conn.send(`message-${i}`);
    await all;
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `message-${i}`));
  });

  it('several connections at once', async () => {
    const s = await server();
    s.wss.on('connection', (socket) => socket.send('welcome'));
    const conns = Array.from({ length: 5 }, () => connect(s.url));
    await Promise.all(conns.map((c) => next(c, 'message')));
    expect(conns.map((c) => c.readyState)).toEqual([1, 1, 1, 1, 1]);
  });

  it('server restart: reconnect() reaches the new server', async () => {
    const s = await server();
    let version = 1;
    s.wss.on('connection', (socket) => socket.send(`server-v${version}`));
    const conn = connect(s.url);
    const versions: string[] = [];
    await new Promise<void>((resolve) => {
      conn.addEventListener('message', (e) => {
        versions.push(String(e.data));
        if (versions.length === 1) {
          version = 2;
          conn.reconnect();
        } else resolve();
      });
    });
    expect(versions).toEqual(['server-v1', 'server-v2']);
  });
});
