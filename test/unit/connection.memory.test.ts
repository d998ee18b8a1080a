import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, createManualEnvironment, isSocketchartError } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';

/** Lets promise chains (async URL providers) run; no time passes. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: Parameters<typeof createConnection>[1] = {}) {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/socket', {
    transport: memory.transport,
    clock,
    random: () => 0.5,
    ...options,
  });
  return { memory, clock, conn };
}

describe('connection chart over the memory transport', () => {
  it('starts connecting, opens, and derives readyState from the state', () => {
    const { memory, conn } = setup();
    expect(conn.state).toBe('connecting.opening');
    expect(conn.readyState).toBe(conn.CONNECTING);
    memory.last!.accept('chat');
    expect(conn.state).toBe('open');
    expect(conn.readyState).toBe(1);
    expect(conn.protocol).toBe('chat');
  });

  it('fires open with the new state already visible, and statechange before it', () => {
    const { memory, conn } = setup();
    const seen: string[] = [];
    conn.addEventListener('statechange', (e) => seen.push(`${e.from}->${e.to} (${conn.readyState})`));
    conn.onopen = () => seen.push(`open (${conn.readyState}, ${conn.state})`);
    memory.last!.accept();
    expect(seen).toEqual(['connecting.opening->open (1)', 'open (1, open)']);
  });

  it('startClosed waits in idle until open()', () => {
    const { memory, conn } = setup({ startClosed: true });
    expect(conn.state).toBe('idle');
    expect(conn.readyState).toBe(0);
    expect(memory.peers).toHaveLength(0);
    conn.open();
    expect(conn.state).toBe('connecting.opening');
    expect(memory.peers).toHaveLength(1);
  });

  it('queues while not open and flushes in order before anything sent on open', () => {
    const { memory, conn } = setup();
    conn.send('a');
    conn.send('b');
    expect(conn.bufferedAmount).toBe(2);
    conn.onopen = () => conn.send('c');
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['a', 'b', 'c']);
    expect(conn.bufferedAmount).toBe(0);
  });

  it('backs off after a drop, with the jittered delay of retry 1, then reconnects on the clock', () => {
    const { memory, clock, conn } = setup();
    memory.last!.accept();
    const delays: number[] = [];
    conn.addEventListener('reconnecting', (e) => delays.push(e.delay));
    memory.last!.close(1006);
    expect(conn.state).toBe('reconnecting.backoff');
    expect(delays).toEqual([200]); // 0.5 * 400
    clock.increment(199);
    expect(memory.peers).toHaveLength(1);
    clock.increment(1);
    expect(conn.state).toBe('connecting.opening');
    expect(memory.peers).toHaveLength(2);
  });

  it('grows the window for consecutive failures and caps it at maxDelay', () => {
    const { memory, clock, conn } = setup({ backoff: { maxDelay: 1000 } });
    const delays: number[] = [];
    conn.addEventListener('reconnecting', (e) => delays.push(e.delay));
    for (let i = 0; i < 5; i++) {
      memory.last!.refuse();
      clock.increment(delays[delays.length - 1]!);
    }
    expect(delays).toEqual([200, 400, 500, 500, 500]);
  });

  it('resets the retry count only after the connection stayed up for resetAfter', () => {
    const { memory, clock, conn } = setup();
    const delays: number[] = [];
    conn.addEventListener('reconnecting', (e) => delays.push(e.delay));
    memory.last!.refuse();
    clock.increment(200);
    memory.last!.accept();
    memory.last!.close(1006); // flapped: opened and dropped at once
    clock.increment(400);
    memory.last!.accept();
    clock.increment(5000); // stable now
    memory.last!.close(1006);
    expect(delays).toEqual([200, 400, 200]);
  });

  it('gives up when maxRetries retries have failed (with 2: the third failure in a row), with giveup then close', () => {
    const { memory, clock, conn } = setup({ backoff: { maxRetries: 2 } });
    const log = recordEvents(conn, ['giveup', 'close', 'reconnecting']);
    memory.last!.refuse();
    clock.increment(1000);
    memory.last!.refuse();
    clock.increment(1000);
    memory.last!.refuse();
    expect(conn.state).toBe('closed');
    expect(conn.readyState).toBe(3);
    expect(conn.closedBy?.kind).toBe('giveup');
    expect(log).toEqual(['reconnecting', 'reconnecting', 'giveup', 'close:1006']);
  });

  it('maxRetries 0 means the first failure is final', () => {
    const { memory, conn } = setup({ backoff: { maxRetries: 0 } });
    memory.last!.refuse();
    expect(conn.closedBy?.kind).toBe('giveup');
  });

  it('abandons an attempt after connectTimeout and retries', () => {
    const { memory, clock, conn } = setup({ connectTimeout: 3000 });
    clock.increment(2999);
    expect(conn.state).toBe('connecting.opening');
    clock.increment(1);
    expect(conn.state).toBe('reconnecting.backoff');
    expect(memory.peers[0]!.terminated).toBe(true);
  });

  it('closes with a handshake: open -> closing -> closed, clean, one close event', () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const log = recordEvents(conn, ['statechange', 'close']);
    conn.close(4000, 'done');
    expect(conn.readyState).toBe(2);
    expect(memory.last!.clientClose).toEqual({ code: 4000, reason: 'done' });
    memory.last!.completeClose();
    expect(log).toEqual(['statechange:open->closing', 'statechange:closing->closed', 'close:4000']);
    expect(conn.closedBy).toMatchObject({ kind: 'user', code: 4000, reason: 'done', wasClean: true });
  });

  it('terminates a closing socket the server never answers, after closeTimeout', () => {
    const { memory, clock, conn } = setup({ closeTimeout: 1000 });
    memory.last!.accept();
    conn.close();
    clock.increment(999);
    expect(conn.state).toBe('closing');
    clock.increment(1);
    expect(conn.state).toBe('closed');
    expect(memory.last!.terminated).toBe(true);
    expect(conn.closedBy).toMatchObject({ kind: 'user', code: 1000, wasClean: false });
  });

  it('treats fatal close codes as final and 1013 as retry-later', () => {
    const fatal = setup();
    fatal.memory.last!.accept();
    fatal.memory.last!.close(1008, 'policy');
    expect(fatal.conn.closedBy).toMatchObject({ kind: 'fatal', code: 1008 });

    const later = setup();
    later.memory.last!.accept();
    const delays: number[] = [];
    later.conn.addEventListener('reconnecting', (e) => delays.push(e.delay));
    later.memory.last!.close(1013);
    expect(delays[0]).toBeGreaterThanOrEqual(2500);
  });

  it('honours closeCodes overrides and shouldReconnect', () => {
    const a = setup({ closeCodes: { 4001: 'fatal' } });
    a.memory.last!.accept();
    a.memory.last!.close(4001);
    expect(a.conn.closedBy?.kind).toBe('fatal');

    const b = setup({ shouldReconnect: () => false });
    b.memory.last!.accept();
    b.memory.last!.close(1001);
    expect(b.conn.closedBy).toMatchObject({ kind: 'server', code: 1001 });
  });

  it('drops queued messages with reason closed when the session ends, and sends after close', () => {
    const { conn } = setup();
    const log = recordEvents(conn, ['drop']);
    conn.send('x');
    conn.close();
    conn.send('y');
    expect(log).toEqual(['drop:closed:x', 'drop:closed:y']);
    expect(conn.state).toBe('closed');
  });

  it('waits for the network while offline and reconnects when it returns', () => {
    const env = createManualEnvironment(true);
    const { memory, conn } = setup({ environment: env.source });
    memory.last!.accept();
    env.setOnline(false);
    expect(conn.state).toBe('reconnecting.waitingForNetwork');
    env.setOnline(true);
    expect(conn.state).toBe('connecting.opening');
    expect(memory.peers).toHaveLength(2);
  });

  it('retries at once when the page becomes visible during a backoff', () => {
    const env = createManualEnvironment(true);
    const { memory, conn } = setup({ environment: env.source, backoff: { initialDelay: 60_000 } });
    memory.last!.refuse();
    expect(conn.state).toBe('reconnecting.backoff');
    env.becameVisible();
    expect(conn.state).toBe('connecting.opening');
    expect(memory.peers).toHaveLength(2);
  });

  it('reconnect() drops an open socket and attempts at once; from closed it starts a new session', () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const log = recordEvents(conn, ['close', 'statechange']);
    conn.reconnect();
    expect(memory.peers[0]!.terminated).toBe(true);
    expect(conn.state).toBe('connecting.opening');
    expect(log).toEqual(['statechange:open->connecting.opening', 'close:1006']);
    conn.close();
    expect(conn.state).toBe('closed');
    conn.reconnect();
    expect(conn.state).toBe('connecting.opening');
    expect(conn.closedBy).toMatchObject({ kind: 'user' });
  });

  it('uses retryWait instead of the timer when given', async () => {
    let release!: () => void;
    const { memory, clock, conn } = setup({ retryWait: () => new Promise<void>((r) => (release = r)) });
    memory.last!.refuse();
    clock.increment(1_000_000);
    await settle(); // the hook is called on a microtask
    expect(conn.state).toBe('reconnecting.backoff');
    release();
    await settle();
    expect(conn.state).toBe('connecting.opening');
  });

  it('opened() resolves on open, rejects on closed and on timeout (on the injected clock)', async () => {
    const a = setup();
    const opened = a.conn.opened();
    a.memory.last!.accept();
    await expect(opened).resolves.toBeUndefined();

    const b = setup({ backoff: { maxRetries: 0 } });
    const failed = b.conn.opened();
    b.memory.last!.refuse();
    await expect(failed).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });

    const c = setup();
    const slow = c.conn.opened({ timeout: 100 });
    c.clock.increment(100);
    await expect(slow).rejects.toMatchObject({ code: 'ERR_OPEN_TIMEOUT' });
  });

  it('a URL function is called before every attempt', async () => {
    let n = 0;
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    const conn = createConnection(() => `ws://example.test/?token=t${++n}`, { transport: memory.transport, clock, random: () => 0 });
    await settle();
    expect(memory.last!.request.url).toBe('ws://example.test/?token=t1');
    memory.last!.refuse();
    clock.increment(0);
    await settle();
    expect(memory.last!.request.url).toBe('ws://example.test/?token=t2');
    expect(conn.url).toBe('ws://example.test/?token=t2');
  });

  it('a URL function returning a bad URL ends the session with a typed error', async () => {
    const memory = createMemoryTransport();
    const conn = createConnection(() => 'ftp://nope', { transport: memory.transport });
    const error = await new Promise((resolve) => conn.addEventListener('error', (e) => resolve(e.error)));
    expect(isSocketchartError(error, 'ERR_INVALID_URL')).toBe(true);
    expect(conn.closedBy?.kind).toBe('error');
  });

  it('messages from a stale socket never reach listeners', () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const stale = memory.last!;
    const got: unknown[] = [];
    conn.onmessage = (e) => got.push(e.data);
    conn.reconnect();
    stale.state = 'open'; // pretend the old socket still talks
    stale.message('ghost');
    memory.last!.accept();
    memory.last!.message('live');
    expect(got).toEqual(['live']);
  });
});
