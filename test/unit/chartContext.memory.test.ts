/**
 * The chart is the truth of the lifecycle: its context is data, what it decides reaches the host (and apps) as
 * emitted events, and `readyState`, `state` and `closedBy` are read from its snapshot.
 */
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { type ConnectionEmitted, createConnection } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

/** Lets the token provider's promise run; no time passes. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: Parameters<typeof createConnection>[1] = {}) {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/socket', { transport: memory.transport, clock, random: () => 0.5, ...options });
  return { memory, clock, conn };
}

describe("the chart's context is data", () => {
  it('survives structuredClone in every state, with the app callbacks kept out of it', async () => {
    const { memory, clock, conn } = setup({
      shouldReconnect: () => true,
      closeCodes: () => 'retry',
      retryWait: () => undefined,
      auth: { token: () => 'secret', mode: 'message', message: (t) => JSON.stringify({ auth: t }) },
      heartbeat: { interval: 1_000, timeout: 500, mode: 'message', ping: () => 'ping', isPong: (d) => d === 'pong' },
    });
    const clones = [structuredClone(conn.actor.getSnapshot().context)];
    await settle();
    memory.last!.accept();
    clones.push(structuredClone(conn.actor.getSnapshot().context));
    memory.last!.message('{"type":"auth_ok"}');
    expect(conn.state).toBe('open');
    clones.push(structuredClone(conn.actor.getSnapshot().context));
    memory.last!.close(1012, 'restart');
    expect(conn.state).toBe('reconnecting.backoff');
    clones.push(structuredClone(conn.actor.getSnapshot().context));
    conn.close(4000, 'done');
    clones.push(structuredClone(conn.actor.getSnapshot().context));
    clock.increment(10_000);
    for (const clone of clones) {
      expect(JSON.stringify(clone)).not.toContain('secret');
      expect(clone.policy.heartbeat).toEqual({ interval: 1_000, timeout: 500 });
      expect(clone.policy.waitsForRetryHook).toBe(true);
    }
    expect(clones[3]!.lastClose).toEqual({ code: 1012, reason: 'restart', wasClean: true });
    expect(clones[4]!.closedBy).toMatchObject({ kind: 'user', code: 4000, reason: 'done' });
  });
});

describe('what the chart emits', () => {
  it('reaches conn.actor.on() after the commit, in order, with the state already visible', () => {
    const { memory, clock, conn } = setup({ backoff: { initialDelay: 100 } });
    const heard: string[] = [];
    const record = (event: ConnectionEmitted) => heard.push(`${event.type}@${conn.state}`);
    for (const type of ['opened', 'leftOpen', 'disconnected', 'retrying', 'closed', 'failed'] as const) conn.actor.on(type, record);
    memory.last!.accept();
    memory.last!.error('reset');
    memory.last!.close(1006);
    clock.increment(1_000);
    memory.last!.accept();
    conn.close(1000, 'bye');
    memory.last!.close(1000, 'bye');
    expect(heard).toEqual([
      'opened@open',
      'failed@open',
      'leftOpen@reconnecting.backoff',
      'disconnected@reconnecting.backoff',
      'retrying@reconnecting.backoff',
      'opened@open',
      'leftOpen@closing',
      'closed@closed',
    ]);
  });
});

describe('closedBy is read from the chart', () => {
  it('stays the last close through a new session and a closing handshake, and changes only when closed again', () => {
    const { memory, conn } = setup();
    expect(conn.closedBy).toBeNull();
    memory.last!.accept();
    memory.last!.close(1008, 'policy');
    expect(conn.state).toBe('closed');
    const first = conn.closedBy;
    expect(first).toMatchObject({ kind: 'fatal', code: 1008 });
    conn.reconnect();
    memory.last!.accept();
    expect(conn.closedBy).toBe(first);
    conn.close(4001, 'leaving');
    expect(conn.state).toBe('closing');
    expect(conn.closedBy).toBe(first);
    memory.last!.close(4001, 'leaving');
    expect(conn.closedBy).toEqual({ kind: 'user', code: 4001, reason: 'leaving', wasClean: true });
  });

  it('a closing handshake that times out is the user close, not clean', () => {
    const { memory, clock, conn } = setup({ closeTimeout: 1_000 });
    memory.last!.accept();
    conn.close(4002, 'bye');
    clock.increment(1_000);
    expect(conn.state).toBe('closed');
    expect(conn.closedBy).toEqual({ kind: 'user', code: 4002, reason: 'bye', wasClean: false });
  });
});

describe('a failure in what the host does after a transition', () => {
  it('ends the connection visibly, as a failing chart does, instead of throwing out of XState', async () => {
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    const transport = {
      ...memory.transport,
      open: (request: Parameters<typeof memory.transport.open>[0], sink: Parameters<typeof memory.transport.open>[1]) => {
        const socket = memory.transport.open(request, sink);
        // A transport of the app's own whose socket throws on write: the host's open sequence writes the queue.
        socket.send = () => {
          throw new Error('write exploded');
        };
        return socket;
      },
    };
    const conn = createConnection('ws://example.test/socket', { transport, clock, unconfirmed: false });
    const seen: string[] = [];
    conn.addEventListener('error', (e) => seen.push(`error: ${(e.error as Error).message}`));
    conn.addEventListener('close', (e) => seen.push(`close ${e.code}`));
    conn.addEventListener('drop', (e) => seen.push(`drop ${e.reason}`));
    conn.send('queued');
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      memory.last!.accept();
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(conn.readyState).toBe(3);
    expect(conn.closedBy?.kind).toBe('error');
    expect(seen.some((line) => line.includes('write exploded'))).toBe(true);
    expect(seen).toContain('close 1006');
    expect(() => conn.reconnect()).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_CLOSED' }));
  });
});

describe('conn.actor.stop()', () => {
  it('after the connection closed adds no second close, and reconnect() then says the actor was stopped', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://example.test/socket', { transport: memory.transport, clock: new SimulatedClock() });
    memory.last!.accept();
    const closes: string[] = [];
    conn.addEventListener('close', (e) => closes.push(`${e.code} ${e.closedBy?.kind ?? '-'}`));
    conn.close(1000, 'done');
    memory.last!.close(1000, 'done');
    conn.actor.stop();
    expect(closes).toEqual(['1000 user']);
    expect(conn.closedBy?.kind).toBe('user');
    expect(() => conn.reconnect()).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_CLOSED', message: expect.stringContaining('its actor was stopped') }));
  });
});

describe('a host failure after a transition', () => {
  it('ends the connection once (one close, kind error), nothing thrown out of XState', () => {
    const memory = createMemoryTransport();
    const transport = {
      ...memory.transport,
      open: (request: Parameters<typeof memory.transport.open>[0], sink: Parameters<typeof memory.transport.open>[1]) => {
        const socket = memory.transport.open(request, sink);
        socket.send = () => {
          throw new Error('write exploded');
        };
        return socket;
      },
    };
    // The open sequence writes the queue, and the write throws.
    const conn = createConnection('ws://example.test/socket', { transport, clock: new SimulatedClock(), unconfirmed: false });
    const closes: string[] = [];
    conn.addEventListener('close', (e) => closes.push(`${e.code} ${e.closedBy?.kind ?? '-'}`));
    conn.send('queued');
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      memory.last!.accept();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(closes).toEqual(['1006 error']);
    expect(uncaught).toEqual([]);
  });
});
