import fc from 'fast-check';
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ACK_PROTOCOL, atLeastOnce, type AtLeastOnceOptions } from '../../src/delivery/index.js';
import {
  encodeBinary,
  helloFrame,
  parseControl,
  parseTextSeq,
  readSeq,
  welcomeFrame,
  writeSeq,
  MAX_SEQ,
} from '../../src/delivery/protocol.js';
import { createConnection, isSocketchartError } from '../../src/index.js';
import { batching } from '../../src/plugins/batching.js';
import { type MemoryPeer, createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(delivery: AtLeastOnceOptions = {}, options: Parameters<typeof createConnection>[1] = {}) {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/', {
    transport: memory.transport,
    clock,
    retryWait: () => Promise.resolve(),
    delivery: atLeastOnce(delivery),
    ...options,
  });
  return { memory, clock, conn };
}

/** The hello the client wrote on `peer`, parsed. */
function helloOf(peer: MemoryPeer) {
  const frame = parseControl(String(peer.sent[0]));
  if (frame === null || frame === 'invalid' || frame.type !== 'hello') throw new Error(`no hello: ${String(peer.sent[0])}`);
  return frame;
}

/** Open `peer` and answer its hello as a server would (`resumed`, having processed up to `ack`). */
function welcome(peer: MemoryPeer, { resumed = false, ack = 0, next = 1 } = {}) {
  peer.accept();
  const hello = helloOf(peer);
  peer.message(welcomeFrame(hello.sid, resumed, ack, next));
  return hello;
}

const dataFrames = (peer: MemoryPeer) => peer.sent.slice(1).map(String);

describe('atLeastOnce: outbound', () => {
  it('offers the subprotocol, writes hello first, then every message with its sequence number', async () => {
    const { memory, conn } = setup();
    conn.send('a');
    await settle();
    const peer = memory.last!;
    expect(peer.request.protocols).toEqual([ACK_PROTOCOL]);
    conn.send('b');
    peer.accept();
    conn.send('c');
    const hello = helloOf(peer);
    expect(hello).toMatchObject({ type: 'hello', ack: 0, next: 1 });
    expect(hello.sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(dataFrames(peer)).toEqual(['1:a', '2:b', '3:c']);
  });

  it('keeps app subprotocols first and appends its own', async () => {
    const { memory } = setup({}, { protocols: ['chat.v2'] });
    await settle();
    expect(memory.last!.request.protocols).toEqual(['chat.v2', ACK_PROTOCOL]);
  });

  it('replays everything not acknowledged, in order, after a reconnect; acknowledged messages are gone', async () => {
    const { memory, conn } = setup();
    await settle();
    const first = memory.last!;
    const { sid } = welcome(first);
    for (const m of ['a', 'b', 'c', 'd']) conn.send(m);
    first.message('{"type":"ack","ack":2}');
    expect(conn.bufferedAmount).toBe(2); // 'c' and 'd' are held
    first.close(1006);
    conn.send('e'); // while reconnecting: held, written after the replay
    await settle();
    const second = memory.last!;
    expect(second).not.toBe(first);
    second.accept();
    expect(helloOf(second)).toMatchObject({ sid, ack: 0, next: 3 });
    expect(dataFrames(second)).toEqual(['3:c', '4:d', '5:e']);
  });

  it("trims by the welcome's ack: the server may have processed more than it acknowledged", async () => {
    const { memory, conn } = setup();
    await settle();
    welcome(memory.last!);
    for (const m of ['a', 'b', 'c']) conn.send(m);
    memory.last!.close(1006);
    await settle();
    welcome(memory.last!, { resumed: true, ack: 3, next: 1 });
    expect(conn.bufferedAmount).toBe(0);
    memory.last!.close(1006);
    await settle();
    memory.last!.accept();
    expect(dataFrames(memory.last!)).toEqual([]);
    expect(helloOf(memory.last!).next).toBe(4);
  });

  it('keeps a message the socket refused (past OPEN before the chart knew) for the next socket', async () => {
    const { memory, conn } = setup();
    await settle();
    const first = memory.last!;
    welcome(first);
    first.state = 'closing'; // the socket refuses writes; no close event yet
    conn.send('a');
    expect(first.sent).toHaveLength(1);
    first.close(1006);
    await settle();
    memory.last!.accept();
    expect(dataFrames(memory.last!)).toEqual(['1:a']);
  });

  it('bounds what it holds by count: the newest message is reported (queue-full) and never sent', async () => {
    const { memory, conn } = setup({ maxMessages: 2 });
    const log = recordEvents(conn, ['drop']);
    for (const m of ['a', 'b', 'c']) conn.send(m);
    expect(log).toEqual(['drop:queue-full:c']);
    await settle();
    memory.last!.accept();
    expect(dataFrames(memory.last!)).toEqual(['1:a', '2:b']);
  });

  it('bounds what it holds by bytes: too-large alone, queue-full together', () => {
    const { conn } = setup({ maxBytes: 4 });
    const log = recordEvents(conn, ['drop']);
    conn.send('12345');
    conn.send('abc');
    conn.send('de');
    conn.send('f');
    expect(log).toEqual(['drop:too-large:12345', 'drop:queue-full:de']);
    expect(conn.bufferedAmount).toBe(4);
  });

  it("overflow 'reject' throws ERR_QUEUE_FULL from send() instead", () => {
    const { conn } = setup({ maxMessages: 1, overflow: 'reject' });
    conn.send('a');
    let error: unknown;
    try {
      conn.send('b');
    } catch (e) {
      error = e;
    }
    expect(isSocketchartError(error, 'ERR_QUEUE_FULL')).toBe(true);
  });

  it("close() reports every unacknowledged message (drop 'closed'); reconnect() starts a new session", async () => {
    const { memory, conn } = setup();
    await settle();
    const { sid } = welcome(memory.last!);
    conn.send('a');
    conn.send('b');
    memory.last!.message('{"type":"ack","ack":1}');
    const log = recordEvents(conn, ['drop']);
    conn.close();
    memory.last!.completeClose();
    expect(conn.state).toBe('closed');
    expect(log).toEqual(['drop:closed:b']);
    expect(conn.bufferedAmount).toBe(0);
    conn.send('after');
    expect(log).toEqual(['drop:closed:b', 'drop:closed:after']);
    conn.reconnect();
    await settle();
    memory.last!.accept();
    const hello = helloOf(memory.last!);
    expect(hello.sid).not.toBe(sid);
    expect(hello).toMatchObject({ ack: 0, next: 1 });
    conn.send('x');
    expect(dataFrames(memory.last!)).toEqual(['1:x']);
  });

  it('frames binary payloads with an 8-byte big-endian sequence number, and refuses Blobs', async () => {
    const { memory, conn } = setup();
    await settle();
    welcome(memory.last!);
    conn.send(new Uint8Array([1, 2, 3]));
    conn.send(new Uint16Array([0x0102]).buffer);
    const [a, b] = memory.last!.sent.slice(1) as Uint8Array[];
    expect([...a!]).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3]);
    expect(readSeq(b!)).toBe(2);
    expect(b!.byteLength).toBe(10);
    let error: unknown;
    try {
      conn.send(new Blob(['x']));
    } catch (e) {
      error = e;
    }
    expect(isSocketchartError(error, 'ERR_INVALID_DATA')).toBe(true);
  });
});

describe('atLeastOnce with batching', () => {
  it('a batch still collecting when the socket opens is sent after the open sequence, not left to die at the end', async () => {
    const { memory, clock, conn } = setup({}, { batching: batching({ envelope: (frames) => JSON.stringify(frames), window: 50 }) });
    const drops = recordEvents(conn, ['drop']);
    conn.send('a');
    conn.send('b');
    welcome(memory.last!);
    clock.increment(50);
    await settle();
    expect(dataFrames(memory.last!)).toEqual(['1:a', '2:b']);
    memory.last!.message('{"type":"ack","ack":2}');
    conn.close();
    memory.last!.completeClose();
    expect(drops).toEqual([]); // sent and acknowledged: nothing left to report
  });
});

describe('atLeastOnce: flow limits', () => {
  it("rateLimit paces the layer's writes, in order; a reconnect replays what was written and what waited, in order", async () => {
    const { memory, clock, conn } = setup({}, { flow: { rateLimit: { perSecond: 2, burst: 2 } } });
    const peer = memory.last!;
    welcome(peer);
    for (const m of ['a', 'b', 'c', 'd']) conn.send(m);
    expect(dataFrames(peer)).toEqual(['1:a', '2:b']);
    clock.increment(500);
    expect(dataFrames(peer)).toEqual(['1:a', '2:b', '3:c']);
    peer.close(1006); // c was written, d was still waiting: all four are unacknowledged
    await settle(); // retryWait resolves at once
    const next = memory.last!;
    expect(next).not.toBe(peer);
    welcome(next, { resumed: true, ack: 1 }); // the server had processed a
    expect(dataFrames(next)).toEqual([]); // no token left: the replay waits too
    for (let i = 0; i < 4; i++) clock.increment(500);
    expect(dataFrames(next)).toEqual(['2:b', '3:c', '4:d']);
    expect(conn.bufferedAmount).toBeGreaterThan(0); // still unacknowledged
  });

  it('highWaterMark holds messages while the socket is full and fires drain once it is low again', () => {
    const { memory, clock, conn } = setup({}, { flow: { highWaterMark: 100 } });
    const events = recordEvents(conn, ['drain', 'drop']);
    const peer = memory.last!;
    welcome(peer);
    peer.buffered = 500;
    conn.send('a');
    conn.send('b');
    expect(dataFrames(peer)).toEqual([]);
    peer.buffered = 0;
    clock.increment(16);
    expect(dataFrames(peer)).toEqual(['1:a', '2:b']);
    expect(events).toEqual(['drain']);
  });
});

describe('atLeastOnce: inbound', () => {
  it('delivers each sequenced message once and in order; duplicates and gaps are not delivered', async () => {
    const { memory, conn } = setup();
    const log = recordEvents(conn, ['message']);
    await settle();
    const peer = memory.last!;
    welcome(peer);
    for (const frame of ['1:a', '2:b', '2:b', '1:a', '4:gap', '3:c', '4:d']) peer.message(frame);
    expect(log).toEqual(['message:a', 'message:b', 'message:c', 'message:d']);
  });

  it('passes frames through untouched before the welcome and outside the protocol (pongs, app JSON)', async () => {
    const { memory, conn } = setup();
    const log = recordEvents(conn, ['message']);
    await settle();
    const peer = memory.last!;
    peer.accept();
    peer.message('1:not sequenced yet');
    peer.message(welcomeFrame(helloOf(peer).sid, false, 0, 1));
    peer.message('{"type":"news","n":1}');
    peer.message('plain text');
    peer.message('{"type":"ack","ack":"x"}'); // a malformed control frame: swallowed
    expect(log).toEqual(['message:1:not sequenced yet', 'message:{"type":"news","n":1}', 'message:plain text']);
  });

  it('strips the binary header, keeping the binary type (ArrayBuffer or Buffer)', async () => {
    for (const binaryType of ['arraybuffer', 'nodebuffer'] as const) {
      const { memory, conn } = setup({}, { binaryType });
      const got: unknown[] = [];
      conn.addEventListener('message', (e) => got.push(e.data));
      await settle();
      welcome(memory.last!);
      const frame = encodeBinary(1, new Uint8Array([7, 8]));
      memory.last!.message(binaryType === 'nodebuffer' ? Buffer.from(frame) : frame.buffer);
      expect(got).toHaveLength(1);
      if (binaryType === 'nodebuffer') expect(Buffer.isBuffer(got[0]) && [...(got[0] as Buffer)]).toEqual([7, 8]);
      else expect(got[0] instanceof ArrayBuffer && [...new Uint8Array(got[0] as ArrayBuffer)]).toEqual([7, 8]);
    }
  });

  it('acknowledges in batches: after ackEvery messages at once, otherwise ackDelay ms after the first', async () => {
    const { memory, clock, conn } = setup({ ackEvery: 3, ackDelay: 50 });
    void conn;
    await settle();
    const peer = memory.last!;
    welcome(peer);
    const acks = () => peer.sent.map(String).filter((f) => f.includes('"ack"') && !f.includes('hello'));
    peer.message('1:a');
    peer.message('2:b');
    expect(acks()).toEqual([]);
    peer.message('3:c');
    expect(acks()).toEqual(['{"type":"ack","ack":3}']);
    peer.message('4:d');
    clock.increment(49);
    expect(acks()).toHaveLength(1);
    clock.increment(1);
    expect(acks()).toEqual(['{"type":"ack","ack":3}', '{"type":"ack","ack":4}']);
    // A replayed duplicate means the server missed the ack: it is sent again.
    peer.message('4:d');
    clock.increment(50);
    expect(acks()).toEqual(['{"type":"ack","ack":3}', '{"type":"ack","ack":4}', '{"type":"ack","ack":4}']);
  });

  it('resumes with the last delivered seq; a new server session (resumed: false) starts the count again', async () => {
    const { memory, conn } = setup();
    const log = recordEvents(conn, ['message']);
    await settle();
    welcome(memory.last!);
    memory.last!.message('1:a');
    memory.last!.message('2:b');
    memory.last!.close(1006);
    await settle();
    memory.last!.accept();
    expect(helloOf(memory.last!).ack).toBe(2);
    // The server lost the session (restart, TTL): its numbering starts over.
    memory.last!.message(welcomeFrame(helloOf(memory.last!).sid, false, 0, 1));
    memory.last!.message('1:fresh');
    expect(log).toEqual(['message:a', 'message:b', 'message:fresh']);
  });
});

describe('atLeastOnce: options', () => {
  it.each([
    [{ maxMessages: 0 }],
    [{ maxMessages: 1.5 }],
    [{ maxBytes: -1 }],
    [{ maxBytes: NaN }],
    [{ overflow: 'drop-oldest' }],
    [{ ackEvery: 0 }],
    [{ ackEvery: Infinity }],
    [{ ackDelay: -1 }],
    [{ ackDelay: Infinity }],
    [{ ackDelay: '20' }],
    [{ ackDelay: 2 ** 31 }],
  ])('atLeastOnce(%j) -> ERR_INVALID_OPTION naming delivery.<option>', (options) => {
    let error: unknown;
    try {
      atLeastOnce(options as AtLeastOnceOptions);
    } catch (e) {
      error = e;
    }
    expect(isSocketchartError(error, 'ERR_INVALID_OPTION')).toBe(true);
    expect((error as Error).message).toContain(`delivery.${Object.keys(options)[0]}`);
  });

  it('atLeastOnce(null) -> ERR_INVALID_OPTION', () => {
    expect(() => atLeastOnce(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe('protocol encoding', () => {
  it('reads text data frames exactly: seq 1..2^53-1, no leading zeros, a colon', () => {
    expect(parseTextSeq('1:a')).toEqual({ seq: 1, start: 2 });
    expect(parseTextSeq('12:')).toEqual({ seq: 12, start: 3 });
    expect(parseTextSeq(`${MAX_SEQ}:x`)).toEqual({ seq: MAX_SEQ, start: 17 });
    for (const frame of ['0:a', '01:a', '1a:b', ':a', '1', '', `${MAX_SEQ + 1}:x`, '12345678901234567:x', '{"type":"ack"}']) {
      expect(parseTextSeq(frame)).toBeNull();
    }
  });

  it('round-trips binary sequence numbers up to 2^53-1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (seq) => {
        const frame = new Uint8Array(8);
        writeSeq(frame, seq);
        return readSeq(frame) === seq;
      }),
    );
    expect(readSeq(new Uint8Array(7))).toBe(-1);
    expect(readSeq(new Uint8Array(8))).toBe(-1); // seq 0 is not a data frame
  });

  it('checks control frames', () => {
    expect(parseControl(helloFrame('a'.repeat(22), 0, 1))).toMatchObject({ type: 'hello' });
    expect(parseControl('{"type":"hello","sid":"short","ack":0,"next":1}')).toBe('invalid');
    expect(parseControl('{"type":"hello","sid":"aaaaaaaaaaaaaaaaaaaaaa","ack":-1,"next":1}')).toBe('invalid');
    expect(parseControl('{"type":"ack","ack":1.5}')).toBe('invalid');
    expect(parseControl('{"type":"pong"}')).toBeNull();
    expect(parseControl('{not json')).toBeNull();
  });
});

/**
 * A model server for the property test: the protocol's server side reduced to its rules (dedupe by seq,
 * cumulative acks), with a network that loses whatever was in flight when a socket dies.
 */
describe('atLeastOnce: property', () => {
  type Step =
    | { kind: 'send'; count: number }
    | { kind: 'deliver'; count: number } // the server reads this many frames of the current socket
    | { kind: 'ack' }
    | { kind: 'serverSend'; count: number; lost: boolean } // lost: in flight when the socket dies
    | { kind: 'kill' };

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.integer({ min: 1, max: 5 }).map((count) => ({ kind: 'send' as const, count })),
    fc.integer({ min: 1, max: 8 }).map((count) => ({ kind: 'deliver' as const, count })),
    fc.constant({ kind: 'ack' as const }),
    fc.record({ count: fc.integer({ min: 1, max: 4 }), lost: fc.boolean() }).map((r) => ({ kind: 'serverSend' as const, ...r })),
    fc.constant({ kind: 'kill' as const }),
  );

  it('every message is processed exactly once, in order, in both directions, whatever is lost in flight', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.integer({ min: 1, max: 8 }), async (steps, ackEvery) => {
        const { memory, conn } = setup({ ackEvery, ackDelay: 1_000_000 });
        const received: string[] = [];
        conn.addEventListener('message', (e) => received.push(String(e.data)));
        const server = { lastIn: 0, processed: [] as string[], nextOut: 1, unacked: [] as Array<[number, string]>, read: 0 };
        let sent = 0;
        let serverSent = 0;
        const open = async () => {
          await settle();
          const peer = memory.last!;
          peer.accept();
          server.read = 0;
          readFrames(peer, 1);
        };
        const readFrames = (peer: MemoryPeer, count: number) => {
          for (; count > 0 && server.read < peer.sent.length; count--) {
            const frame = String(peer.sent[server.read++]);
            const control = parseControl(frame);
            if (control !== null && control !== 'invalid' && control.type === 'hello') {
              server.lastIn = Math.max(server.lastIn, control.next - 1);
              server.unacked = server.unacked.filter(([seq]) => seq > control.ack);
              peer.message(welcomeFrame(control.sid, server.nextOut > 1 || server.lastIn > 0, server.lastIn, server.unacked[0]?.[0] ?? server.nextOut));
              for (const [seq, text] of server.unacked) peer.message(`${seq}:${text}`);
            } else if (control !== null && control !== 'invalid' && control.type === 'ack') {
              server.unacked = server.unacked.filter(([seq]) => seq > control.ack);
            } else {
              const data = parseTextSeq(frame)!;
              if (data.seq === server.lastIn + 1) {
                server.lastIn = data.seq;
                server.processed.push(frame.slice(data.start));
              } else expect(data.seq).toBeLessThanOrEqual(server.lastIn); // never a gap
            }
          }
        };
        await open();
        for (const s of steps) {
          const peer = memory.last!;
          if (s.kind === 'send') for (let i = 0; i < s.count; i++) conn.send(`c${sent++}`);
          else if (s.kind === 'deliver') readFrames(peer, s.count);
          else if (s.kind === 'ack') peer.message(`{"type":"ack","ack":${server.lastIn}}`);
          else if (s.kind === 'serverSend') {
            for (let i = 0; i < s.count; i++) {
              const seq = server.nextOut++;
              server.unacked.push([seq, `s${serverSent++}`]);
              if (!s.lost) peer.message(`${seq}:s${serverSent - 1}`);
            }
          } else {
            peer.close(1006); // whatever the server had not read is lost
            await open();
          }
        }
        // A last clean socket: read everything.
        memory.last!.close(1006);
        await open();
        readFrames(memory.last!, Infinity);
        expect(server.processed).toEqual(Array.from({ length: sent }, (_, i) => `c${i}`));
        expect(received).toEqual(Array.from({ length: serverSent }, (_, i) => `s${i}`));
        conn.close();
      }),
      { numRuns: 150 },
    );
  });
});
