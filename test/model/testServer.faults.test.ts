/**
 * The fault controls and reply hooks of `createTestServer()` (socketchart/testing), each against a real connection.
 */
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { createConnection } from '../../src/node.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';
import { nextEvent, reachState } from '../support/events.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function server(options?: Parameters<typeof createTestServer>[0]): Promise<TestServer> {
  const s = await createTestServer(options);
  cleanup.push(() => s.close());
  return s;
}

function connect(url: string, options: Parameters<typeof createConnection>[1] = {}): Connection {
  const conn = createConnection(url, { retryWait: () => Promise.resolve(), random: () => 0, ...options });
  cleanup.push(() => conn.close());
  return conn;
}

/** Resolves once the heartbeat region is in `probing` (the ping went out). */
const probing = (conn: Connection) => conn.actor.getSnapshot().matches({ attempt: { open: { heartbeat: 'probing' } } });
const network = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createTestServer fault controls', () => {
  it('delayNext answers the next handshake only after the delay', async () => {
    const s = await server();
    s.delayNext(80);
    const started = Date.now();
    const conn = connect(s.url());
    await conn.opened();
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    expect(s.accepted).toBe(1);
  });

  it('holdHandshakes parks handshakes until accepted or refused; a held one lets connectTimeout expire', async () => {
    const s = await server({ holdHandshakes: true });
    const clock = new SimulatedClock();
    const conn = connect(s.url(), { clock, connectTimeout: 1_000 });
    await s.waitForHeld();
    clock.increment(1_000); // the client abandons the held handshake and retries at once
    await network(30);
    expect(conn.state).toBe('connecting.opening');
    expect(s.held).toBe(1); // the new attempt's; the abandoned one is gone
    s.refuseHeld(503);
    const error = await nextEvent(conn, 'error');
    expect(error.message).toMatch(/503/);
    await s.waitForHeld();
    s.acceptHeld();
    await conn.opened();
    expect(s.accepted).toBe(1);
  });

  it('blackhole holds bytes both ways with TCP up; only the heartbeat notices; when it heals, what it held arrives, in order', async () => {
    const s = await server();
    const clock = new SimulatedClock();
    const conn = connect(s.url(), { clock, heartbeat: { interval: 1_000, timeout: 500 } });
    await conn.opened();
    s.blackhole(true);
    conn.send('lost');
    await network();
    expect(s.received).toEqual([]);
    clock.increment(1_000);
    await network();
    expect(probing(conn)).toBe(true); // no pong came back
    expect(s.sockets.size).toBe(1); // the TCP connection is still up
    const lost = nextEvent(conn, 'close');
    clock.increment(500);
    expect((await lost).reason).toBe('Heartbeat timeout');
    s.blackhole(false);
    await nextEvent(conn, 'open');
    conn.send('heard');
    await nextEvent(conn, 'message');
    // 'lost' was in flight on the old connection: the healed path delivered it (then the client's FIN), as TCP
    // retransmission would. The client had reported it 'unconfirmed' when the heartbeat gave up.
    expect(s.received).toEqual(['lost', 'heard']);
  });

  it('setAutoPong(false) withholds pongs while messages still flow', async () => {
    const s = await server({ autoPong: false });
    const clock = new SimulatedClock();
    const conn = connect(s.url(), { clock, heartbeat: { interval: 1_000, timeout: 500 } });
    await conn.opened();
    clock.increment(1_000);
    await network();
    expect(probing(conn)).toBe(true);
    s.setAutoPong(true);
    clock.increment(500); // this probe is lost; the connection is replaced
    await nextEvent(conn, 'open');
    clock.increment(1_000);
    await reachState(conn, 'open');
    await network();
    expect(probing(conn)).toBe(false); // answered now
  });

  it('sendMalformedFrame: the Node client fails the connection with 1002 (error, then close) and does not retry', async () => {
    const s = await server();
    const conn = connect(s.url());
    await conn.opened();
    const error = nextEvent(conn, 'error');
    const close = nextEvent(conn, 'close');
    s.sendMalformedFrame();
    expect((await error).message).toMatch(/invalid opcode/i);
    // The server broke the protocol: retrying would fail the same way (a browser only sees 1006, and retries).
    expect(await close).toMatchObject({ code: 1002, wasClean: false, closedBy: { kind: 'fatal' } });
    expect(conn.state).toBe('closed');
    expect(s.accepted).toBe(1);
  });

  it('stop and restart on the same port: the connection comes back', async () => {
    const s = await server();
    const conn = connect(s.url(), { backoff: { maxAttempts: 1_000 } });
    await conn.opened();
    const port = s.port;
    const closed = nextEvent(conn, 'close');
    await s.stop();
    await closed;
    await network(30); // a few refused attempts
    expect(conn.state).not.toBe('open');
    await s.restart();
    expect(s.port).toBe(port);
    await nextEvent(conn, 'open');
  });
});

describe('createTestServer scripted replies', () => {
  it('scriptAuth acknowledges accepted tokens and refuses the others', async () => {
    const s = await server({ onMessage: () => {} });
    s.scriptAuth((token) => token === 'good');
    const good = connect(s.url(), { auth: { token: () => 'good' } });
    await good.opened();
    const bad = connect(s.url(), { auth: { token: () => 'bad' } });
    await reachState(bad, 'closed');
    expect(bad.closedBy?.kind).toBe('auth');
  });

  it('reply answers matching messages instead of echoing them (a message-mode pong), until removed', async () => {
    const s = await server();
    const stop = s.reply('{"type":"ping"}', '{"type":"pong"}');
    const clock = new SimulatedClock();
    const conn = connect(s.url(), { clock, heartbeat: { mode: 'message', interval: 1_000, timeout: 500 } });
    await conn.opened();
    clock.increment(1_000);
    await network();
    expect(probing(conn)).toBe(false); // the scripted pong answered the probe
    expect(conn.rtt).not.toBeNull();
    stop(); // now the ping is echoed: not a pong
    clock.increment(1_000);
    await network();
    expect(probing(conn)).toBe(true);
  });

  it('reply with times answers only that many messages', async () => {
    const s = await server();
    s.reply(/^hello/, (text) => [`${text}!`, 'second'], { times: 1 });
    const conn = connect(s.url());
    await conn.opened();
    const got: unknown[] = [];
    conn.onmessage = (e) => got.push(e.data);
    conn.send('hello');
    conn.send('hello again');
    await network();
    expect(got).toEqual(['hello!', 'second', 'hello again']);
  });
});
