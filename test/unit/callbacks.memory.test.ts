import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, jsonCodec } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: Parameters<typeof createConnection>[1] = {}) {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/', { transport: memory.transport, clock, random: () => 0, ...options });
  return { memory, clock, conn };
}

const boom = () => {
  throw new Error('boom');
};

describe('user callbacks that throw never kill the chart', () => {
  it('shouldReconnect throwing: reported as an error, and the connection reconnects', () => {
    const { memory, clock, conn } = setup({ shouldReconnect: boom });
    const log = recordEvents(conn, ['error', 'close']);
    memory.last!.accept();
    memory.last!.close(1006);
    expect(conn.state).toBe('reconnecting.backoff');
    expect(log).toEqual(['error', 'close:1006']); // the error came up while deciding where to go
    clock.increment(0);
    expect(conn.state).toBe('connecting.opening');
  });

  it('a closeCodes classifier throwing falls back to the default verdicts', () => {
    const { memory, conn } = setup({ closeCodes: boom as never });
    memory.last!.accept();
    memory.last!.close(1002);
    expect(conn.closedBy?.kind).toBe('fatal');
  });

  it('random returning garbage is reported and replaced by a mid-window jitter', () => {
    const { memory, conn } = setup({ random: () => 7 });
    const delays: number[] = [];
    conn.addEventListener('reconnecting', (e) => delays.push(e.delay));
    memory.last!.refuse();
    expect(delays).toEqual([200]);
  });

  it('a retryWait that throws, rejects or returns no promise still ends the backoff', async () => {
    for (const retryWait of [boom, () => Promise.reject(new Error('no')), () => undefined]) {
      const { memory, conn } = setup({ retryWait: retryWait as never });
      memory.last!.refuse();
      await settle();
      expect(conn.state).toBe('connecting.opening');
      expect(memory.peers).toHaveLength(2);
    }
  });

  it('auth.message throwing fails the auth visibly instead of hanging in authenticating', async () => {
    const { memory, conn } = setup({ auth: { token: () => 't', message: boom } });
    const errors = recordEvents(conn, ['error']);
    await settle();
    memory.last!.accept();
    await settle();
    expect(errors.length).toBeGreaterThan(0);
    expect(conn.state).not.toBe('connecting.authenticating');
  });

  it('a throwing listener does not stop other listeners or the chart', async () => {
    const { memory, conn } = setup({ codec: jsonCodec() });
    const got: string[] = [];
    conn.addEventListener('open', () => {
      throw new Error('listener bug');
    });
    conn.addEventListener('open', () => got.push('second'));
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    memory.last!.accept();
    await settle();
    process.off('uncaughtException', onUncaught);
    expect(got).toEqual(['second']);
    expect(conn.state).toBe('open');
    expect(uncaught).toHaveLength(1);
  });
});
