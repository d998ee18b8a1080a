/**
 * Malicious clients against `attachAckServer` (issue 11, items 9-13, and the same classes of fault beyond them).
 * Each case names the promise README/PROTOCOL.md make, attacks it with a real socket on loopback (a `ws` client, or
 * a raw `net` socket that speaks just enough WebSocket to never read), and checks the promise held: measured
 * buffers, the close code the server chose, and that the process survived.
 */
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { SimulatedClock } from 'xstate';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ACK_PROTOCOL } from '../../src/delivery/index.js';
import { helloFrame } from '../../src/delivery/protocol.js';
import {
  ACK_SERVER_DEFAULTS,
  type AckServer,
  type AckServerOptions,
  type AckSession,
  MAX_UNFLUSHED_PONGS,
  type SessionStore,
  attachAckServer,
  createMemorySessionStore,
} from '../../src/server/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const SID = 'hostile-session-00000001';

interface ServerSide {
  ws: WebSocket;
  /** The code the server closed with (its own `close()` call), null while it has not. */
  closedWith: number | null;
  terminated: boolean;
}

/** attachAckServer on a real ws server, recording for each server-side socket the code the server closed it with. */
async function ackServer(options: Partial<AckServerOptions> = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const sockets: ServerSide[] = [];
  // Registered before attachAckServer's listener, so the spies are in place before the helper sees the socket.
  wss.on('connection', (ws) => {
    const side: ServerSide = { ws, closedWith: null, terminated: false };
    const close = ws.close.bind(ws);
    const terminate = ws.terminate.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => {
      side.closedWith ??= code ?? 1005;
      close(code, reason);
    };
    ws.terminate = () => {
      side.terminated = true;
      terminate();
    };
    sockets.push(side);
  });
  const errors: unknown[] = [];
  const server: AckServer = attachAckServer(wss, { onMessage: () => {}, ...options });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  const port = (wss.address() as AddressInfo).port;
  /** Bytes the server holds for its sockets right now (ws's queue plus the socket's writable buffer). */
  const buffered = () => [...wss.clients].reduce((n, ws) => n + ws.bufferedAmount, 0);
  return { wss, server, port, url: `ws://127.0.0.1:${port}/`, sockets, errors, buffered };
}

/** A `ws` client that reads (to see close codes). */
async function reader(url: string) {
  const ws = new WebSocket(url, [ACK_PROTOCOL]);
  ws.on('error', () => {});
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(data.toString()));
  cleanup.push(() => ws.terminate());
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await once(ws, 'open');
  return { ws, frames, closed };
}

/** One masked client frame (RFC 6455 5.2). */
function clientFrame(payload: string | Buffer, opcode = 1): Buffer {
  const data = Buffer.from(payload);
  const mask = randomBytes(4);
  let header: Buffer;
  if (data.length < 126) header = Buffer.from([0x80 | opcode, 0x80 | data.length]);
  else if (data.length < 65536) {
    header = Buffer.from([0x80 | opcode, 0x80 | 126, 0, 0]);
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  for (let i = 0; i < data.length; i++) data[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, data]);
}

/**
 * A raw TCP peer that completes the WebSocket handshake and then never reads another byte: what it is sent piles
 * up in the kernel and then in the server's buffers.
 */
async function nonReader(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  cleanup.push(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Protocol: ${ACK_PROTOCOL}\r\n\r\n`,
  );
  let head = '';
  while (!head.includes('\r\n\r\n')) head += ((await once(socket, 'data')) as [Buffer])[0].toString('latin1');
  expect(head.startsWith('HTTP/1.1 101')).toBe(true);
  socket.pause();
  const send = (payload: string | Buffer, opcode = 1) =>
    new Promise<void>((resolve) => (socket.write(clientFrame(payload, opcode)) ? resolve() : socket.once('drain', resolve)));
  return { socket, send };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets the server's event loop take what the client wrote (sockets, microtasks, flush callbacks). */
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('malicious client: user callbacks that throw never crash the server', () => {
  it('#9 "Throwing [in sessionKey] refuses the socket (1008)": without onError the process lives on', async () => {
    const { url, sockets } = await ackServer({
      sessionKey: () => {
        throw new Error('not your session');
      },
    });
    const c = await reader(url);
    c.ws.send(helloFrame(SID, 0, 1));
    expect((await c.closed).code).toBe(1008);
    expect(sockets[0]!.closedWith).toBe(1008);
    // A crash would surface here as an uncaught error failing the run (vitest reports errors thrown from microtasks).
    await settle();
  });

  it('#9 ...and with onError the reason is reported there', async () => {
    const errors: unknown[] = [];
    const { url } = await ackServer({
      sessionKey: () => {
        throw new Error('not your session');
      },
      onError: (error) => errors.push(error),
    });
    const c = await reader(url);
    c.ws.send(helloFrame(SID, 0, 1));
    expect((await c.closed).code).toBe(1008);
    expect(errors).toEqual([expect.objectContaining({ message: 'not your session' })]);
  });

  it('"onPlainConnection threw: reported to onError": the socket is closed with 1011, the upgrade handler survives', async () => {
    const errors: unknown[] = [];
    const { url } = await ackServer({
      onPlainConnection: () => {
        throw new Error('plain handler bug');
      },
      onError: (error) => errors.push(error),
    });
    const ws = new WebSocket(url, ['chat']);
    ws.on('error', () => {});
    cleanup.push(() => ws.terminate());
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(1011);
    expect(errors).toEqual([expect.objectContaining({ message: 'plain handler bug' })]);
  });

  it('"the session store failed: 1011": a store whose set() throws synchronously is reported, not thrown through ws', async () => {
    const errors: unknown[] = [];
    const inner = createMemorySessionStore();
    const store: SessionStore = {
      get: (id) => inner.get(id),
      set: () => {
        throw new Error('store down');
      },
      delete: (id) => inner.delete(id),
    };
    const { url } = await ackServer({ store, onError: (error) => errors.push(error) });
    const c = await reader(url);
    c.ws.send(helloFrame(SID, 0, 1));
    expect((await c.closed).code).toBe(1011);
    expect(errors).toEqual([expect.objectContaining({ message: 'store down' })]);
  });

  it('"onError threw": the error is rethrown from a microtask, after the helper finished its own work', async () => {
    const { url, server } = await ackServer({
      onMessage: () => {
        throw new Error('app bug');
      },
      onError: () => {
        throw new Error('onError bug');
      },
    });
    const uncaught: unknown[] = [];
    // The documented default for a throwing hook is a rethrow; catch it here so the run does not fail on it.
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const catcher = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', catcher);
    try {
      const c = await reader(url);
      c.ws.send(helloFrame(SID, 0, 1));
      c.ws.send('1:a');
      c.ws.send('2:b');
      await until(() => uncaught.length === 2);
      // Both messages were processed in order: the throwing onError interrupted nothing.
      expect(server.stats.processed).toBe(2);
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      process.off('uncaughtException', catcher);
      for (const l of listeners) process.on('uncaughtException', l);
    }
    expect(uncaught).toEqual([expect.objectContaining({ message: 'onError bug' }), expect.objectContaining({ message: 'onError bug' })]);
  });
});

describe('malicious client: hooks that throw or misbehave', () => {
  it('"onSession threw: reported to onError": the session it was told about keeps working', async () => {
    const errors: unknown[] = [];
    const received: string[] = [];
    const { url } = await ackServer({
      onSession: () => {
        throw new Error('onSession bug');
      },
      onMessage: (_s, p) => received.push(String(p)),
      onError: (error) => errors.push(error),
    });
    const c = await reader(url);
    c.ws.send(helloFrame(SID, 0, 1));
    c.ws.send('1:still-works');
    await until(() => received.length === 1);
    expect(errors).toEqual([expect.objectContaining({ message: 'onSession bug' })]);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('"onUnsequenced threw: reported to onError": the next frames are still read', async () => {
    const errors: unknown[] = [];
    const received: string[] = [];
    const { url } = await ackServer({
      onUnsequenced: () => {
        throw new Error('onUnsequenced bug');
      },
      onMessage: (_s, p) => received.push(String(p)),
      onError: (error) => errors.push(error),
    });
    const c = await reader(url);
    c.ws.send('{"type":"auth"}');
    c.ws.send(helloFrame(SID, 0, 1));
    c.ws.send('1:after');
    await until(() => received.length === 1);
    expect(errors).toEqual([expect.objectContaining({ message: 'onUnsequenced bug' })]);
  });

  it('"sessionKey() must return a non-empty string": anything else refuses the socket (1008)', async () => {
    for (const key of ['', 42, null]) {
      const errors: unknown[] = [];
      const { url } = await ackServer({ sessionKey: () => key as never, onError: (error) => errors.push(error) });
      const c = await reader(url);
      c.ws.send(helloFrame(SID, 0, 1));
      expect((await c.closed).code).toBe(1008);
      expect(errors).toEqual([expect.objectContaining({ name: 'TypeError' })]);
    }
  });

  it('"new sessions beyond maxSessions are refused with 1013": one client cycling session ids cannot grow the map', async () => {
    const { url, server } = await ackServer({ maxSessions: 3 });
    for (let i = 0; i < 3; i++) {
      const c = await reader(url);
      c.ws.send(helloFrame(`cycling-session-${String(i).padStart(8, '0')}`, 0, 1));
      await until(() => c.frames.length === 1);
      c.ws.terminate();
    }
    const extra = await reader(url);
    extra.ws.send(helloFrame('cycling-session-99999999', 0, 1));
    expect((await extra.closed).code).toBe(1013);
    expect(server.sessions.size).toBe(3);
    // A session that exists may still resume.
    const back = await reader(url);
    back.ws.send(helloFrame('cycling-session-00000001', 0, 1));
    expect(JSON.parse(await until(() => back.frames.length === 1).then(() => back.frames[0]!))).toMatchObject({ resumed: true });
  });
});

describe('malicious client: no unbounded per-socket buffer', () => {
  /** A session holding `count` unacknowledged messages of `size` bytes, its first socket gone. */
  async function heavySession(count: number, size: number, options: Partial<AckServerOptions> = {}) {
    let session: AckSession | null = null;
    const server = await ackServer({ maxUnackedBytes: 64 * 1024 * 1024, onSession: (s) => (session = s), ...options });
    const c = await reader(server.url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    c.ws.terminate();
    await until(() => !session!.connected);
    const chunk = 'x'.repeat(size);
    for (let i = 0; i < count; i++) expect(session!.send(chunk)).toBe(true);
    return { ...server, session: session! };
  }

  it(`#10 "never replay into a socket whose bufferedAmount is over maxSocketBuffer": 8 MiB held, 10 non-reading resumes`, async () => {
    const { port, buffered, sockets } = await heavySession(128, 64 * 1024);
    let peak = 0;
    for (let i = 0; i < 10; i++) {
      const c = await nonReader(port);
      await c.send(helloFrame(SID, 0, 1));
      // Let the server write what it will into this socket (the kernel takes a few MiB first).
      await settle();
      await settle();
      peak = Math.max(peak, buffered());
    }
    // One socket at a time holds a replay, and only up to the bound (plus the frame that crossed it).
    expect(peak).toBeLessThanOrEqual(ACK_SERVER_DEFAULTS.maxSocketBuffer + 64 * 1024 + 16);
    // The displaced sockets were terminated, not held open for a close handshake that never comes.
    const displaced = sockets.slice(1, -1);
    expect(displaced.every((s) => s.closedWith === 4408 && s.terminated)).toBe(true);
    console.info(`replay into 10 non-reading resumes of an 8 MiB session: peak server buffer ${peak} bytes`);
  });

  it('#10 a socket that drains gets the whole replay, in order, paced by maxSocketBuffer', async () => {
    const { url, buffered } = await heavySession(64, 64 * 1024, { maxSocketBuffer: 256 * 1024 });
    const c = await reader(url);
    let peak = 0;
    const probe = setInterval(() => (peak = Math.max(peak, buffered())), 1);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => c.frames.length === 65);
    clearInterval(probe);
    expect(c.frames.slice(1).map((f) => Number(f.slice(0, f.indexOf(':'))))).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(peak).toBeLessThanOrEqual(256 * 1024 + 64 * 1024 + 16);
  });

  it(`#11 "pongs are bounded": a client that pings and never reads is closed with 1008 after ${MAX_UNFLUSHED_PONGS} unflushed pongs`, async () => {
    const { port, buffered, sockets } = await ackServer();
    const c = await nonReader(port);
    const ping = clientFrame('{"type":"ping"}');
    // 200,000 pings in big writes (3.4 MB): far more pongs than the kernel buffers take.
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    let peak = 0;
    for (let i = 0; i < 200 && sockets[0]!.closedWith === null && !c.socket.destroyed; i++) {
      // The server terminates the socket mid-burst: a reset is the expected end of this loop.
      if (!c.socket.write(burst)) await Promise.race([once(c.socket, 'drain').catch(() => {}), settle()]);
      peak = Math.max(peak, buffered());
    }
    await until(() => sockets[0]!.closedWith !== null);
    expect(sockets[0]!.closedWith).toBe(1008);
    expect(sockets[0]!.terminated).toBe(true);
    expect(peak).toBeLessThan(64 * 1024);
  });

  it('#11 "frames wait for an async store, bounded by maxBacklogBytes (1013)": a store that never answers', async () => {
    const store: SessionStore = {
      get: () => new Promise(() => {}),
      set: () => true,
      delete: () => {},
    };
    const { port, sockets, server } = await ackServer({ store, maxBacklogBytes: 256 * 1024 });
    const c = await nonReader(port);
    await c.send(helloFrame(SID, 0, 1));
    const frame = `1:${'y'.repeat(16 * 1024)}`;
    for (let i = 0; i < 200 && sockets[0]!.closedWith === null; i++) {
      await c.send(frame);
      if (i % 10 === 0) await settle();
    }
    await until(() => sockets[0]!.closedWith !== null);
    expect(sockets[0]!.closedWith).toBe(1013);
    expect(server.stats.refused).toBe(1);
  });

  it('#11 "a socket that never sends hello is closed after helloTimeout (1013)"', async () => {
    const clock = new SimulatedClock();
    const { url, sockets } = await ackServer({ clock, helloTimeout: 5_000 });
    const c = await reader(url);
    c.ws.send('{"type":"auth","token":"t"}'); // unsequenced frames do not count as a hello
    await settle();
    clock.increment(4_999);
    await settle();
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    clock.increment(1);
    expect((await c.closed).code).toBe(1013);
    expect(sockets[0]!.closedWith).toBe(1013);
  });

  it('#11 "sockets without a session are bounded by maxPreHelloSockets (1013)"; they leave the count when they say hello or go', async () => {
    const { url } = await ackServer({ maxPreHelloSockets: 2 });
    const a = await reader(url);
    const b = await reader(url);
    const third = await reader(url);
    expect((await third.closed).code).toBe(1013);
    a.ws.send(helloFrame(SID, 0, 1));
    await until(() => a.frames.length === 1);
    b.ws.terminate();
    await settle();
    const d = await reader(url);
    const e = await reader(url);
    await settle();
    expect([d.ws.readyState, e.ws.readyState]).toEqual([WebSocket.OPEN, WebSocket.OPEN]);
  });

  it('"a frame over ws maxPayload closes with 1009" (the size bound is ws\'s own)', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 });
    await once(wss, 'listening');
    attachAckServer(wss, { onMessage: () => {} });
    cleanup.push(() => new Promise((r) => wss.close(r)));
    const c = await reader(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    c.ws.send(helloFrame(SID, 0, 1));
    c.ws.send(`1:${'z'.repeat(2048)}`);
    expect((await c.closed).code).toBe(1009);
  });
});

describe('malicious client: values from the wire are checked', () => {
  it.each([
    ['#13 an ack beyond the last seq sent', [helloFrame(SID, 0, 1), '{"type":"ack","ack":5}']],
    ['#13 a leading zero', [helloFrame(SID, 0, 1), '01:x']],
    ['#13 a negative seq', [helloFrame(SID, 0, 1), '-1:x']],
    ['#13 a fractional seq', [helloFrame(SID, 0, 1), '1.5:x']],
    ['a plus sign', [helloFrame(SID, 0, 1), '+1:x']],
    ['seq 0', [helloFrame(SID, 0, 1), '0:x']],
    ['an exponent', [helloFrame(SID, 0, 1), '1e0:x']],
    ['a seq above 2^53 - 1', [helloFrame(SID, 0, 1), '9007199254740992:x']],
    ['a seq of 20 digits', [helloFrame(SID, 0, 1), '12345678901234567890:x']],
    ['digits with no colon', [helloFrame(SID, 0, 1), '123']],
    ['a data-shaped frame before hello', ['01:x']],
    ['binary seq 0', [helloFrame(SID, 0, 1), Buffer.alloc(9)]],
    ['binary seq above 2^53 - 1', [helloFrame(SID, 0, 1), Buffer.from([0x00, 0x20, 0, 0, 0, 0, 0, 0, 1])]],
  ])('"a malformed data or control message closes with 1002": %s', async (_name, frames) => {
    const received: string[] = [];
    const unsequenced: string[] = [];
    const { url } = await ackServer({ onMessage: (_s, p) => received.push(String(p)), onUnsequenced: (_ws, p) => unsequenced.push(String(p)) });
    const c = await reader(url);
    for (const f of frames) c.ws.send(f);
    expect((await c.closed).code).toBe(1002);
    expect(received).toEqual([]);
    expect(unsequenced).toEqual([]);
  });

  it('#13 "hello.ack beyond what the server sent is a protocol error (1002)": the session keeps what it holds', async () => {
    let session: AckSession | null = null;
    const { url } = await ackServer({ onSession: (s) => (session = s) });
    const a = await reader(url);
    a.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    for (const m of ['s1', 's2', 's3']) session!.send(m);
    a.ws.terminate();
    await until(() => !session!.connected);
    const b = await reader(url);
    b.ws.send(helloFrame(SID, 1_000_000, 1));
    expect((await b.closed).code).toBe(1002);
    expect(session!.pending.count).toBe(3);
    // An honest resume still gets all three.
    const c = await reader(url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => c.frames.length === 4);
    expect(c.frames.slice(1)).toEqual(['1:s1', '2:s2', '3:s3']);
  });

  it('"hello.next cannot skip what the server never acknowledged (1002)"', async () => {
    let session: AckSession | null = null;
    const received: string[] = [];
    const { url } = await ackServer({ onSession: (s) => (session = s), onMessage: (_s, p) => received.push(String(p)) });
    const a = await reader(url);
    a.ws.send(helloFrame(SID, 0, 1));
    a.ws.send('1:a');
    await until(() => received.length === 1);
    a.ws.terminate();
    await until(() => !session!.connected);
    const b = await reader(url);
    b.ws.send(helloFrame(SID, 0, 50)); // claims 1-49 were acknowledged; only 1 was processed
    expect((await b.closed).code).toBe(1002);
  });

  it('#12 "session.end() validates first": a bad code or reason throws a typed error and forgets nothing', async () => {
    let session: AckSession | null = null;
    const { url } = await ackServer({ onSession: (s) => (session = s) });
    const c = await reader(url);
    c.ws.send(helloFrame(SID, 0, 1));
    await until(() => session !== null);
    for (const m of ['a', 'b', 'c']) session!.send(m);
    expect(() => session!.end(1005)).toThrow(expect.objectContaining({ name: 'SocketchartError', code: 'ERR_INVALID_CLOSE_CODE' }));
    expect(() => session!.end(999)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CLOSE_CODE' }));
    expect(() => session!.end(4000, 'r'.repeat(124))).toThrow(expect.objectContaining({ code: 'ERR_REASON_TOO_LONG' }));
    expect(() => session!.end(4000, '€'.repeat(42))).toThrow(expect.objectContaining({ code: 'ERR_REASON_TOO_LONG' }));
    expect(session!.pending.count).toBe(3);
    expect(session!.connected).toBe(true);
    // The socket is still attached and speaking the protocol.
    c.ws.send('1:still-here');
    c.ws.send('{"type":"ack","ack":3}');
    await until(() => session!.pending.count === 0);
    expect(session!.end(4000, 'bye')).toEqual([]);
    expect((await c.closed).code).toBe(4000);
  });
});
