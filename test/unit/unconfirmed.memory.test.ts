import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, isSocketchartError, jsonCodec } from '../../src/index.js';
import { atLeastOnce } from '../../src/delivery/index.js';
import { CONFIRM_PING, HEARTBEAT_PING, UnconfirmedLog, decodeMark, encodeMark } from '../../src/policies/unconfirmed.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';
import { requests } from '../../src/plugins/requests.js';
import { batching } from '../../src/plugins/batching.js';

/**
 * Plain mode's no-silent-loss rule: what was written to a socket that then died before the server confirmed it is
 * reported (`drop`, reason 'unconfirmed'). Pongs and clean closing handshakes confirm.
 */
function setup(options: Parameters<typeof createConnection>[1] = {}, canPing = false) {
  const memory = createMemoryTransport({ canPing });
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/', { transport: memory.transport, clock, random: () => 0.5, ...options });
  return { memory, clock, conn };
}

describe('unconfirmed writes (plain mode)', () => {
  it('reports every message written on a socket that dropped, in order, before the close event', () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const log = recordEvents(conn, ['drop', 'close']);
    conn.send('a');
    conn.send('b');
    expect(conn.metrics.unconfirmedMessages).toBe(2);
    memory.last!.close(1006);
    expect(log).toEqual(['drop:unconfirmed:a', 'drop:unconfirmed:b', 'close:1006']);
    expect(conn.metrics.unconfirmedMessages).toBe(0);
  });

  it('a close the server started proves nothing (its close frame answers none of our writes): reported', () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const log = recordEvents(conn, ['drop', 'close']);
    conn.send('a');
    memory.last!.close(1001, 'going away');
    expect(log).toEqual(['drop:unconfirmed:a', 'close:1001']);
  });

  it("reports what a user close() could not confirm when the handshake times out, not when it completes", () => {
    const clean = setup();
    clean.memory.last!.accept();
    const cleanLog = recordEvents(clean.conn, ['drop']);
    clean.conn.send('a');
    clean.conn.close();
    clean.memory.last!.completeClose();
    expect(clean.conn.state).toBe('closed');
    expect(cleanLog).toEqual([]);

    const hung = setup({ closeTimeout: 1000 });
    hung.memory.last!.accept();
    const hungLog = recordEvents(hung.conn, ['drop']);
    hung.conn.send('a');
    hung.conn.close();
    hung.clock.increment(1000);
    expect(hung.conn.state).toBe('closed');
    expect(hungLog).toEqual(['drop:unconfirmed:a']);
  });

  it('a heartbeat pong confirms everything written before its ping (the ping carries the mark)', () => {
    const { memory, clock, conn } = setup({ heartbeat: { interval: 1000, timeout: 500 } }, true);
    const peer = memory.last!;
    peer.accept();
    const log = recordEvents(conn, ['drop']);
    conn.send('a');
    conn.send('b');
    clock.increment(1000); // the probe's ping goes out after a and b
    expect(decodeMark(peer.lastPing)).toEqual({ tag: HEARTBEAT_PING, mark: 2 });
    conn.send('c'); // written after the ping: the pong does not cover it
    peer.pong(peer.lastPing);
    expect(conn.state).toBe('open');
    expect(conn.metrics.unconfirmedMessages).toBe(1);
    peer.close(1006);
    expect(log).toEqual(['drop:unconfirmed:c']);
  });

  it('a pong without our payload (a peer that echoes nothing) keeps the heartbeat alive but confirms nothing', () => {
    const { memory, clock, conn } = setup({ heartbeat: { interval: 1000, timeout: 500 } }, true);
    memory.last!.accept();
    conn.send('a');
    clock.increment(1000);
    memory.last!.pong();
    clock.increment(500);
    expect(conn.state).toBe('open');
    expect(conn.metrics.unconfirmedMessages).toBe(1);
  });

  it('message-mode pongs carry no mark: each takes the oldest unanswered ping, so a late pong never confirms more', () => {
    const { memory, clock, conn } = setup({ heartbeat: { mode: 'message', interval: 1000, timeout: 500 } });
    const peer = memory.last!;
    peer.accept();
    conn.send('a');
    clock.increment(1000); // ping 1, after a
    peer.message('news'); // a message during the probe keeps the connection alive without a pong
    clock.increment(500);
    conn.send('b');
    clock.increment(1000); // ping 2, after a and b
    peer.message('{"type":"pong"}'); // the late answer to ping 1
    expect(conn.metrics.unconfirmedMessages).toBe(1); // only a is confirmed; b waits for ping 2's pong
    peer.message('{"type":"pong"}');
    expect(conn.metrics.unconfirmedMessages).toBe(0);
  });

  it('a message-mode heartbeat pong confirms too (the server answered after reading what came before)', () => {
    const { memory, clock, conn } = setup({ heartbeat: { mode: 'message', interval: 1000, timeout: 500 } });
    memory.last!.accept();
    conn.send('a');
    clock.increment(1000);
    expect(memory.last!.sent.at(-1)).toBe('{"type":"ping"}');
    memory.last!.message('{"type":"pong"}');
    expect(conn.metrics.unconfirmedMessages).toBe(0);
  });

  it('where the transport can ping, asks for a confirmation every confirmEvery writes, one at a time', () => {
    const { memory, conn } = setup({ heartbeat: false, unconfirmed: { confirmEvery: 3 } }, true);
    memory.last!.accept();
    const peer = memory.last!;
    for (const m of ['a', 'b']) conn.send(m);
    expect(peer.pings).toBe(0);
    conn.send('c');
    expect(peer.pings).toBe(1);
    expect(decodeMark(peer.lastPing)).toEqual({ tag: CONFIRM_PING, mark: 3 });
    const firstPing = peer.lastPing;
    for (const m of ['d', 'e', 'f', 'g']) conn.send(m);
    expect(peer.pings).toBe(1); // the first is still unanswered
    peer.pong(firstPing);
    expect(conn.metrics.unconfirmedMessages).toBe(4); // d..g
    conn.send('h'); // 8 writes >= 3 + 3: the next ping goes out at once
    expect(peer.pings).toBe(2);
    expect(decodeMark(peer.lastPing)).toEqual({ tag: CONFIRM_PING, mark: 8 });
    peer.pong(peer.lastPing);
    expect(conn.metrics.unconfirmedMessages).toBe(0);
    const log = recordEvents(conn, ['drop']);
    peer.close(1006);
    expect(log).toEqual([]);
  });

  it('asks for a confirmation before confirmEvery writes once the log holds a quarter of maxBytes or maxMessages', () => {
    // Large messages fill maxBytes in a few writes; counting writes alone would untrack them before any ping.
    const bytes = setup({ heartbeat: false, unconfirmed: { maxBytes: 40 } }, true);
    bytes.memory.last!.accept();
    bytes.conn.send('123456789');
    expect(bytes.memory.last!.pings).toBe(0);
    bytes.conn.send('0'); // 10 bytes: a quarter of 40
    expect(bytes.memory.last!.pings).toBe(1);
    expect(decodeMark(bytes.memory.last!.lastPing)).toEqual({ tag: CONFIRM_PING, mark: 2 });

    const messages = setup({ heartbeat: false, unconfirmed: { maxMessages: 12 } }, true);
    messages.memory.last!.accept();
    messages.conn.send('a');
    messages.conn.send('b');
    expect(messages.memory.last!.pings).toBe(0);
    messages.conn.send('c'); // 3 messages: a quarter of 12
    expect(messages.memory.last!.pings).toBe(1);
    messages.memory.last!.pong(messages.memory.last!.lastPing);
    expect(messages.conn.metrics.unconfirmedMessages).toBe(0);
  });

  it('a pong whose payload looks like ours but carries a mark no ping of ours had confirms nothing', () => {
    const { memory, conn } = setup({ heartbeat: false, unconfirmed: { confirmEvery: 2 } }, true);
    const peer = memory.last!;
    peer.accept();
    const log = recordEvents(conn, ['drop']);
    conn.send('a');
    peer.pong(encodeMark(1_000_000, CONFIRM_PING)); // more writes than were made
    const notANumber = encodeMark(0, CONFIRM_PING);
    notANumber.fill(0xff, 1); // a NaN mark
    peer.pong(notANumber);
    expect(conn.metrics.unconfirmedMessages).toBe(1);
    conn.send('b'); // confirmation pings still go out on schedule
    expect(decodeMark(peer.lastPing)).toEqual({ tag: CONFIRM_PING, mark: 2 });
    peer.close(1006);
    expect(log).toEqual(['drop:unconfirmed:a', 'drop:unconfirmed:b']);
  });

  it('a confirmation pong is not a heartbeat pong (the probe still waits for its own)', () => {
    const { memory, clock, conn } = setup({ heartbeat: { interval: 1000, timeout: 500 }, unconfirmed: { confirmEvery: 1 } }, true);
    memory.last!.accept();
    clock.increment(1000); // probing: the heartbeat ping is out
    conn.send('a'); // a confirmation ping too
    memory.last!.pong(memory.last!.lastPing);
    expect(conn.metrics.unconfirmedMessages).toBe(0);
    clock.increment(500);
    expect(conn.state).toBe('reconnecting.backoff');
  });

  it('reports each message of a batch frame, not the envelope', () => {
    const { memory, clock, conn } = setup({ batching: batching({ window: 10, envelope: (frames) => JSON.stringify(frames) }) });
    memory.last!.accept();
    const log = recordEvents(conn, ['drop']);
    conn.send('a');
    conn.send('b');
    clock.increment(10);
    expect(memory.last!.sent).toEqual(['["a","b"]']);
    memory.last!.close(1006);
    expect(log).toEqual(['drop:unconfirmed:a', 'drop:unconfirmed:b']);
  });

  it('a batch that waited in the queue (backpressure) is still reported message by message', () => {
    const { memory, clock, conn } = setup({
      batching: batching({ window: 10, envelope: (frames) => JSON.stringify(frames) }),
      flow: { highWaterMark: 100 },
    });
    const peer = memory.last!;
    peer.accept();
    peer.buffered = 1000; // the socket is full: the batch waits in the queue
    const log = recordEvents(conn, ['drop']);
    conn.send('a');
    conn.send('b');
    clock.increment(10);
    expect(peer.sent).toEqual([]);
    peer.buffered = 0;
    clock.increment(16); // the pump polls the buffer
    expect(peer.sent).toEqual(['["a","b"]']);
    peer.close(1006);
    expect(log).toEqual(['drop:unconfirmed:a', 'drop:unconfirmed:b']);
  });

  it('a batch the full queue refuses (overflow reject) is reported, not thrown from a timer', () => {
    const { memory, clock, conn } = setup({
      batching: batching({ window: 10, envelope: (frames) => JSON.stringify(frames) }),
      queue: { maxMessages: 1, overflow: 'reject' },
    });
    conn.send('x');
    clock.increment(10); // a batch of one: queued (not open yet)
    const log = recordEvents(conn, ['drop']);
    conn.send('a');
    conn.send('b');
    clock.increment(10);
    expect(log).toEqual(['drop:queue-full:a', 'drop:queue-full:b']);
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['x']);
  });

  it('does not track restore messages (onEveryOpen, subscribe): they are sent again on every open anyway', () => {
    const { memory, clock, conn } = setup();
    conn.onEveryOpen(() => conn.send('join'));
    memory.last!.accept();
    const log = recordEvents(conn, ['drop']);
    conn.send('a');
    memory.last!.close(1006);
    expect(log).toEqual(['drop:unconfirmed:a']);
    clock.increment(conn.actor.getSnapshot().context.retryDelay);
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['join']);
  });

  it('does not track requests: a lost request is resent (or fails) instead', async () => {
    const { memory, clock, conn } = setup({ codec: jsonCodec(), requests: requests() });
    memory.last!.accept();
    const log = recordEvents(conn, ['drop']);
    const reply = conn.request({ type: 'get' }, { timeout: 10_000 });
    conn.send({ type: 'note' });
    memory.last!.close(1006);
    expect(log).toEqual(['drop:unconfirmed:{"type":"note"}']); // drops carry the frame the codec made
    clock.increment(conn.actor.getSnapshot().context.retryDelay);
    expect(memory.peers).toHaveLength(2);
    memory.last!.accept();
    const sent = JSON.parse(memory.last!.sent[0] as string) as { id: number };
    memory.last!.message(JSON.stringify({ id: sent.id, ok: true }));
    await expect(reply).resolves.toMatchObject({ ok: true });
  });

  it('reconnect() reports what the replaced socket had not confirmed', () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const log = recordEvents(conn, ['drop']);
    conn.send('a');
    conn.reconnect();
    expect(log).toEqual(['drop:unconfirmed:a']);
  });

  it('past maxMessages the oldest are no longer tracked, and metrics say how many', () => {
    const { memory, conn } = setup({ unconfirmed: { maxMessages: 2 } });
    memory.last!.accept();
    const log = recordEvents(conn, ['drop']);
    for (const m of ['a', 'b', 'c']) conn.send(m);
    expect(conn.metrics).toMatchObject({ unconfirmedMessages: 2, unconfirmedUntracked: 1 });
    memory.last!.close(1006);
    expect(log).toEqual(['drop:unconfirmed:b', 'drop:unconfirmed:c']);
  });

  it('is off with unconfirmed: false, and under a delivery layer (which has acknowledgements)', () => {
    const off = setup({ unconfirmed: false });
    off.memory.last!.accept();
    const offLog = recordEvents(off.conn, ['drop']);
    off.conn.send('a');
    off.memory.last!.close(1006);
    expect(offLog).toEqual([]);

    const acked = setup({ delivery: atLeastOnce() });
    const ackedLog = recordEvents(acked.conn, ['drop']);
    acked.conn.send('a');
    expect(acked.conn.metrics.unconfirmedMessages).toBe(0);
    expect(ackedLog).toEqual([]);
  });

  it('rejects bad options with ERR_INVALID_OPTION', () => {
    for (const unconfirmed of ['yes', null, { maxMessages: 0 }, { maxBytes: -1 }, { confirmEvery: 1.5 }, { maxMessages: Number.NaN }]) {
      let caught: unknown;
      try {
        setup({ unconfirmed: unconfirmed as never });
      } catch (error) {
        caught = error;
      }
      expect(isSocketchartError(caught) && caught.code, JSON.stringify(unconfirmed)).toBe('ERR_INVALID_OPTION');
    }
  });
});

describe('UnconfirmedLog', () => {
  const limits = { maxMessages: Infinity, maxBytes: Infinity, confirmEvery: 0 };

  it('confirms by write position, across many confirmations, and returns the rest in order', () => {
    const log = new UnconfirmedLog(limits);
    for (let i = 0; i < 1000; i++) {
      log.add(`m${i}`);
      if (i % 10 === 9) log.confirm(i - 2); // everything before write i-2
    }
    expect(log.length).toBe(3);
    expect(log.bytes).toBe(12); // 'm997' + 'm998' + 'm999', as bytesOut counts them
    expect(log.takeAll()).toEqual(['m997', 'm998', 'm999']);
    expect(log.length).toBe(0);
    log.add('next');
    log.confirm(1000); // covers only the writes before 'next'
    expect(log.takeAll()).toEqual(['next']);
  });

  it('counts messages, not writes, flattens batched writes, and bounds bytes (keeping at least the newest write)', () => {
    const log = new UnconfirmedLog({ ...limits, maxBytes: 5 });
    log.add(['a', 'b']);
    log.add('ccc');
    expect(log.length).toBe(3);
    expect(log.takeAll()).toEqual(['a', 'b', 'ccc']);
    const byCount = new UnconfirmedLog({ ...limits, maxMessages: 3 });
    byCount.add(['a', 'b']);
    byCount.add(['c', 'd']); // 4 messages > 3: the older batch goes
    expect(byCount.untracked).toBe(2);
    expect(byCount.takeAll()).toEqual(['c', 'd']);
    log.add('dddddddd');
    expect(log.length).toBe(1);
    log.add('e');
    expect(log.untracked).toBe(1);
    expect(log.takeAll()).toEqual(['e']);
  });

  it('keeps order across the ring wrapping and growing, and after it shrinks back from a burst', () => {
    const log = new UnconfirmedLog(limits);
    let next = 0;
    let confirmed = 0;
    const add = (n: number) => {
      for (let i = 0; i < n; i++) log.add(`m${next++}`);
    };
    add(12);
    log.confirm((confirmed = 10)); // the head moves near the end of the first ring
    add(10); // wraps around
    add(30); // grows while wrapped
    expect(log.length).toBe(next - confirmed);
    add(1000); // a burst
    log.confirm((confirmed = next - 5)); // shrinks: five writes left in a ring sized for a thousand
    add(3);
    expect(log.length).toBe(8);
    expect(log.takeAll()).toEqual(Array.from({ length: 8 }, (_, i) => `m${confirmed + i}`));
    expect(log.mark).toBe(next);
  });

  it('round-trips marks through a ping payload and ignores other pongs', () => {
    expect(decodeMark(encodeMark(123_456_789_012, CONFIRM_PING))).toEqual({ tag: CONFIRM_PING, mark: 123_456_789_012 });
    expect(decodeMark(encodeMark(7, HEARTBEAT_PING))).toEqual({ tag: HEARTBEAT_PING, mark: 7 });
    expect(decodeMark(new Uint8Array())).toBeNull();
    expect(decodeMark(new Uint8Array(9))).toBeNull();
    // The wire format is a big-endian float64 after the tag, whatever the machine's byte order.
    expect([...encodeMark(1, CONFIRM_PING)]).toEqual([CONFIRM_PING, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
  });
});
