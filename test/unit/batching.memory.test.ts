import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, jsonCodec } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';
import { batching } from '../../src/plugins/batching.js';
import { atLeastOnce } from '../../src/delivery/index.js';

const envelope = (frames: unknown[]) => JSON.stringify({ type: 'batch', frames });
const split = (frame: unknown) => {
  if (typeof frame !== 'string' || !frame.startsWith('{"type":"batch"')) return undefined;
  return (JSON.parse(frame) as { frames: string[] }).frames;
};

function setup(options: Parameters<typeof createConnection>[1] = {}) {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://x/', { transport: memory.transport, clock, batching: batching({ envelope, split, window: 10, maxMessages: 3 }), ...options });
  return { memory, clock, conn };
}

describe('batching', () => {
  it('coalesces the sends of one window into one frame', () => {
    const { memory, clock, conn } = setup();
    memory.last!.accept();
    conn.send('a');
    conn.send('b');
    expect(memory.last!.sent).toEqual([]);
    clock.increment(10);
    expect(memory.last!.sent).toEqual(['{"type":"batch","frames":["a","b"]}']);
  });

  it('sends a full batch at once, and a batch of one as itself', () => {
    const { memory, clock, conn } = setup();
    memory.last!.accept();
    for (const m of ['1', '2', '3', '4']) conn.send(m);
    expect(memory.last!.sent).toEqual(['{"type":"batch","frames":["1","2","3"]}']);
    clock.increment(10);
    expect(memory.last!.sent.at(-1)).toBe('4');
  });

  it('close() sends the open batch before the close frame', () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    conn.send('last words');
    conn.close();
    expect(memory.last!.sent).toEqual(['last words']);
    expect(memory.last!.clientClose).toEqual({ code: 1000, reason: '' });
  });

  it('reports each batched message when the session ends while the batch collects', () => {
    const { memory, conn } = setup({ backoff: { maxRetries: 0 } });
    memory.last!.accept();
    const drops = recordEvents(conn, ['drop']);
    conn.send('x');
    conn.send('y');
    memory.last!.close(1002);
    expect(drops).toEqual(['drop:closed:x', 'drop:closed:y']);
  });

  it('splits inbound batches into messages, through the codec', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://x/', { transport: memory.transport, codec: jsonCodec(), batching: batching({ envelope, split }) });
    const got: unknown[] = [];
    conn.onmessage = (e) => got.push(e.data);
    memory.last!.accept();
    memory.last!.message(JSON.stringify({ type: 'batch', frames: ['{"n":1}', '{"n":2}'] }));
    memory.last!.message('{"n":3}');
    expect(got).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('refuses a batching option without an envelope', () => {
    expect(() => setup({ batching: batching({} as never) })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe('batching and the open sequence', () => {
  it('restore messages go first, then what was sent before the open', () => {
    const { memory, conn } = setup();
    conn.onEveryOpen(() => conn.send('join'));
    conn.send('early');
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['join', 'early']);
  });
});

describe('batching with a full queue under overflow: reject (nothing lost silently)', () => {
  it.each([
    ['plain mode', {}],
    ['atLeastOnce', { delivery: atLeastOnce({ maxMessages: 2, overflow: 'reject' }) }],
  ])('%s: a batch collecting at open that does not fit the queue is reported, message by message', (_mode, extra) => {
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    const conn = createConnection('ws://x/', {
      transport: memory.transport,
      clock,
      queue: { maxMessages: 2, overflow: 'reject' },
      batching: batching({ envelope, window: 50, maxMessages: 100 }),
      ...extra,
    });
    const drops = recordEvents(conn, ['drop']);
    for (const m of ['a', 'b', 'c', 'd']) conn.send(m);
    memory.last!.accept();
    clock.increment(100);
    expect(drops).toEqual(['drop:queue-full:c', 'drop:queue-full:d']);
    conn.close();
  });
});
