import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SimulatedClock } from 'xstate';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ACK_PROTOCOL, atLeastOnce } from '../../src/delivery/index.js';
import { helloFrame } from '../../src/delivery/protocol.js';
import type { Connection } from '../../src/index.js';
import { createConnection } from '../../src/node.js';
import {
  type AckServer,
  type AckServerOptions,
  type AckSession,
  type SessionRecord,
  type SessionStore,
  attachAckServer,
  createMemorySessionStore,
} from '../../src/server/index.js';
import { nextEvent } from '../support/events.js';
import { runKillScenario } from './killScenario.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const fast = { retryWait: () => Promise.resolve(), random: () => 0 } as const;

async function ackServer(options: Partial<AckServerOptions> = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const received: string[] = [];
  const server: AckServer = attachAckServer(wss, { onMessage: (_s, p) => received.push(String(p)), ...options });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  const killAll = () => {
    for (const ws of wss.clients) ws.terminate();
  };
  return { wss, server, url, received, killAll };
}

function connect(url: string, options: Parameters<typeof createConnection>[1] = {}): Connection {
  const conn = createConnection(url, { ...fast, delivery: atLeastOnce(), ...options });
  cleanup.push(() => conn.close());
  return conn;
}

/** A bare ws client speaking the protocol by hand. */
async function raw(url: string, protocols: string[] = [ACK_PROTOCOL]) {
  const ws = new WebSocket(url, protocols);
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(data.toString()));
  ws.on('error', () => {});
  cleanup.push(() => ws.terminate());
  await once(ws, 'open');
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const frame = async (n: number) => {
    while (frames.length < n) await new Promise((r) => setTimeout(r, 2));
    return frames[n - 1]!;
  };
  return { ws, frames, closed, frame };
}

const SID = 'test-session-0000000001';

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('acknowledged delivery against attachAckServer (real ws on loopback)', () => {
  it('headline: 3,000 messages each way at ~1/ms, every TCP connection killed every 300 ms: 0 lost, 0 duplicated', async () => {
    const result = await runKillScenario({ messages: 3000, killEvery: 300, mode: 'acked' });
    for (const direction of [result.clientToServer, result.serverToClient]) {
      expect(direction).toEqual({ sent: 3000, delivered: 3000, duplicates: 0, outOfOrder: 0, reportedDrops: 0, reportedButDelivered: 0, silentlyLost: 0 });
    }
    expect(result.kills).toBeGreaterThanOrEqual(8);
    expect(result.opens).toBeGreaterThanOrEqual(result.kills);
    // The run did exercise the machinery: sockets resumed, and replays were deduplicated.
    expect(result.server!.resumed).toBeGreaterThanOrEqual(8);
    expect(result.ms).toBeLessThan(8000);
  }, 15_000);

  it('plain mode, same scenario (shorter): no client message is lost without a report (unconfirmed ones are reported)', async () => {
    const result = await runKillScenario({ messages: 1000, killEvery: 200, mode: 'plain' });
    for (const d of [result.clientToServer, result.serverToClient]) {
      expect(d.delivered - d.reportedButDelivered + d.reportedDrops + d.silentlyLost).toBe(d.sent);
      expect(d.duplicates).toBe(0);
      expect(d.outOfOrder).toBe(0);
    }
    // The client's side of the rule: every message it could not confirm is reported.
    expect(result.clientToServer.silentlyLost).toBe(0);
    console.info('plain mode, 1,000 each way, kill every 200 ms:', JSON.stringify(result));
  }, 15_000);

  it('echoes through a session and replays what the server sent while the client was away', async () => {
    let session: AckSession | null = null;
    const { url, killAll, received } = await ackServer({
      onMessage: (s, p) => s.send(`echo:${String(p)}`),
      onSession: (s) => (session = s),
    });
    const conn = connect(url);
    const got: string[] = [];
    conn.addEventListener('message', (e) => got.push(String(e.data)));
    conn.send('a');
    await until(() => got.length === 1);
    killAll();
    await nextEvent(conn, 'close');
    // Detached: these wait in the session and are replayed on resume.
    session!.send('while-away-1');
    session!.send('while-away-2');
    conn.send('b');
    await until(() => got.length === 4);
    expect(got).toEqual(['echo:a', 'while-away-1', 'while-away-2', 'echo:b']);
    void received;
  });

  it('carries binary payloads both ways', async () => {
    const { url } = await ackServer({ onMessage: (s, p) => s.send(Buffer.concat([Buffer.from('re:'), p as Buffer])) });
    const conn = connect(url, { binaryType: 'arraybuffer' });
    conn.send(new Uint8Array([1, 2, 3]));
    const reply = await nextEvent(conn, 'message');
    expect([...new Uint8Array(reply.data as ArrayBuffer)]).toEqual([...Buffer.from('re:'), 1, 2, 3]);
  });

  it('answers message-mode heartbeat pings outside the sequence', async () => {
    const { url } = await ackServer();
    const conn = connect(url, { heartbeat: { mode: 'message', interval: 20, timeout: 500 } });
    await conn.opened();
    await until(() => conn.rtt !== null);
    expect(conn.state).toBe('open');
  });

  it('expires a session after sessionTtl with no socket, reporting what it never delivered; the client starts over without losing its own', async () => {
    const clock = new SimulatedClock();
    const expired: Array<{ id: string; undelivered: string[] }> = [];
    let session: AckSession | null = null;
    const { url, killAll, received, server } = await ackServer({
      clock,
      sessionTtl: 1000,
      onSession: (s) => (session = s),
      onExpire: (s, undelivered) => expired.push({ id: s.id, undelivered: undelivered.map(String) }),
    });
    const conn = connect(url, { startClosed: true });
    conn.open();
    await conn.opened();
    conn.send('before');
    await until(() => received.length === 1);
    // Stop the client from coming back, then let the TTL run out.
    conn.close();
    await nextEvent(conn, 'close');
    const old = session!;
    await until(() => !old.connected); // the server sees the TCP connection end a moment later
    expect(old.send('never-acked')).toBe(true);
    clock.increment(999);
    expect(expired).toEqual([]);
    clock.increment(1);
    expect(expired).toEqual([{ id: old.id, undelivered: ['never-acked'] }]);
    expect(server.sessions.size).toBe(0);
    expect(old.send('late')).toBe(false);
    void killAll;
  });

  it('a client whose session expired meanwhile still gets every message of its own through (resumed: false)', async () => {
    const store = createMemorySessionStore();
    const { url, killAll, received, server } = await ackServer({ store });
    const conn = connect(url);
    await conn.opened();
    conn.send('1');
    // Acknowledged: a message processed but not yet acknowledged when a session is lost is sent again, into the
    // new session (at-least-once; PROTOCOL.md, "Session expiry").
    await until(() => received.length === 1 && conn.bufferedAmount === 0);
    // The server forgets everything (as a restart with an in-memory store would).
    for (const id of [...server.sessions.keys()]) server.sessions.get(id)!.end(4000, 'forget');
    await nextEvent(conn, 'open');
    killAll();
    conn.send('2');
    conn.send('3');
    await until(() => received.length === 3);
    expect(received).toEqual(['1', '2', '3']);
    expect(server.stats.created).toBe(2);
  });

  it('session.end() closes the socket and returns what was never acknowledged', async () => {
    let session: AckSession | null = null;
    const { url, killAll } = await ackServer({ onSession: (s) => (session = s) });
    const conn = connect(url, { startClosed: true });
    conn.open();
    await conn.opened();
    await until(() => session !== null);
    killAll();
    await nextEvent(conn, 'close');
    conn.close();
    session!.send('x');
    expect(session!.end().map(String)).toEqual(['x']);
    expect(session!.send('y')).toBe(false);
  });

  it('bounds what a session holds: send() gives false beyond maxUnacked / maxUnackedBytes', async () => {
    let session: AckSession | null = null;
    const { url } = await ackServer({ maxUnacked: 2, maxUnackedBytes: 5, onSession: (s) => (session = s) });
    const ws = await raw(url);
    ws.ws.send(helloFrame(SID, 0, 1));
    await ws.frame(1);
    expect(session!.send('ab')).toBe(true);
    expect(session!.send('cdef')).toBe(false); // 6 bytes
    expect(session!.send('cd')).toBe(true);
    expect(session!.send('e')).toBe(false); // 3 messages
    expect(session!.pending).toEqual({ count: 2, bytes: 4 });
    ws.ws.send('{"type":"ack","ack":1}');
    await until(() => session!.pending.count === 1);
    expect(session!.send('e')).toBe(true);
    expect(() => session!.send({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_DATA' }));
  });
});

describe('the protocol, byte by byte (a hand-written client)', () => {
  it('welcomes, acknowledges in batches, skips duplicates, and answers a resume with the replay', async () => {
    let session: AckSession | null = null;
    const { url, received, server } = await ackServer({ ackEvery: 2, onSession: (s) => (session = s) });
    const a = await raw(url);
    expect(a.ws.protocol).toBe(ACK_PROTOCOL);
    a.ws.send(helloFrame(SID, 0, 1));
    expect(JSON.parse(await a.frame(1))).toEqual({ type: 'welcome', sid: SID, resumed: false, ack: 0, next: 1 });
    a.ws.send('1:x');
    a.ws.send('2:y');
    expect(await a.frame(2)).toBe('{"type":"ack","ack":2}');
    a.ws.send('2:y'); // a duplicate: skipped, acknowledged again
    expect(await a.frame(3)).toBe('{"type":"ack","ack":2}');
    session!.send('s1');
    session!.send('s2');
    expect(await a.frame(5)).toBe('2:s2');
    a.ws.terminate();
    await a.closed;
    const b = await raw(url);
    b.ws.send(helloFrame(SID, 1, 2)); // saw s1 only; holds nothing below 2... and 2 was processed
    expect(JSON.parse(await b.frame(1))).toEqual({ type: 'welcome', sid: SID, resumed: true, ack: 2, next: 2 });
    expect(await b.frame(2)).toBe('2:s2');
    expect(received).toEqual(['x', 'y']);
    expect(server.stats).toMatchObject({ created: 1, resumed: 1, processed: 2, duplicates: 1, replayed: 1 });
  });

  it('the newest socket wins a session: the older one is closed with 4408', async () => {
    const { url } = await ackServer();
    const a = await raw(url);
    a.ws.send(helloFrame(SID, 0, 1));
    await a.frame(1);
    const b = await raw(url);
    b.ws.send(helloFrame(SID, 0, 1));
    expect(JSON.parse(await b.frame(1))).toMatchObject({ resumed: true });
    expect(await a.closed).toMatchObject({ code: 4408 });
  });

  it.each([
    ['data before hello', ['1:x'], 1002],
    ['binary data before hello', [Buffer.alloc(9)], 1002],
    ['a malformed hello', ['{"type":"hello","sid":"x","ack":0,"next":1}'], 1002],
    ['a second hello', [helloFrame(SID, 0, 1), helloFrame(SID, 0, 1)], 1002],
    ['a sequence gap', [helloFrame(SID, 0, 1), '2:x'], 4409],
    ['a binary frame shorter than its header', [helloFrame(SID, 0, 1), Buffer.alloc(3)], 1002],
    ['a welcome from a client', [`{"type":"welcome","sid":"${SID}","resumed":false,"ack":0,"next":1}`], 1002],
  ])('closes the socket on %s (%j) with %d', async (_name, frames, code) => {
    const { url } = await ackServer();
    const c = await raw(url);
    for (const f of frames) c.ws.send(f);
    expect((await c.closed).code).toBe(code);
  });

  it('refuses sockets that did not negotiate the protocol (1002), unless onPlainConnection takes them', async () => {
    const { url } = await ackServer();
    const c = await raw(url, ['chat']);
    expect(await c.closed).toEqual({ code: 1002, reason: `${ACK_PROTOCOL} required` });
    const plain: string[] = [];
    const { url: url2 } = await ackServer({ onPlainConnection: (ws) => plain.push(ws.protocol) });
    await raw(url2, []);
    await until(() => plain.length === 1);
    expect(plain).toEqual(['']);
  });

  it('hands unsequenced frames (auth, app pings) to onUnsequenced, and namespaces sessions with sessionKey', async () => {
    const raws: string[] = [];
    const keys: string[] = [];
    const { url } = await ackServer({
      onUnsequenced: (_ws, payload) => raws.push(String(payload)),
      sessionKey: (sid, request) => `${request.headers['x-user'] ?? 'anon'}/${sid}`,
      onSession: (s) => keys.push(s.id),
    });
    const c = await raw(url);
    c.ws.send('{"type":"auth","token":"t"}');
    c.ws.send(helloFrame(SID, 0, 1));
    await c.frame(1);
    expect(raws).toEqual(['{"type":"auth","token":"t"}']);
    expect(keys).toEqual([`anon/${SID}`]);
  });

  it('two nodes on one store: the node a client left does not expire the session another node resumed', async () => {
    const inner = createMemorySessionStore();
    // A store shared by nodes holds copies, not the nodes' objects.
    const store: SessionStore = {
      get: (id) => structuredClone(inner.get(id)),
      set: (record) => inner.set(structuredClone(record)),
      delete: (id, epoch) => inner.delete(id, epoch),
    };
    const clockA = new SimulatedClock();
    const expiredOnA: string[][] = [];
    const a = await ackServer({ store, clock: clockA, ackEvery: 1, sessionTtl: 1_000, onExpire: (_s, undelivered) => expiredOnA.push(undelivered.map(String)) });
    const b = await ackServer({ store, sessionTtl: 1_000 });
    const urls = [a.url];
    const roaming = createConnection(() => urls.shift() ?? b.url, { ...fast, delivery: atLeastOnce() });
    cleanup.push(() => roaming.close());
    await roaming.opened();
    roaming.send('1');
    await until(() => a.received.length === 1 && roaming.bufferedAmount === 0);
    a.killAll(); // the client comes back on node B, which resumes the session from the store
    await nextEvent(roaming, 'open');
    await until(() => b.server.stats.resumed === 1);
    clockA.increment(1_000); // node A's expiry timer for its stale copy fires
    await until(() => a.server.sessions.size === 0);
    expect(expiredOnA).toEqual([]); // nothing to report: B owns the session
    expect(inner.size).toBe(1); // and its record is still there
    roaming.send('2');
    await until(() => b.received.length === 1 && roaming.bufferedAmount === 0);
    expect(b.received).toEqual(['2']);
    expect(a.received).toEqual(['1']);
  });

  it('works with an async store: frames wait for the load, acks wait for the write, a stale writer is closed (4408)', async () => {
    const inner = createMemorySessionStore();
    const delay = () => new Promise((r) => setTimeout(r, 5));
    let stale = false;
    const store: SessionStore = {
      get: async (id) => (await delay(), structuredClone(inner.get(id) as SessionRecord | undefined)),
      set: async (record) => (await delay(), stale ? false : inner.set(structuredClone(record))),
      delete: async (id) => (await delay(), inner.delete(id)),
    };
    const { url, received } = await ackServer({ store, ackEvery: 1 });
    const c = await raw(url);
    c.ws.send(helloFrame(SID, 0, 1));
    c.ws.send('1:early'); // arrives while the session loads
    expect(JSON.parse(await c.frame(1))).toMatchObject({ type: 'welcome' });
    expect(await c.frame(2)).toBe('{"type":"ack","ack":1}');
    expect(received).toEqual(['early']);
    expect((inner.get(SID) as SessionRecord).lastIn).toBe(1);
    stale = true; // another node took the session over
    c.ws.send('2:late');
    expect(await c.closed).toMatchObject({ code: 4408 });
  });

  it('memory store: onMessage gets an idempotency key and commits function effects with the mark; sendTo reaches the session; state is explicit', async () => {
    const effects: string[] = [];
    let session: AckSession | null = null;
    const { url, server } = await ackServer({
      onSession: (s) => (session = s),
      onMessage: (_s, payload, message) => {
        expect(() => message.commit(['RPUSH', 'x'] as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_DATA' }));
        message.commit(() => effects.push(`${message.key}=${String(payload)}`));
      },
    });
    const c = await raw(url);
    c.ws.send(helloFrame(SID, 0, 1));
    await c.frame(1);
    expect(session!.state).toBe('attached');
    c.ws.send('1:a');
    c.ws.send('1:a'); // a duplicate: no second effect
    c.ws.send('2:b');
    await until(() => effects.length === 2);
    expect(effects).toEqual([`${SID}:1=a`, `${SID}:2=b`]);
    expect(await server.sendTo(SID, 'pushed')).toBe(true);
    await until(() => c.frames.includes('1:pushed'));
    expect(await server.sendTo('unknown-session-0000001', 'x')).toBe(false);
    expect(await session!.sendDurable('durable')).toBe(true);
    await until(() => c.frames.includes('2:durable'));
    c.ws.terminate();
    await until(() => session!.state === 'detached');
    session!.end();
    expect(session!.state).toBe('expired');
  });

  it('validates its options', () => {
    const wss = new WebSocketServer({ noServer: true });
    const bad: Array<[string, unknown]> = [
      ['onMessage', undefined],
      ['sessionTtl', -1],
      ['sessionTtl', 2 ** 31],
      ['sessionTtl', NaN],
      ['maxUnacked', 0],
      ['maxUnackedBytes', 1.5],
      ['maxSessions', 0],
      ['ackEvery', Infinity],
      ['ackDelay', -5],
      ['store', { get() {} }],
      ['onExpire', 'no'],
      ['answerPings', 'yes'],
      ['clock', {}],
    ];
    for (const [name, value] of bad) {
      const options = { onMessage: () => {}, [name]: value } as unknown as AckServerOptions;
      expect(() => attachAckServer(wss, options), name).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining(name) }));
    }
    expect(() => attachAckServer({} as WebSocketServer, { onMessage: () => {} })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    wss.close();
  });
});
