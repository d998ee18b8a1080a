import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { type ConnectionOptions, createConnection } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import type { StandardSchemaV1 } from '../../src/messages/schema.js';

/**
 * Bursts of sends (bench/bursts.ts measures their cost; here only what they do is asserted): what a burst costs per
 * message that can be counted without a timer, and that every message of it is accounted for.
 */

/** A SimulatedClock that counts its reads: a clock read per message is the cost a burst must not pay for nothing. */
function countingClock() {
  const clock = new SimulatedClock();
  const read = clock.now.bind(clock);
  let reads = 0;
  const counting = Object.assign(clock, {
    now: () => {
      reads++;
      return read();
    },
  });
  return { clock: counting, reads: () => reads };
}

function setup(options: ConnectionOptions<string, string> = {}) {
  const memory = createMemoryTransport({ canPing: false });
  const { clock, reads } = countingClock();
  const conn = createConnection<string, string>('ws://example.test/', {
    transport: memory.transport,
    clock,
    random: () => 0.5,
    heartbeat: false,
    ...options,
  });
  const drops: string[] = [];
  conn.addEventListener('drop', (e) => drops.push(`${e.reason}:${e.data as string}`));
  return { memory, clock, conn, drops, reads };
}

describe('a burst sent while connecting', () => {
  it('queues without reading the clock per message when nothing expires (queue.ttl unset)', async () => {
    const { memory, conn, reads } = setup({ queue: { maxMessages: 10_000 } });
    await memory.waitForPeer();
    const before = reads();
    for (let i = 0; i < 1_000; i++) conn.send(`m${i}`);
    // The queue only needs the time to expire entries; without a ttl a read per message is pure cost.
    expect(reads() - before).toBe(0);
    expect(conn.metrics.queueLength).toBe(1_000);
  });

  it('still stamps queued messages when queue.ttl is set, so they expire', async () => {
    const { memory, clock, conn, drops } = setup({ queue: { ttl: 1_000 } });
    await memory.waitForPeer();
    conn.send('old');
    clock.increment(1_500);
    conn.send('new');
    expect(drops).toEqual(['expired:old']);
    expect(conn.metrics.queueLength).toBe(1);
  });

  it('is flushed whole and in order on open', async () => {
    const { memory, conn, drops } = setup({ queue: { maxMessages: 10_000 } });
    const peer = await memory.waitForPeer();
    for (let i = 0; i < 5_000; i++) conn.send(`m${i}`);
    peer.accept();
    expect(peer.sent).toEqual(Array.from({ length: 5_000 }, (_, i) => `m${i}`));
    expect(drops).toEqual([]);
    expect(conn.metrics.queueLength).toBe(0);
  });

  it('past queue.maxMessages: one drop per message pushed out, oldest first, and the newest flushed on open', async () => {
    const { memory, conn, drops, reads } = setup({ queue: { maxMessages: 100 } });
    const peer = await memory.waitForPeer();
    const before = reads();
    for (let i = 0; i < 10_000; i++) conn.send(`m${i}`);
    expect(drops.length).toBe(9_900);
    expect(drops[0]).toBe('queue-full:m0');
    expect(drops[9_899]).toBe('queue-full:m9899');
    // One read per drop event (its timeStamp) at most; none for the queueing itself.
    expect(reads() - before).toBeLessThanOrEqual(9_900);
    peer.accept();
    expect(peer.sent).toEqual(Array.from({ length: 100 }, (_, i) => `m${9_900 + i}`));
  });
});

describe('a burst received', () => {
  it('on the real clock, the messages of one task share one clock read (their arrival instant), and the next task reads again', async () => {
    const memory = createMemoryTransport({ canPing: false });
    const conn = createConnection<string, string>('ws://example.test/', { transport: memory.transport, random: () => 0.5, heartbeat: false });
    memory.last!.accept();
    const stamps: number[] = [];
    conn.onmessage = (e) => stamps.push(e.timeStamp);
    const realNow = Date.now;
    let reads = 0;
    Date.now = () => {
      reads++;
      return realNow();
    };
    try {
      for (let i = 0; i < 1_000; i++) memory.last!.message(`m${i}`);
      expect(stamps).toHaveLength(1_000);
      expect(reads).toBe(1);
      expect(new Set(stamps).size).toBe(1);
      await new Promise((resolve) => setImmediate(resolve)); // a later task: a fresh reading
      memory.last!.message('later');
      expect(reads).toBe(2);
      expect(stamps[1_000]).toBeGreaterThanOrEqual(stamps[0]!);
    } finally {
      Date.now = realNow;
      conn.close();
    }
  });
});

describe('a burst received across a later clock reading', () => {
  it('time stamps never go back within a task, and the per-second metrics keep every message', async () => {
    const { metrics } = await import('../../src/plugins/metrics.js');
    const memory = createMemoryTransport({ canPing: false });
    const realNow = Date.now;
    let t = 999_900;
    Date.now = () => t;
    try {
      const conn = createConnection<string, string>('ws://example.test/', { transport: memory.transport, heartbeat: false, metrics: metrics() });
      memory.last!.accept();
      const stamps: number[] = [];
      conn.onmessage = (e) => {
        stamps.push(e.timeStamp);
        if (e.data === 'm1') {
          t = 1_000_100; // a slow listener that reads the dashboard: the clock moved into the next second
          void conn.metrics.messagesInLastSecond;
        }
      };
      for (const m of ['m1', 'm2', 'm3']) memory.last!.message(m); // one socket read: one task
      expect(stamps).toEqual([999_900, 1_000_100, 1_000_100]);
      t = 1_000_200;
      expect(conn.metrics.messagesIn).toBe(3);
      expect(conn.metrics.messagesInLastSecond).toBe(1); // second 999: m1
      t = 1_001_050;
      expect(conn.metrics.messagesInLastSecond).toBe(2); // second 1000: m2 and m3, none lost to a "clock going back"
      conn.close();
    } finally {
      Date.now = realNow;
    }
  });
});

describe('metrics: a stamp older than the second being counted (review F2)', () => {
  it("a listener's reply after it read a later second is counted, not taken for a clock jump back", async () => {
    const { metrics } = await import('../../src/plugins/metrics.js');
    const memory = createMemoryTransport({ canPing: false });
    const realNow = Date.now;
    let t = 10_999;
    Date.now = () => t;
    try {
      const conn = createConnection<string, string>('ws://example.test/', { transport: memory.transport, heartbeat: false, metrics: metrics() });
      memory.last!.accept();
      for (const m of ['a', 'b', 'c']) conn.send(m); // second 10
      let seen: number | null = null;
      conn.addEventListener('message', () => {
        t = 11_500; // the listener took a while: second 11 now
        seen = conn.metrics.messagesOutLastSecond;
        conn.send('reply'); // carries the message's arrival instant, 10_999
      });
      memory.last!.message('ping');
      t = 11_600;
      expect(seen).toBe(3);
      expect(conn.metrics.messagesOutLastSecond).toBe(3); // second 10 is still what it was
      t = 12_100;
      expect(conn.metrics.messagesOutLastSecond).toBe(1); // the reply, counted in second 11
      conn.close();
    } finally {
      Date.now = realNow;
    }
  });

  it('the reply to a message validated a second after it arrived is counted too', async () => {
    const { metrics } = await import('../../src/plugins/metrics.js');
    const { schema } = await import('../../src/plugins/schema.js');
    const memory = createMemoryTransport({ canPing: false });
    const realNow = Date.now;
    let t = 20_100;
    Date.now = () => t;
    try {
      let release: (r: unknown) => void = () => {};
      const validator: StandardSchemaV1<unknown, string> = {
        '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => new Promise((resolve) => (release = () => resolve({ value: value as string }))) },
      };
      const conn = createConnection<string, string>('ws://example.test/', { transport: memory.transport, heartbeat: false, metrics: metrics(), schema: schema(validator) });
      memory.last!.accept();
      conn.addEventListener('message', () => conn.send('reply'));
      memory.last!.message('m'); // arrives at 20_100
      t = 21_200;
      conn.send('x');
      conn.send('y'); // second 21
      release(undefined);
      await new Promise((resolve) => setImmediate(resolve));
      t = 22_100;
      expect(conn.metrics.messagesOutLastSecond).toBe(3);
      conn.close();
    } finally {
      Date.now = realNow;
    }
  });
});
