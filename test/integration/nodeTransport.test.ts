/**
 * `createNodeTransport({ ... })` options against real `ws` servers on 127.0.0.1, port 0: what the server sees
 * (Origin, headers, subprotocols), what the client enforces (maxPayload, handshakeTimeout) and what it negotiates
 * (permessage-deflate).
 *
 * `tls` needs an X.509 certificate, which node:crypto cannot make by itself: a throwaway self-signed one is made
 * with the `openssl` command at test time (offline, ~30 ms); without `openssl` that test skips itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import type { Connection } from '../../src/index.js';
import { createConnection, createNodeTransport, type NodeTransportOptions } from '../../src/node.js';
import { createSilentServer } from '../support/silentServer.js';
import { nextEvent } from '../support/events.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

interface Server {
  url: string;
  /** Request headers of every handshake, in order. */
  handshakes: IncomingHttpHeaders[];
  /** The server side of every accepted socket, in order. */
  sockets: WebSocket[];
  /** Every message received, as text. */
  received: string[];
}

/** A bare `ws` server that records handshakes and echoes messages as they came (text or binary). */
async function server(options: ServerOptions = {}): Promise<Server> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const s: Server = { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, handshakes: [], sockets: [], received: [] };
  wss.on('connection', (socket, request) => {
    s.handshakes.push(request.headers);
    s.sockets.push(socket);
    socket.on('message', (data, isBinary) => {
      s.received.push(data.toString());
      socket.send(data, { binary: isBinary });
    });
  });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return s;
}

/** A self-signed certificate for 127.0.0.1, or null without `openssl`. */
function selfSignedCert(): { key: Buffer; cert: Buffer } | null {
  const dir = mkdtempSync(join(tmpdir(), 'socketchart-tls-'));
  try {
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
        '-days', '1', '-subj', '/CN=socketchart-test', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore', timeout: 5_000 },
    );
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tlsCert = selfSignedCert();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyConnection = Connection<any, any>;

function connect(url: string, transport: NodeTransportOptions, options: Parameters<typeof createConnection>[1] = {}): AnyConnection {
  const conn = createConnection(url, {
    transport: createNodeTransport(transport),
    heartbeat: false,
    retryWait: () => Promise.resolve(),
    random: () => 0,
    ...options,
  });
  cleanup.push(() => conn.close());
  return conn;
}

describe('createNodeTransport options over real sockets', () => {
  it('origin: the server sees the Origin header (and none without it)', async () => {
    const s = await server();
    await connect(s.url, { origin: 'https://app.example' }).opened({ timeout: 2_000 });
    await connect(s.url, {}).opened({ timeout: 2_000 });
    expect(s.handshakes.map((h) => h.origin)).toEqual(['https://app.example', undefined]);
  });

  it('headers: static headers reach the server on every attempt, merged under the per-attempt ones', async () => {
    const s = await server();
    let attempt = 0;
    const conn = connect(
      s.url,
      { headers: { 'x-static': 'kept', 'x-both': 'static' } },
      { headers: () => ({ 'x-both': `attempt-${++attempt}` }) },
    );
    await conn.opened({ timeout: 2_000 });
    conn.reconnect();
    await nextEvent(conn, 'open');
    expect(s.handshakes.map((h) => [h['x-static'], h['x-both']])).toEqual([
      ['kept', 'attempt-1'],
      ['kept', 'attempt-2'],
    ]);
  });

  // ws sends close 1009 but stops reading at the oversized frame, so it reports 1006 itself; the transport reports
  // the 1009 it sent, and the chart treats it as fatal (the same message would come again after a reconnect).
  it('maxPayload: a bigger server frame closes with 1009, reported as such (unclean) and fatal by default', async () => {
    const s = await server();
    const conn = connect(s.url, { maxPayload: 64 });
    await conn.opened({ timeout: 2_000 });
    const messages: unknown[] = [];
    conn.onmessage = (e) => messages.push(e.data);
    const errors: string[] = [];
    conn.addEventListener('error', (e) => errors.push(e.message));
    const serverClose = new Promise<number>((resolve) => s.sockets[0]!.once('close', (code) => resolve(code)));
    const closed = nextEvent(conn, 'close');

    s.sockets[0]!.send('x'.repeat(64)); // at the limit: delivered
    s.sockets[0]!.send('y'.repeat(65)); // over it
    const close = await closed;

    expect(messages).toEqual(['x'.repeat(64)]);
    expect(errors).toEqual(['Max payload size exceeded']);
    expect(await serverClose).toBe(1009); // the client's close frame says why
    expect({ code: close.code, wasClean: close.wasClean, closedBy: close.closedBy?.kind }).toEqual({
      code: 1009,
      wasClean: false,
      closedBy: 'fatal',
    });
    expect(conn.state).toBe('closed');
    expect(s.handshakes).toHaveLength(1);
  });

  it('perMessageDeflate: negotiated with a server that enables it, and messages round-trip compressed', async () => {
    const s = await server({ perMessageDeflate: { threshold: 0 } });
    const plain = await server({ perMessageDeflate: { threshold: 0 } });
    const conn = connect(s.url, { perMessageDeflate: true });
    const off = connect(plain.url, {});
    await Promise.all([conn.opened({ timeout: 2_000 }), off.opened({ timeout: 2_000 })]);
    expect(conn.extensions).toContain('permessage-deflate');
    expect(s.sockets[0]?.extensions).toContain('permessage-deflate');
    expect(s.handshakes[0]?.['sec-websocket-extensions']).toContain('permessage-deflate');
    expect(off.extensions).toBe(''); // the default (false) offers nothing, so nothing is negotiated
    expect(plain.handshakes[0]?.['sec-websocket-extensions']).toBeUndefined();

    const text = 'compress me '.repeat(200);
    const echoed = nextEvent(conn, 'message');
    conn.send(text);
    expect((await echoed).data).toBe(text);
    expect(s.received).toEqual([text]);
  });

  it('handshakeTimeout: a server that never answers the upgrade fails the attempt within about the timeout', async () => {
    const silent = await createSilentServer('no-handshake');
    cleanup.push(() => silent.close());
    const started = Date.now();
    const conn = connect(silent.url, { handshakeTimeout: 150 }, { shouldReconnect: () => false, connectTimeout: 2_000 });
    const closed = nextEvent(conn, 'close'); // fires in the same tick as the error
    const error = await nextEvent(conn, 'error');
    const elapsed = Date.now() - started;
    expect(error.message).toBe('Opening handshake has timed out');
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1_000); // well before connectTimeout (2 s here)
    const close = await closed;
    expect({ code: close.code, wasClean: close.wasClean, closedBy: close.closedBy?.kind }).toEqual({ code: 1006, wasClean: false, closedBy: 'server' });
    expect(conn.state).toBe('closed');
  });

  it('protocols as an async function: called per attempt, and the server sees the new value after a reconnect', async () => {
    const s = await server({ handleProtocols: (offered) => [...offered][0] ?? false });
    const calls: number[] = [];
    const conn = connect(
      s.url,
      {},
      {
        protocols: async () => {
          calls.push(calls.length + 1);
          await new Promise((resolve) => setTimeout(resolve, 1));
          return [`v${calls.length}.chat`, 'fallback'];
        },
      },
    );
    await conn.opened({ timeout: 2_000 });
    expect(conn.protocol).toBe('v1.chat');
    s.sockets[0]!.close(1012, 'restart'); // a server-side restart: retried
    await nextEvent(conn, 'open');
    expect(conn.protocol).toBe('v2.chat');
    expect(calls).toEqual([1, 2]);
    expect(s.handshakes.map((h) => h['sec-websocket-protocol'])).toEqual(['v1.chat,fallback', 'v2.chat,fallback']);
  });

  it('closeTimeout: a whole number of ms, checked when the transport is made', () => {
    for (const bad of [-1, 1.5, 2 ** 31, '5000', Number.NaN]) {
      expect(() => createNodeTransport({ closeTimeout: bad as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
    expect(() => createNodeTransport({ closeTimeout: 0 })).not.toThrow();
  });

  // The close frame is answered, but the server keeps its half of TCP open: ws's 'close' (and so the connection's)
  // waits for closeTimeout, then the socket is destroyed and the connection retries.
  it('closeTimeout: bounds how long a server can hold TCP open after the closing handshake', async () => {
    const sockets: Socket[] = [];
    const held = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.once('data', (request: Buffer) => {
        const key = /sec-websocket-key:\s*(.+)\r\n/i.exec(request.toString())?.[1]?.trim() ?? '';
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.write(Buffer.from([0x88, 0x02, 0x0f, 0xa0])); // close 4000, then nothing: TCP stays open
      });
    });
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          held.close(() => resolve());
        }),
    );
    const conn = connect(`ws://127.0.0.1:${(held.address() as AddressInfo).port}/`, { closeTimeout: 30 }, { shouldReconnect: () => false });
    const closedBy = await conn.closed();
    expect({ kind: closedBy.kind, code: closedBy.code, wasClean: closedBy.wasClean }).toEqual({ kind: 'server', code: 4000, wasClean: true });
  });

  it.skipIf(tlsCert === null)('tls: wss to a self-signed server opens with its cert as ca, and is refused without', async () => {
    const { key, cert } = tlsCert!;
    const https = createHttpsServer({ key, cert });
    const wss = new WebSocketServer({ server: https });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data.toString())));
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.terminate();
          wss.close();
          https.closeAllConnections();
          https.close(() => resolve());
        }),
    );
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`;

    const trusted = connect(url, { tls: { ca: cert } });
    await trusted.opened({ timeout: 2_000 });
    const echoed = nextEvent(trusted, 'message');
    trusted.send('over tls');
    expect((await echoed).data).toBe('over tls');

    const untrusted = connect(url, {}, { shouldReconnect: () => false });
    const error = await nextEvent(untrusted, 'error');
    expect(error.message).toMatch(/self[- ]signed certificate/);
    expect(wss.clients.size).toBe(1); // only the trusted one got through
  });
});
