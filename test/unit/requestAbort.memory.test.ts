import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, jsonCodec } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';
import { requests } from '../../src/plugins/requests.js';

type Reply = { type: 'reply'; id: string; ok: boolean };

function setup() {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/', { transport: memory.transport, clock, random: () => 0, codec: jsonCodec(), requests: requests() });
  const messages: unknown[] = [];
  conn.addEventListener('message', (e) => messages.push(e.data));
  return { memory, clock, conn, messages };
}

/** How a promise settled, without letting a rejection go unhandled. */
function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

describe('request() with an AbortSignal', () => {
  it('aborting before the reply rejects with the abort reason', async () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const controller = new AbortController();
    const reply = outcome(conn.request({ type: 'get', key: 'a' }, { signal: controller.signal }));
    expect(memory.last!.sent).toEqual(['{"type":"get","key":"a","id":"1"}']);
    const reason = new Error('user navigated away');
    controller.abort(reason);
    expect(await reply).toEqual({ error: reason });
    expect((await reply as { error: unknown }).error).toBe(reason);
  });

  it('without a reason of its own, rejects with the signal’s AbortError', async () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const controller = new AbortController();
    const reply = outcome(conn.request({ type: 'get', key: 'a' }, { signal: controller.signal }));
    controller.abort();
    const settled = (await reply) as { error: unknown };
    expect(settled.error).toBe(controller.signal.reason);
    expect(settled.error).toMatchObject({ name: 'AbortError' });
  });

  it('a reason that is not an Error is passed through as it is (as fetch does)', async () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const controller = new AbortController();
    const reply = outcome(conn.request({ type: 'get', key: 'a' }, { signal: controller.signal }));
    controller.abort('stop');
    expect(await reply).toEqual({ error: 'stop' });
  });

  it('a signal aborted before the call rejects with its reason', async () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const reason = new Error('already cancelled');
    const reply = outcome(conn.request({ type: 'get', key: 'a' }, { signal: AbortSignal.abort(reason) }));
    expect(await reply).toEqual({ error: reason });
  });

  // It used to be written anyway: the tracker rejected it a microtask later, after runtime.request() wrote it.
  it('a signal aborted before the call sends nothing', async () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    await outcome(conn.request({ type: 'get', key: 'a' }, { signal: AbortSignal.abort(new Error('already cancelled')) }));
    expect(memory.last!.sent).toEqual([]);
  });

  it('a late reply after the abort is not taken as a reply: it arrives as an ordinary message, and nothing throws', async () => {
    const { memory, conn, messages } = setup();
    const invalid = recordEvents(conn, ['invalid-message', 'error']);
    memory.last!.accept();
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const reply = outcome(conn.request<Reply>({ type: 'get', key: 'a' }, { signal: controller.signal }));
    controller.abort(reason);
    expect(() => memory.last!.message('{"type":"reply","id":"1","ok":true}')).not.toThrow();
    expect(await reply).toEqual({ error: reason });
    expect(messages).toEqual([{ type: 'reply', id: '1', ok: true }]);
    expect(invalid).toEqual([]);
    expect(conn.state).toBe('open');
    // The id is free again and the connection still answers requests.
    const next = conn.request<Reply>({ type: 'get', key: 'b' });
    memory.last!.message('{"type":"reply","id":"2","ok":false}');
    await expect(next).resolves.toEqual({ type: 'reply', id: '2', ok: false });
  });

  it('a request aborted while it waits in the queue is never written', async () => {
    const { memory, conn } = setup();
    const controller = new AbortController();
    const reply = outcome(conn.request({ type: 'get', key: 'a' }, { signal: controller.signal }));
    conn.send({ type: 'hello' });
    const reason = new Error('gave up before open');
    controller.abort(reason);
    expect(await reply).toEqual({ error: reason });
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['{"type":"hello"}']);
  });

  it('aborting after the reply resolved changes nothing', async () => {
    const { memory, conn, messages } = setup();
    memory.last!.accept();
    const controller = new AbortController();
    const reply = conn.request<Reply>({ type: 'get', key: 'a' }, { signal: controller.signal });
    memory.last!.message('{"type":"reply","id":"1","ok":true}');
    await expect(reply).resolves.toEqual({ type: 'reply', id: '1', ok: true });
    controller.abort(new Error('too late'));
    await expect(reply).resolves.toEqual({ type: 'reply', id: '1', ok: true });
    expect(messages).toEqual([]);
    expect(conn.state).toBe('open');
    expect(memory.last!.sent).toEqual(['{"type":"get","key":"a","id":"1"}']);
  });
});
