import { SimulatedClock } from 'xstate';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type DropEvent, createConnection, jsonCodec } from '../../src/index.js';
import { atLeastOnce } from '../../src/delivery/index.js';
import { batching } from '../../src/plugins/batching.js';
import { MessageTrail } from '../../src/policies/queue.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

/**
 * A `drop` event carries the value given to `send()` (`e.message`) beside the frame the codec made of it
 * (`e.data`), so `conn.send(e.message)` resends it as it was: typed, and encoded once.
 */
type Msg = { type: 'chat'; text: string } | { type: 'join'; room: string };

function setup(options: Parameters<typeof createConnection<Msg, Msg>>[1] = {}, canPing = false) {
  const memory = createMemoryTransport({ canPing });
  const clock = new SimulatedClock();
  const conn = createConnection<Msg, Msg>('ws://example.test/', {
    codec: jsonCodec(),
    transport: memory.transport,
    clock,
    random: () => 0.5,
    heartbeat: false,
    ...options,
  });
  const drops: Array<DropEvent<Msg>> = [];
  conn.addEventListener('drop', (e) => drops.push(e));
  return { memory, clock, conn, drops };
}

const chat = (text: string): Msg => ({ type: 'chat', text });
/** What each drop reported: its reason, the message (the very object sent) and the frame. */
const summary = (drops: Array<DropEvent<Msg>>, sent: Msg[]) =>
  drops.map((e) => ({ reason: e.reason, message: sent.indexOf(e.message), data: e.data }));

describe('drop events carry the original message', () => {
  it('from the queue (full, expired, closed): the same object, beside its frame', () => {
    const { clock, conn, drops } = setup({ queue: { maxMessages: 2, ttl: 1000 } });
    const sent = [chat('a'), chat('b'), chat('c'), chat('d')];
    conn.send(sent[0]!);
    clock.increment(2000);
    conn.send(sent[1]!); // a expired
    conn.send(sent[2]!);
    conn.send(sent[3]!); // b pushed out
    conn.close();
    expect(summary(drops, sent)).toEqual([
      { reason: 'expired', message: 0, data: JSON.stringify(sent[0]) },
      { reason: 'queue-full', message: 1, data: JSON.stringify(sent[1]) },
      { reason: 'closed', message: 2, data: JSON.stringify(sent[2]) },
      { reason: 'closed', message: 3, data: JSON.stringify(sent[3]) },
    ]);
  });

  it('conn.send(e.message) resends it encoded once, and type-checks', () => {
    const { memory, clock, conn } = setup({ queue: { ttl: 1000 } });
    conn.addEventListener('drop', (e) => {
      expectTypeOf(e.message).toEqualTypeOf<Msg>();
      expectTypeOf(e.data).not.toEqualTypeOf<Msg>();
      conn.send(e.message);
    });
    conn.send(chat('late'));
    clock.increment(2000);
    conn.send(chat('next')); // 'late' expires first, and the listener queues it again at once
    memory.last!.accept();
    expect(memory.last!.sent).toEqual([JSON.stringify(chat('late')), JSON.stringify(chat('next'))]);
  });

  it('after close(): reason closed, with the message', () => {
    const { conn, drops } = setup();
    conn.close();
    const message = chat('too late');
    conn.send(message);
    expect(drops.map((e) => [e.reason, e.message])).toEqual([['closed', message]]);
    expect(drops[0]!.message).toBe(message);
  });

  it('unconfirmed writes, with each its own message, also after confirmations and the tracking limit', () => {
    const { memory, clock, conn, drops } = setup({ heartbeat: { interval: 1000, timeout: 500 }, unconfirmed: { maxMessages: 3 } }, true);
    const peer = memory.last!;
    peer.accept();
    const sent = ['a', 'b', 'c', 'd', 'e', 'f'].map(chat);
    conn.send(sent[0]!);
    conn.send(sent[1]!);
    clock.increment(1000); // the probe's ping covers a and b
    peer.pong(peer.lastPing);
    for (const m of sent.slice(2)) conn.send(m); // c..f: c is no longer tracked (maxMessages 3)
    peer.close(1006);
    expect(summary(drops, sent)).toEqual(
      [3, 4, 5].map((i) => ({ reason: 'unconfirmed', message: i, data: JSON.stringify(sent[i]) })),
    );
  });

  it('a socket that ends right after a pong confirmed everything reports nothing, and the next socket starts afresh', () => {
    const { memory, clock, conn, drops } = setup({ heartbeat: { interval: 1000, timeout: 500 } }, true);
    memory.last!.accept();
    const sent = [chat('a'), chat('b')];
    conn.send(sent[0]!);
    clock.increment(1000);
    memory.last!.pong(memory.last!.lastPing);
    memory.last!.close(1006);
    expect(drops).toEqual([]);
    clock.increment(conn.actor.getSnapshot().context.retryDelay);
    memory.last!.accept();
    conn.send(sent[1]!);
    memory.last!.close(1006);
    expect(summary(drops, sent)).toEqual([{ reason: 'unconfirmed', message: 1, data: JSON.stringify(sent[1]) }]);
  });

  describe('batches: each message with its own', () => {
    const batched = batching({ window: 10, envelope: (frames) => `[${frames.join(',')}]` });

    it('unconfirmed batch frames', () => {
      const { memory, clock, conn, drops } = setup({ batching: batched });
      memory.last!.accept();
      const sent = [chat('a'), chat('b')];
      conn.send(sent[0]!);
      conn.send(sent[1]!);
      clock.increment(10);
      expect(memory.last!.sent).toHaveLength(1);
      memory.last!.close(1006);
      expect(summary(drops, sent)).toEqual(sent.map((m, i) => ({ reason: 'unconfirmed', message: i, data: JSON.stringify(m) })));
    });

    it('a batch queued while not open, then closed', () => {
      const { clock, conn, drops } = setup({ batching: batched });
      const sent = [chat('a'), chat('b'), chat('c')];
      for (const m of sent) conn.send(m);
      clock.increment(10);
      conn.close();
      expect(summary(drops, sent)).toEqual(sent.map((m, i) => ({ reason: 'closed', message: i, data: JSON.stringify(m) })));
    });

    it('a batch whose envelope throws', () => {
      const { memory, clock, conn, drops } = setup({
        batching: batching({
          window: 10,
          envelope: () => {
            throw new Error('no envelope');
          },
        }),
      });
      memory.last!.accept();
      const sent = [chat('a'), chat('b')];
      conn.send(sent[0]!);
      conn.send(sent[1]!);
      clock.increment(10);
      expect(summary(drops, sent)).toEqual(sent.map((m, i) => ({ reason: 'closed', message: i, data: JSON.stringify(m) })));
    });

    it('a batch a full queue refuses (overflow reject)', () => {
      const { clock, conn, drops } = setup({ batching: batched, queue: { maxMessages: 1, overflow: 'reject' } });
      conn.send(chat('x'));
      clock.increment(10);
      const sent = [chat('a'), chat('b')];
      conn.send(sent[0]!);
      conn.send(sent[1]!);
      clock.increment(10);
      expect(summary(drops, sent)).toEqual(sent.map((m, i) => ({ reason: 'queue-full', message: i, data: JSON.stringify(m) })));
    });
  });

  describe('acknowledged delivery (atLeastOnce)', () => {
    it('messages not acknowledged when the session ends, and ones that do not fit', () => {
      const { conn, drops } = setup({ delivery: atLeastOnce({ maxBytes: 40 }) });
      const sent = [chat('held'), chat('x'.repeat(50))];
      conn.send(sent[0]!);
      conn.send(sent[1]!); // bigger than maxBytes
      conn.close();
      expect(summary(drops, sent)).toEqual([
        { reason: 'too-large', message: 1, data: JSON.stringify(sent[1]) },
        { reason: 'closed', message: 0, data: JSON.stringify(sent[0]) },
      ]);
    });

    it('under the raw codec the message is the frame', () => {
      const memory = createMemoryTransport();
      const conn = createConnection('ws://example.test/', { transport: memory.transport, delivery: atLeastOnce() });
      const drops: DropEvent<unknown>[] = [];
      conn.addEventListener('drop', (e) => drops.push(e));
      const bytes = new Uint8Array([1, 2, 3]);
      conn.send(bytes);
      conn.close();
      expect(drops).toHaveLength(1);
      expect(drops[0]!.message).toBe(bytes);
      expect(drops[0]!.data).toBe(bytes);
    });
  });

  it('under the raw codec, from the queue and unconfirmed: the message is the frame itself', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://example.test/', { transport: memory.transport, queue: { maxMessages: 1 } });
    const drops: DropEvent<unknown>[] = [];
    conn.addEventListener('drop', (e) => drops.push(e));
    const first = new Uint8Array([1]);
    conn.send(first);
    conn.send('second'); // pushes out the first
    memory.last!.accept();
    conn.send('third');
    memory.last!.close(1006);
    expect(drops.map((e) => [e.reason, e.message])).toEqual([
      ['queue-full', first],
      ['unconfirmed', 'second'],
      ['unconfirmed', 'third'],
    ]);
    expect(drops[0]!.message).toBe(drops[0]!.data);
  });
});

describe('MessageTrail (the messages behind unconfirmed frames)', () => {
  it('keeps only the newest, as many as the log holds, and hands back the newest in order', () => {
    const trail = new MessageTrail();
    for (let i = 0; i < 3000; i++) {
      trail.push(i);
      trail.keepLast(10);
      expect(trail.length).toBeLessThanOrEqual(10);
    }
    expect(trail.takeLast(3)).toEqual([2997, 2998, 2999]);
    expect(trail.length).toBe(0);
    trail.push('a');
    expect(trail.takeLast(5)).toEqual(['a']);
  });
});
