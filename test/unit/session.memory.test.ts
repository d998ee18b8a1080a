import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: Parameters<typeof createConnection>[1] = {}, canPing = true) {
  const memory = createMemoryTransport({ canPing });
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/', { transport: memory.transport, clock, random: () => 0.5, ...options });
  return { memory, clock, conn };
}

describe('auth (connecting.authenticating)', () => {
  const token = () => 'secret-token';

  it('sends the auth message after the socket opens and fires open only after the ack; app messages wait', async () => {
    const { memory, conn } = setup({ auth: { token } });
    const log = recordEvents(conn, ['statechange', 'open']);
    conn.send('app-1');
    await settle();
    memory.last!.accept();
    expect(conn.state).toBe('connecting.authenticating');
    expect(conn.readyState).toBe(0);
    expect(memory.last!.sent).toEqual(['{"type":"auth","token":"secret-token"}']);
    memory.last!.message('{"type":"auth_ok"}');
    expect(conn.state).toBe('open');
    expect(memory.last!.sent).toEqual(['{"type":"auth","token":"secret-token"}', 'app-1']);
    expect(log).toEqual([
      'statechange:connecting.opening->connecting.authenticating',
      'statechange:connecting.authenticating->open',
      'open',
    ]);
  });

  it('refreshes the token once after a nack, then gives up with closedBy auth', async () => {
    let n = 0;
    const { memory, conn } = setup({ auth: { token: () => `t${++n}` } });
    await settle();
    memory.last!.accept();
    memory.last!.message('{"type":"auth_error"}');
    await settle();
    expect(memory.peers).toHaveLength(2);
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['{"type":"auth","token":"t2"}']);
    memory.last!.message('{"type":"auth_error"}');
    expect(conn.state).toBe('closed');
    expect(conn.closedBy).toMatchObject({ kind: 'auth', reason: 'Authentication refused' });
  });

  it('treats a missing ack as a refusal after auth.timeout', async () => {
    const { memory, clock, conn } = setup({ auth: { token, timeout: 1000 } });
    await settle();
    memory.last!.accept();
    clock.increment(1000);
    await settle();
    memory.last!.accept();
    clock.increment(1000);
    expect(conn.closedBy).toMatchObject({ kind: 'auth', reason: 'Authentication timed out' });
  });

  it('a 4001 close from the server refreshes the token and reconnects once; a second one is final', async () => {
    let n = 0;
    const { memory, conn } = setup({ auth: { token: () => `t${++n}`, mode: 'query' } });
    await settle();
    expect(memory.last!.request.url).toBe('ws://example.test/?token=t1');
    expect(conn.url).toBe('ws://example.test/?token=REDACTED');
    memory.last!.accept();
    memory.last!.close(4001, 'token expired');
    await settle();
    expect(memory.last!.request.url).toBe('ws://example.test/?token=t2');
    memory.last!.accept();
    memory.last!.close(4001, 'token expired');
    expect(conn.closedBy).toMatchObject({ kind: 'auth', code: 4001 });
  });

  it('header mode puts the token in the handshake', async () => {
    const { memory } = setup({ auth: { token, mode: 'header' } });
    await settle();
    expect(memory.last!.request.headers).toEqual({ Authorization: 'Bearer secret-token' });
  });

  it('never puts the token in statechange events or the chart snapshot', async () => {
    const { memory, conn } = setup({ auth: { token } });
    const seen: string[] = [];
    conn.addEventListener('statechange', (e) => seen.push(JSON.stringify(e.event)));
    await settle();
    memory.last!.accept();
    memory.last!.message('{"type":"auth_ok"}');
    const snapshot = conn.actor.getSnapshot();
    expect(JSON.stringify({ value: snapshot.value, context: snapshot.context })).not.toContain('secret-token');
    expect(JSON.stringify(structuredClone(snapshot.context))).not.toContain('secret-token');
    expect(seen.join()).not.toContain('secret-token');
  });
});

describe('heartbeat (a parallel region of open)', () => {
  it('pings every interval and declares the connection dead when no pong comes within the timeout', () => {
    const { memory, clock, conn } = setup({ heartbeat: { interval: 1000, timeout: 500 } });
    memory.last!.accept();
    expect(conn.actor.getSnapshot().value).toEqual({ attempt: { open: { heartbeat: 'resting' } } });
    clock.increment(1000);
    expect(memory.last!.pings).toBe(1);
    memory.last!.pong();
    clock.increment(1000);
    expect(memory.last!.pings).toBe(2);
    const closes: string[] = [];
    conn.addEventListener('close', (e) => closes.push(e.reason));
    clock.increment(500);
    expect(conn.state).toBe('reconnecting.backoff');
    expect(closes).toEqual(['Heartbeat timeout']);
    expect(memory.peers[0]!.terminated).toBe(true);
  });

  it('counts any inbound message during a probe as life (passive mode needs nothing else)', () => {
    const { memory, clock, conn } = setup({ heartbeat: { mode: 'passive', interval: 1000, timeout: 500 } });
    memory.last!.accept();
    clock.increment(1000);
    memory.last!.message('tick');
    clock.increment(500);
    expect(conn.state).toBe('open');
    // SimulatedClock starts timers set during a flush at the new time, so time advances one timer at a time.
    clock.increment(1000);
    clock.increment(500);
    expect(conn.state).toBe('reconnecting.backoff');
  });

  it('message mode sends the ping message, matches pongs, keeps them from listeners, and measures RTT', () => {
    const { memory, clock, conn } = setup({ heartbeat: { mode: 'message', interval: 1000, timeout: 500 } }, false);
    const got: unknown[] = [];
    conn.onmessage = (e) => got.push(e.data);
    memory.last!.accept();
    clock.increment(1000);
    expect(memory.last!.sent).toEqual(['{"type":"ping"}']);
    clock.increment(42);
    memory.last!.message('{"type":"pong"}');
    memory.last!.message('data');
    clock.increment(500);
    expect(conn.state).toBe('open');
    expect(got).toEqual(['data']);
    expect(conn.rtt).toBe(42);
  });

  it('is off with heartbeat: false, and by default where the transport cannot ping', () => {
    const off = setup({ heartbeat: false });
    off.memory.last!.accept();
    expect(off.conn.actor.getSnapshot().value).toEqual({ attempt: { open: { heartbeat: 'off' } } });
    const browserLike = setup({}, false);
    browserLike.memory.last!.accept();
    expect(browserLike.conn.actor.getSnapshot().value).toEqual({ attempt: { open: { heartbeat: 'off' } } });
  });
});
