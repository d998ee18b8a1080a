import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { type StandardSchemaV1, createConnection, jsonCodec } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { recordEvents } from '../support/events.js';
import { router } from '../../src/plugins/router.js';
import { schema } from '../../src/plugins/schema.js';
import { requests } from '../../src/plugins/requests.js';
import { metrics } from '../../src/plugins/metrics.js';

type ServerMsg = { type: 'chat'; text: string } | { type: 'presence'; users: string[] } | { type: 'reply'; id: string; ok: boolean };
type ClientMsg = { type: 'join'; room: string } | { type: 'chat'; text: string } | { type: 'leave'; room: string } | { type: 'get'; id?: string; key: string };

function setup(options: Parameters<typeof createConnection<ServerMsg, ClientMsg>>[1] = {}) {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection<ServerMsg, ClientMsg>('ws://example.test/', {
    transport: memory.transport,
    clock,
    random: () => 0,
    codec: jsonCodec<ServerMsg, ClientMsg>(),
    requests: requests(),
    router: router(),
    ...options,
  });
  return { memory, clock, conn };
}

/** A hand-written Standard Schema validator: what zod/valibot/arktype hand us. */
const serverMsgSchema: StandardSchemaV1<unknown, ServerMsg> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate(value) {
      const v = value as { type?: unknown };
      return typeof v === 'object' && v !== null && ['chat', 'presence', 'reply'].includes(v.type as string)
        ? { value: value as ServerMsg }
        : { issues: [{ message: 'unknown message type' }] };
    },
  },
};

describe('typed messages', () => {
  it('encodes sends and decodes messages with the codec', () => {
    const { memory, conn } = setup();
    const got: ServerMsg[] = [];
    conn.onmessage = (e) => got.push(e.data);
    memory.last!.accept();
    conn.send({ type: 'chat', text: 'hi' });
    memory.last!.message('{"type":"chat","text":"yo"}');
    expect(memory.last!.sent).toEqual(['{"type":"chat","text":"hi"}']);
    expect(got).toEqual([{ type: 'chat', text: 'yo' }]);
  });

  it('reports malformed and schema-rejected input as invalid-message, never as message, never a crash', async () => {
    const { memory, conn } = setup({ schema: schema(serverMsgSchema) });
    const log = recordEvents(conn, ['message', 'invalid-message']);
    memory.last!.accept();
    memory.last!.message('{not json');
    memory.last!.message('{"type":"unknown"}');
    memory.last!.message(new ArrayBuffer(2));
    memory.last!.message('{"type":"chat","text":"ok"}');
    expect(log).toEqual(['invalid-message', 'invalid-message', 'invalid-message', 'message:[object Object]']);
  });

  it('keeps order when the schema validates asynchronously', async () => {
    const asyncSchema: StandardSchemaV1<unknown, ServerMsg> = {
      '~standard': { version: 1, vendor: 'test', validate: async (value) => ({ value: value as ServerMsg }) },
    };
    const { memory, conn } = setup({ schema: schema(asyncSchema) });
    const got: string[] = [];
    conn.onmessage = (e) => got.push((e.data as { text: string }).text);
    memory.last!.accept();
    for (const text of ['a', 'b', 'c']) memory.last!.message(JSON.stringify({ type: 'chat', text }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('routes by type with on/once/off, typed by the message union', () => {
    const { memory, conn } = setup();
    const texts: string[] = [];
    const users: string[][] = [];
    const onChat = (m: { text: string }) => texts.push(m.text);
    conn.on('chat', onChat).once('presence', (m) => users.push(m.users));
    memory.last!.accept();
    memory.last!.message('{"type":"chat","text":"1"}');
    memory.last!.message('{"type":"presence","users":["ann"]}');
    memory.last!.message('{"type":"presence","users":["bob"]}');
    conn.off('chat', onChat);
    memory.last!.message('{"type":"chat","text":"2"}');
    expect(texts).toEqual(['1']);
    expect(users).toEqual([['ann']]);
  });
});

describe('request/response', () => {
  it('adds a correlation id and resolves with the matching reply (which is not a message event)', async () => {
    const { memory, conn } = setup();
    const messages = recordEvents(conn, ['message']);
    memory.last!.accept();
    const reply = conn.request<{ ok: boolean }>({ type: 'get', key: 'a' });
    expect(memory.last!.sent).toEqual(['{"type":"get","key":"a","id":"1"}']);
    memory.last!.message('{"type":"reply","id":"1","ok":true}');
    await expect(reply).resolves.toEqual({ type: 'reply', id: '1', ok: true });
    expect(messages).toEqual([]);
  });

  it('times out with ERR_REQUEST_TIMEOUT on the injected clock', async () => {
    const { memory, clock, conn } = setup({ requests: requests({ timeout: 500 }) });
    memory.last!.accept();
    const reply = conn.request({ type: 'get', key: 'a' });
    clock.increment(500);
    await expect(reply).rejects.toMatchObject({ code: 'ERR_REQUEST_TIMEOUT' });
  });

  it('re-sends pending requests after a reconnect, and fails them when the session gives up', async () => {
    const { memory, clock, conn } = setup({ backoff: { maxRetries: 1 } });
    memory.last!.accept();
    const reply = conn.request({ type: 'get', key: 'a' });
    memory.last!.close(1006);
    clock.increment(0);
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['{"type":"get","key":"a","id":"1"}']);
    memory.last!.message('{"type":"reply","id":"1","ok":true}');
    await expect(reply).resolves.toMatchObject({ ok: true });

    const lost = conn.request({ type: 'get', key: 'b' });
    memory.last!.close(1006);
    clock.increment(0);
    memory.last!.refuse();
    await expect(lost).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
  });

  it("with onReconnect 'fail', a lost socket rejects pending requests with ERR_CONNECTION_LOST", async () => {
    const { memory, conn } = setup({ requests: requests({ onReconnect: 'fail' }) });
    memory.last!.accept();
    const reply = conn.request({ type: 'get', key: 'a' });
    memory.last!.close(1006);
    await expect(reply).rejects.toMatchObject({ code: 'ERR_CONNECTION_LOST' });
  });

  it('takes the same road as send(): behind queued messages and within the rate limit', async () => {
    const { memory, clock, conn } = setup({ flow: { rateLimit: { perSecond: 10, burst: 1 } } });
    memory.last!.accept();
    conn.send({ type: 'chat', text: '1' });
    conn.send({ type: 'chat', text: '2' });
    void conn.request({ type: 'get', key: 'a' });
    expect(memory.last!.sent).toEqual(['{"type":"chat","text":"1"}']);
    clock.increment(100);
    clock.increment(100);
    expect(memory.last!.sent).toEqual(['{"type":"chat","text":"1"}', '{"type":"chat","text":"2"}', '{"type":"get","key":"a","id":"1"}']);
  });

  it('closed() resolves with why the session ended', async () => {
    const { memory, conn } = setup();
    memory.last!.accept();
    const closed = conn.closed();
    memory.last!.close(1008, 'policy');
    await expect(closed).resolves.toMatchObject({ kind: 'fatal', code: 1008 });
    await expect(conn.closed()).resolves.toMatchObject({ kind: 'fatal' });
  });

  it('needs an object codec', async () => {
    const memory = createMemoryTransport();
    const raw = createConnection('ws://example.test/', { transport: memory.transport, requests: requests() });
    await expect(raw.request('x')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});

describe('session restore', () => {
  it('replays joins and subscriptions on every open, ahead of queued messages; unsubscribe stops it', () => {
    const { memory, clock, conn } = setup();
    conn.onEveryOpen(() => conn.send({ type: 'join', room: 'general' }));
    const sub = conn.subscribe({ type: 'join', room: 'prices' }, { unsubscribe: { type: 'leave', room: 'prices' } });
    conn.send({ type: 'chat', text: 'queued' });
    memory.last!.accept();
    expect(memory.last!.sent).toEqual([
      '{"type":"join","room":"general"}',
      '{"type":"join","room":"prices"}',
      '{"type":"chat","text":"queued"}',
    ]);
    memory.last!.close(1006);
    clock.increment(0);
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['{"type":"join","room":"general"}', '{"type":"join","room":"prices"}']);
    sub.unsubscribe();
    expect(memory.last!.sent.at(-1)).toBe('{"type":"leave","room":"prices"}');
    memory.last!.close(1006);
    clock.increment(0);
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['{"type":"join","room":"general"}']);
  });
});

describe('metrics', () => {
  it('counts traffic, uptime, reconnects and the last close on the injected clock', () => {
    const { memory, clock, conn } = setup({ metrics: metrics() });
    clock.increment(1000);
    memory.last!.accept();
    conn.send({ type: 'chat', text: 'a' });
    memory.last!.message('{"type":"chat","text":"b"}');
    clock.increment(2500);
    expect(conn.metrics).toMatchObject({ connectedSince: 1000, uptime: 2500, messagesIn: 1, messagesOut: 1, reconnects: 0 });
    memory.last!.close(1006);
    clock.increment(0);
    memory.last!.accept();
    clock.increment(500);
    const m = conn.metrics;
    expect(m.reconnects).toBe(1);
    expect(m.totalUptime).toBe(3000);
    expect(m.lastClose).toMatchObject({ code: 1006 });
    expect(m.bytesOut).toBe('{"type":"chat","text":"a"}'.length);
  });

  it('reports messages and bytes per last full second, both ways', () => {
    const { memory, clock, conn } = setup({ metrics: metrics() });
    memory.last!.accept();
    const frame = '{"type":"chat","text":"x"}';
    for (let i = 0; i < 3; i++) memory.last!.message(frame);
    conn.send({ type: 'chat', text: 'y' });
    clock.increment(1000);
    expect(conn.metrics).toMatchObject({
      messagesInLastSecond: 3,
      bytesInLastSecond: 3 * frame.length,
      messagesOutLastSecond: 1,
      bytesOutLastSecond: frame.length,
      queueBytes: 0,
    });
    clock.increment(1000);
    expect(conn.metrics).toMatchObject({ messagesInLastSecond: 0, bytesInLastSecond: 0, bytesOutLastSecond: 0 });
  });

  it('without the plug-in: lifecycle figures only, traffic null, and no clock read for a message nobody listens to', () => {
    const simulated = new SimulatedClock();
    let reads = 0;
    const clock = {
      setTimeout: (fn: (...args: unknown[]) => void, ms: number) => simulated.setTimeout(fn, ms),
      clearTimeout: (id: unknown) => simulated.clearTimeout(id as never),
      now: () => (reads++, simulated.now()),
    };
    const { memory, conn } = setup({ clock, requests: undefined, router: undefined });
    simulated.increment(1000);
    memory.last!.accept();
    simulated.increment(250);
    const before = reads;
    for (let i = 0; i < 5; i++) memory.last!.message('{"type":"chat","text":"x"}');
    conn.send({ type: 'chat', text: 'y' });
    expect(reads - before).toBe(0);
    expect(conn.metrics).toMatchObject({
      connectedSince: 1000,
      uptime: 250,
      reconnects: 0,
      messagesIn: null,
      messagesOut: null,
      bytesIn: null,
      bytesOut: null,
      messagesInLastSecond: null,
      bytesOutLastSecond: null,
    });
    // With a listener, the event's timeStamp takes one read per message, and a reply made in it shares that read.
    conn.onmessage = () => conn.send({ type: 'chat', text: 'reply' });
    const withListener = reads;
    for (let i = 0; i < 3; i++) memory.last!.message('{"type":"chat","text":"x"}');
    expect(reads - withListener).toBe(3);
    expect(memory.last!.sent.filter((frame) => frame === '{"type":"chat","text":"reply"}')).toHaveLength(3);
  });

  it('refuses a value that is not the plug-in, naming the import', () => {
    expect(() => setup({ metrics: true as never })).toThrow(/import \{ metrics \} from 'socketchart\/metrics'/);
  });
});

describe('message size', () => {
  it('rejects messages over maxMessageSize with ERR_MESSAGE_TOO_LARGE', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://example.test/', { transport: memory.transport, maxMessageSize: 4 });
    expect(() => conn.send('12345')).toThrow(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }));
    conn.send('1234');
  });
});
