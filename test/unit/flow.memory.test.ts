import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import { TokenBucket } from '../../src/policies/rateLimit.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';

function setup(options: Parameters<typeof createConnection>[1] = {}) {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/', { transport: memory.transport, clock, ...options });
  return { memory, clock, conn };
}

describe('token bucket', () => {
  it('allows a burst, then perSecond on average', () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.wait(0)).toBe(100);
    expect(bucket.take(99)).toBe(false);
    expect(bucket.take(100)).toBe(true);
    expect(bucket.take(10_000) && bucket.take(10_000) && bucket.take(10_000) && !bucket.take(10_000)).toBe(true);
  });
});

describe('rate limit', () => {
  it('holds excess messages in the queue and releases them at the rate, in order, none dropped', () => {
    const { memory, clock, conn } = setup({ flow: { rateLimit: { perSecond: 2, burst: 2 } } });
    const drops = recordEvents(conn, ['drop']);
    memory.last!.accept();
    for (const m of ['a', 'b', 'c', 'd', 'e']) conn.send(m);
    expect(memory.last!.sent).toEqual(['a', 'b']);
    clock.increment(500);
    expect(memory.last!.sent).toEqual(['a', 'b', 'c']);
    clock.increment(500);
    clock.increment(500);
    expect(memory.last!.sent).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(drops).toEqual([]);
  });
});

describe('backpressure', () => {
  it('queues above the high-water mark, resumes below the low-water mark and fires drain', () => {
    const { memory, clock, conn } = setup({ flow: { highWaterMark: 100, lowWaterMark: 10 } });
    const log = recordEvents(conn, ['drain']);
    memory.last!.accept();
    const peer = memory.last!;
    conn.send('1');
    peer.buffered = 150;
    conn.send('2');
    conn.send('3');
    expect(peer.sent).toEqual(['1']);
    expect(conn.bufferedAmount).toBe(152);
    peer.buffered = 50;
    clock.increment(16);
    expect(peer.sent).toEqual(['1', '2', '3']);
    expect(log).toEqual([]);
    peer.buffered = 5;
    clock.increment(16);
    expect(log).toEqual(['drain']);
  });

  it('leaves no pump timer behind when the connection closes', () => {
    const { memory, clock, conn } = setup({ flow: { highWaterMark: 10 } });
    memory.last!.accept();
    memory.last!.buffered = 100;
    conn.send('x');
    conn.close();
    memory.last!.completeClose();
    expect(conn.state).toBe('closed');
    expect((clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size).toBe(0);
  });
});
