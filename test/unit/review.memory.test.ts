// Regressions for the review of the outbound path, async validation, auth ordering and the pool.
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { type StandardSchemaV1, createConnection, createPool, jsonCodec } from '../../src/index.js';
import { Reassembler } from '../../src/messages/chunking.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';
import { schema } from '../../src/plugins/schema.js';
import { requests } from '../../src/plugins/requests.js';
import { chunking } from '../../src/plugins/chunking.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('chunking with the queue', () => {
  it('queues and drops whole messages, never chunks', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://x/', { transport: memory.transport, chunking: chunking({ chunkSize: 128 }), queue: { maxMessages: 3 } });
    const drops = recordEvents(conn, ['drop']);
    const big = 'x'.repeat(1000);
    conn.send(big);
    conn.close();
    expect(drops).toEqual([`drop:closed:${big}`]);
  });

  it('splits a queued message when it is written, and the chunks reassemble', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://x/', { transport: memory.transport, chunking: chunking({ chunkSize: 128 }) });
    const big = 'é\u0001'.repeat(300);
    conn.send(big);
    memory.last!.accept();
    const frames = memory.last!.sent as string[];
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(new TextEncoder().encode(f).length).toBeLessThanOrEqual(128);
    const r = new Reassembler();
    expect(frames.map((f) => r.accept(f)).filter((m) => m !== undefined)).toEqual([big]);
  });
});

describe('chunking and Blobs', () => {
  it('refuses a Blob bigger than chunkSize at send() (it cannot be split synchronously); a small one goes as is', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://x/', { transport: memory.transport, chunking: chunking({ chunkSize: 128 }) });
    memory.last!.accept();
    expect(() => conn.send(new Blob([new Uint8Array(1000)]))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_DATA' }));
    expect(memory.last!.sent).toEqual([]); // before: one empty frame, silently
    const small = new Blob([new Uint8Array(100)]);
    conn.send(small);
    expect(memory.last!.sent).toEqual([small]);
  });
});

describe('requests in the queue', () => {
  it('a request written by the pump is resent after the socket is lost', async () => {
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    const conn = createConnection<unknown, object>('ws://x/', { transport: memory.transport, clock, random: () => 0, codec: jsonCodec(), requests: requests(), flow: { rateLimit: { perSecond: 10, burst: 1 } } });
    memory.last!.accept();
    conn.send({ type: 'first' });
    void conn.request({ type: 'get' });
    clock.increment(100);
    expect(memory.last!.sent).toEqual(['{"type":"first"}', '{"type":"get","id":"1"}']);
    memory.last!.close(1006);
    clock.increment(0);
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['{"type":"get","id":"1"}']);
  });

  it("with onReconnect 'fail', a rejected request still in the queue is not sent later", async () => {
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    const conn = createConnection<unknown, object>('ws://x/', { transport: memory.transport, clock, random: () => 0, codec: jsonCodec(), requests: requests({ onReconnect: 'fail' }), flow: { rateLimit: { perSecond: 1, burst: 1 } } });
    memory.last!.accept();
    conn.send({ type: 'first' });
    const req = conn.request({ charge: 100 });
    memory.last!.close(1006);
    await expect(req).rejects.toMatchObject({ code: 'ERR_CONNECTION_LOST' });
    clock.increment(0);
    memory.last!.accept();
    clock.increment(5000);
    expect(memory.peers[0]!.sent).toEqual(['{"type":"first"}']);
    expect(memory.last!.sent).toEqual([]);
  });

  it('a request made while not open obeys maxMessageSize', async () => {
    const memory = createMemoryTransport();
    const conn = createConnection<unknown, object>('ws://x/', { transport: memory.transport, codec: jsonCodec(), requests: requests(), maxMessageSize: 50 });
    await expect(conn.request({ blob: 'x'.repeat(100) })).rejects.toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' });
  });
});

describe('async validation', () => {
  it('a validator that rejects once makes that message invalid and later ones still arrive, in order', async () => {
    let n = 0;
    const validator: StandardSchemaV1<unknown, unknown> = {
      '~standard': { version: 1, vendor: 't', validate: async (v) => (++n === 1 ? Promise.reject(new Error('flaky')) : { value: v }) },
    };
    const memory = createMemoryTransport();
    const conn = createConnection('ws://x/', { transport: memory.transport, codec: jsonCodec(), schema: schema(validator) });
    const log = recordEvents(conn, ['invalid-message']);
    const got: unknown[] = [];
    conn.onmessage = (e) => got.push(e.data);
    memory.last!.accept();
    for (const i of [1, 2, 3]) memory.last!.message(String(i));
    await settle();
    await settle();
    expect(log).toEqual(['invalid-message']);
    expect(got).toEqual([2, 3]);
  });
});

describe('auth ordering', () => {
  it('messages around the ack are delivered after open in arrival order', async () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://x/', { transport: memory.transport, auth: { token: () => 't' } });
    const got: unknown[] = [];
    conn.onmessage = (e) => got.push(e.data);
    await settle();
    memory.last!.accept();
    memory.last!.message('x-before-ack');
    memory.last!.message('{"type":"auth_ok"}');
    memory.last!.message('y-after-ack');
    await settle();
    expect(got).toEqual(['x-before-ack', 'y-after-ack']);
  });
});

describe('pool edge cases', () => {
  it('opened() rejects once too few connections can still open', async () => {
    const memory = createMemoryTransport();
    const pool = createPool('ws://x/', { size: 2, transport: memory.transport, backoff: { maxRetries: 0 } });
    const opened = pool.opened(2);
    memory.peers[0]!.refuse();
    await expect(opened).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
  });

  it('send() with none open queues on a connection that is still trying, not on a closed one', () => {
    const memory = createMemoryTransport();
    const pool = createPool('ws://x/', { size: 2, transport: memory.transport, backoff: { maxRetries: 0 } });
    memory.peers[0]!.refuse();
    const drops = recordEvents(pool.connections[0]!, ['drop']);
    pool.send('a');
    pool.send('b');
    expect(drops).toEqual([]);
    expect(pool.connections[1]!.metrics.queueLength).toBe(2);
  });
});
