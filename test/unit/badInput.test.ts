/**
 * The bad-input matrix (issue 7): every public function fed invalid arguments gets a `SocketchartError` with a
 * stable code, at the call (thrown, or a rejected promise for promise-returning functions), never a TypeError
 * from deep inside, a silent no-op that fails later, or an uncaught exception on a later event.
 * test/unit/errors.test.ts has the basics (URLs, a first set of options, close codes, send types); this file
 * covers the rest.
 *
 * Every case here must hold. The first version of this file listed 15 gaps (G1-G15) as `it.fails`; all are fixed:
 * delivery/environment/clock/inspect/transport/closeCodes are checked at construction, delays are capped at
 * setTimeout's 2**31-1 ms, codec failures are ERR_INVALID_DATA, listeners/handlers/hooks/signals are checked when
 * registered, subscribe() encodes its messages up front, request()/opened() validate their options, the pool
 * checks its options, size and opened(count), createNodeTransport, splitMessage, Reassembler, logTransitions and
 * backoffDelay check their arguments. A second audit found 57 more cases (logTransitions' options, createBrowserTransport,
 * serveInspector, the state path helpers, classifyClose, the environments and the testing kit), fixed the same way.
 * Add a case here with every new public function.
 */
import { WebSocketServer } from 'ws';
import { describe, expect, it } from 'vitest';
import { atLeastOnce } from '../../src/delivery/index.js';
import { batching } from '../../src/plugins/batching.js';
import { chunking } from '../../src/plugins/chunking.js';
import { requests } from '../../src/plugins/requests.js';
import { router } from '../../src/plugins/router.js';
import { schema } from '../../src/plugins/schema.js';
import {
  type Connection,
  DEFAULTS,
  Reassembler,
  type SocketchartErrorCode,
  backoffDelay,
  browserEnvironment,
  classifyClose,
  createBrowserTransport,
  createConnection,
  createManualEnvironment,
  createPool,
  isSocketchartError,
  jsonCodec,
  logTransitions,
  pathMatches,
  readyStateOf,
  splitMessage,
  statePathOf,
} from '../../src/index.js';
import { serveInspector } from '../../src/inspector/index.js';
import { createNodeTransport } from '../../src/node.js';
import { attachAckServer } from '../../src/server/index.js';
import { PATH_VARIANTS, connectionPaths, createTcpRelay, createTestServer, stateIdsOf, transitionKeys } from '../../src/testing/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

// The matrix feeds wrong types on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

const memory = () => createMemoryTransport().transport;
/** A connection that does nothing by itself (startClosed, memory transport): construction-time checks only. */
const make = (options: Record<string, unknown> = {}, url: unknown = 'ws://example.test/'): Connection<Any, Any> =>
  createConnection(url as string, { transport: memory(), startClosed: true, ...options } as Any);
const makeJson = () => make({ codec: jsonCodec(), requests: requests(), router: router() });

/**
 * What calling `run` gives: the SocketchartError code (thrown, or a rejected promise), 'no error', 'pending' (a
 * promise still unsettled after 50 ms), or the name of another error.
 */
async function outcome(run: () => unknown): Promise<string> {
  let value: unknown;
  try {
    value = run();
  } catch (error) {
    return describeError(error, 'threw');
  }
  if (!(value instanceof Promise)) return 'no error';
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('pending'), 50));
  return Promise.race([
    value.then(
      () => 'resolved',
      (error: unknown) => describeError(error, 'rejected'),
    ),
    timeout,
  ]);
}

function describeError(error: unknown, how: string): string {
  return isSocketchartError(error) ? error.code : `${how} ${(error as Error)?.name ?? typeof error}`;
}

interface Case {
  name: string;
  run: () => unknown;
  code: SocketchartErrorCode;
}

function matrix(title: string, cases: Case[]): void {
  describe(title, () => {
    for (const c of cases) {
      const label = `${c.name} -> ${c.code}`;
      const test = async () => {
        expect(await outcome(c.run)).toBe(c.code);
      };
      it(label, test);
    }
  });
}

const opt = (name: string, options: Record<string, unknown>): Case => ({
  name: `option ${name}: ${JSON.stringify(options, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : typeof v === 'function' ? 'fn' : v))}`,
  run: () => make(options),
  code: 'ERR_INVALID_OPTION',
});

matrix('message plug-ins: their options are checked when the plug-in is made', [
  { name: 'chunking(42)', run: () => chunking(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'chunking({ chunkSize: 10 })', run: () => chunking({ chunkSize: 10 }), code: 'ERR_INVALID_OPTION' },
  { name: 'chunking({ chunksize: 1024 })', run: () => chunking({ chunksize: 1024 } as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'batching({})', run: () => batching({} as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'batching()', run: () => (batching as Any)(), code: 'ERR_INVALID_OPTION' },
  { name: 'batching({ envelope, window: -1 })', run: () => batching({ envelope: () => '', window: -1 }), code: 'ERR_INVALID_OPTION' },
  { name: "requests({ onReconnect: 'retry' })", run: () => requests({ onReconnect: 'retry' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'requests({ timeout: NaN })', run: () => requests({ timeout: NaN }), code: 'ERR_INVALID_OPTION' },
  { name: 'schema(42)', run: () => schema(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "router({ typeField: '' })", run: () => router({ typeField: '' }), code: 'ERR_INVALID_OPTION' },
  { name: "router({ typefield: 'kind' })", run: () => router({ typefield: 'kind' } as Any), code: 'ERR_INVALID_OPTION' },
]);

describe('message features without their plug-in', () => {
  it('the former option shapes name the import to use', () => {
    expect(() => make({ chunking: true })).toThrow(/import \{ chunking \} from 'socketchart\/chunking'/);
    expect(() => make({ batching: { envelope: () => '' } })).toThrow(/import \{ batching \} from 'socketchart\/batching'/);
    expect(() => make({ requests: { timeout: 1 } })).toThrow(/import \{ requests \} from 'socketchart\/requests'/);
    expect(() => make({ router: {} })).toThrow(/import \{ router \} from 'socketchart\/router'/);
  });

  it('request() and on() say which plug-in they need', async () => {
    const conn = make({ codec: jsonCodec() });
    await expect(conn.request({})).rejects.toThrow(expect.objectContaining({ code: 'ERR_PLUGIN_MISSING', message: expect.stringContaining("import { requests } from 'socketchart/requests'") }));
    expect(() => conn.on('chat', () => {})).toThrow(expect.objectContaining({ code: 'ERR_PLUGIN_MISSING', message: expect.stringContaining("import { router } from 'socketchart/router'") }));
  });
});

matrix('createConnection: URLs errors.test.ts does not cover', [
  { name: "''", run: () => make({}, ''), code: 'ERR_INVALID_URL' },
  { name: "'ws://' (no host)", run: () => make({}, 'ws://'), code: 'ERR_INVALID_URL' },
  { name: "'ws://exa mple.com'", run: () => make({}, 'ws://exa mple.com'), code: 'ERR_INVALID_URL' },
  { name: '{} (not a URL)', run: () => make({}, {}), code: 'ERR_INVALID_URL' },
  { name: "URL object with a fragment", run: () => make({}, new URL('ws://example.com/#x')), code: 'ERR_INVALID_URL' },
  { name: "'javascript:alert(1)'", run: () => make({}, 'javascript:alert(1)'), code: 'ERR_INVALID_URL' },
]);

matrix('createConnection: options errors.test.ts does not cover', [
  opt('codec', { codec: {} }),
  opt('codec', { codec: { encode: 1, decode: 2 } }),
  opt('schema', { schema: { '~standard': {} } }),
  opt('typeField', { typeField: '' }),
  opt('typeField', { typeField: 42 }),
  opt('maxMessageSize', { maxMessageSize: -1 }),
  opt('maxMessageSize', { maxMessageSize: NaN }),
  opt('maxMessageSize', { maxMessageSize: 1.5 }),
  opt('requests', { requests: 42 }),
  opt('requests.timeout', { requests: { timeout: -1 } }),
  opt('requests.onReconnect', { requests: { onReconnect: 'retry' } }),
  opt('requests.idField', { requests: { idField: '' } }),
  opt('flow', { flow: 42 }),
  opt('flow.highWaterMark', { flow: { highWaterMark: -1 } }),
  opt('flow.lowWaterMark', { flow: { highWaterMark: 10, lowWaterMark: 20 } }),
  opt('flow.rateLimit.perSecond', { flow: { rateLimit: { perSecond: 0 } } }),
  opt('flow.rateLimit.perSecond', { flow: { rateLimit: { perSecond: NaN } } }),
  opt('flow.rateLimit.burst', { flow: { rateLimit: { perSecond: 1, burst: 0 } } }),
  opt('auth', { auth: 'token' }),
  opt('auth.token', { auth: {} }),
  opt('auth.mode', { auth: { token: () => 't', mode: 'url' } }),
  opt('auth.timeout', { auth: { token: () => 't', timeout: -1 } }),
  opt('auth.refreshCodes', { auth: { token: () => 't', refreshCodes: 'x' } }),
  opt('heartbeat', { heartbeat: 42 }),
  opt('heartbeat.interval', { heartbeat: { interval: -1 } }),
  opt('heartbeat.interval', { heartbeat: { interval: NaN } }),
  opt('heartbeat.timeout', { heartbeat: { timeout: 0 } }),
  opt('heartbeat.mode', { heartbeat: { mode: 'tcp' } }),
  opt('random', { random: 42 }),
  opt('closeCodes', { closeCodes: 42 }),
  opt('chunking', { chunking: 42 }),
  // The former shapes of the message features: refused, naming the import that replaces them.
  opt('chunking', { chunking: true }),
  opt('chunking', { chunking: { chunkSize: 1024 } }),
  opt('batching', { batching: { envelope: () => '' } }),
  opt('requests', { requests: { timeout: 10 } }),
  opt('schema', { schema: { '~standard': { version: 1, vendor: 'x', validate: (value: unknown) => ({ value }) } } }),
  opt('router', { router: { typeField: 'kind' } }),
  opt('typeField', { typeField: 'kind' }),
  opt('backoff.maxDelay', { backoff: { maxDelay: NaN } }),
  opt('backoff.initialDelay', { backoff: { initialDelay: Infinity } }),
  opt('backoff.maxAttempts', { backoff: { maxAttempts: -1 } }),
  opt('queue', { queue: 'big' }),
  opt('queue.maxMessages', { queue: { maxMessages: NaN } }),
  opt('queue.ttl', { queue: { ttl: -1 } }),
  opt('protocols', { protocols: 42 }),
  opt('protocols', { protocols: [''] }),
  opt('delivery', { delivery: 42 }),
  opt('delivery', { delivery: 'at-least-once' }),
  opt('delivery', { delivery: () => 42 }),
  opt('environment', { environment: 42 }),
  opt('environment', { environment: {} }),
  opt('clock', { clock: {} }),
  opt('clock', { clock: 42 }),
  opt('inspect', { inspect: 42 }),
  opt('transport', { transport: 42 }),
  opt('transport', { transport: {} }),
  opt('closeCodes', { closeCodes: { 4000: 'sometimes' } }),
  opt('connectTimeout', { connectTimeout: 2 ** 31 }),
  opt('closeTimeout', { closeTimeout: 1e20 }),
  opt('backoff.maxDelay', { backoff: { maxDelay: 2 ** 31 } }),
  opt('heartbeat.interval', { heartbeat: { interval: 2 ** 31 } }),
]);

matrix('createConnection: delivery options (atLeastOnce)', [
  { name: 'atLeastOnce({ maxMessages: -1 })', run: () => make({ delivery: atLeastOnce({ maxMessages: -1 }) }), code: 'ERR_INVALID_OPTION' },
  { name: 'atLeastOnce({ maxBytes: NaN })', run: () => make({ delivery: atLeastOnce({ maxBytes: NaN }) }), code: 'ERR_INVALID_OPTION' },
  { name: "atLeastOnce({ overflow: 'drop-oldest' })", run: () => atLeastOnce({ overflow: 'drop-oldest' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'atLeastOnce({ ackDelay: -1 })', run: () => atLeastOnce({ ackDelay: -1 }), code: 'ERR_INVALID_OPTION' },
  { name: "atLeastOnce('fast')", run: () => atLeastOnce('fast' as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'send(Blob) with atLeastOnce', run: () => make({ delivery: atLeastOnce() }).send(new Blob(['x'])), code: 'ERR_INVALID_DATA' },
]);

matrix('Connection methods', [
  { name: 'send() over maxMessageSize', run: () => make({ maxMessageSize: 3 }).send('abcd'), code: 'ERR_MESSAGE_TOO_LARGE' },
  { name: 'send(undefined) with jsonCodec', run: () => makeJson().send(undefined), code: 'ERR_INVALID_DATA' },
  { name: 'send({ n: 1n }) with jsonCodec (BigInt)', run: () => makeJson().send({ n: BigInt(1) }), code: 'ERR_INVALID_DATA' },
  {
    name: 'send(circular) with jsonCodec',
    run: () => {
      const a: Record<string, unknown> = {};
      a.self = a;
      makeJson().send(a);
    },
    code: 'ERR_INVALID_DATA',
  },
  { name: 'close(NaN)', run: () => make().close(NaN), code: 'ERR_INVALID_CLOSE_CODE' },
  { name: "close('1000')", run: () => make().close('1000' as Any), code: 'ERR_INVALID_CLOSE_CODE' },
  { name: 'close(1000, 42)', run: () => make().close(1000, 42 as Any), code: 'ERR_INVALID_CLOSE_CODE' },
  { name: 'close(1000, 124 ASCII bytes)', run: () => make().close(1000, 'x'.repeat(124)), code: 'ERR_REASON_TOO_LONG' },
  { name: 'close(1000, 42 lone surrogates = 126 bytes)', run: () => make().close(1000, '\ud800'.repeat(42)), code: 'ERR_REASON_TOO_LONG' },
  { name: 'close(1000, 31 emoji = 124 bytes)', run: () => make().close(1000, '😀'.repeat(31)), code: 'ERR_REASON_TOO_LONG' },
  { name: "addEventListener('message', 42)", run: () => make().addEventListener('message', 42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "addEventListener('message', fn, { signal: 42 })", run: () => make().addEventListener('message', () => {}, { signal: 42 as Any }), code: 'ERR_INVALID_OPTION' },
  { name: "on('chat', 42)", run: () => makeJson().on('chat' as never, 42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "once('chat', null)", run: () => makeJson().once('chat' as never, null as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'onEveryOpen(42)', run: () => make().onEveryOpen(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'subscribe(undefined) (raw codec)', run: () => make().subscribe(undefined as Any), code: 'ERR_INVALID_DATA' },
  { name: 'subscribe({}) (raw codec)', run: () => make().subscribe({} as Any), code: 'ERR_INVALID_DATA' },
  { name: "subscribe('x', { unsubscribe: {} }) (raw codec)", run: () => make().subscribe('x', { unsubscribe: {} as Any }), code: 'ERR_INVALID_DATA' },
  { name: "subscribe('x', null)", run: () => make().subscribe('x', null as Any), code: 'ERR_INVALID_OPTION' },
  // opened(): promise-returning, so errors are rejections.
  { name: 'opened({ timeout: NaN })', run: () => make().opened({ timeout: NaN }), code: 'ERR_INVALID_OPTION' },
  { name: "opened({ timeout: '100' })", run: () => make().opened({ timeout: '100' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'opened({ timeout: Infinity })', run: () => make().opened({ timeout: Infinity }), code: 'ERR_INVALID_OPTION' },
  { name: 'opened({ timeout: 2 ** 31 })', run: () => make().opened({ timeout: 2 ** 31 }), code: 'ERR_INVALID_OPTION' },
  { name: 'opened(null)', run: () => make().opened(null as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'opened({ signal: 42 })', run: () => make().opened({ signal: 42 as Any }), code: 'ERR_INVALID_OPTION' },
  // request(): likewise.
  { name: 'request({}) without the requests plug-in', run: () => make().request({}), code: 'ERR_PLUGIN_MISSING' },
  { name: 'request(null)', run: () => makeJson().request(null), code: 'ERR_INVALID_DATA' },
  { name: "request('text')", run: () => makeJson().request('text'), code: 'ERR_INVALID_DATA' },
  { name: 'request({}) after close()', run: () => {
    const c = makeJson();
    c.close();
    return c.request({});
  }, code: 'ERR_CONNECTION_CLOSED' },
  { name: 'request({}, { timeout: -1 })', run: () => makeJson().request({}, { timeout: -1 }), code: 'ERR_INVALID_OPTION' },
  { name: 'request({}, { timeout: NaN })', run: () => makeJson().request({}, { timeout: NaN }), code: 'ERR_INVALID_OPTION' },
  { name: 'request({}, null)', run: () => makeJson().request({}, null as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'request({}, { signal: 42 })', run: () => makeJson().request({}, { signal: 42 as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'request({ n: 1n }) (the codec cannot encode it)', run: () => makeJson().request({ n: BigInt(1) }), code: 'ERR_INVALID_DATA' },
]);

describe('Connection: what must stay a no-op (as the DOM does)', () => {
  it('addEventListener / removeEventListener with a null listener do nothing', () => {
    const conn = make();
    expect(() => conn.addEventListener('message', null)).not.toThrow();
    expect(() => conn.removeEventListener('message', null)).not.toThrow();
    conn.close();
  });

  it('request() with a duplicate id is refused as a rejection, not a synchronous throw ', async () => {
    const conn = makeJson();
    conn.request({ id: 'a' }).catch(() => {});
    let thrown: unknown;
    let promise: Promise<unknown> | undefined;
    try {
      promise = conn.request({ id: 'a' });
    } catch (error) {
      thrown = error;
    }
    // Today it throws ERR_INVALID_DATA synchronously; either way the code is stable.
    const error = thrown ?? (await promise!.catch((e: unknown) => e));
    expect(isSocketchartError(error, 'ERR_INVALID_DATA')).toBe(true);
    conn.close();
  });
});

const pool = (options: Record<string, unknown> = {}) => createPool('ws://example.test/', { transport: memory(), startClosed: true, ...options } as Any);

matrix('createPool and the pool', [
  { name: 'size 0', run: () => pool({ size: 0 }), code: 'ERR_INVALID_OPTION' },
  { name: 'size -1', run: () => pool({ size: -1 }), code: 'ERR_INVALID_OPTION' },
  { name: 'size 1.5', run: () => pool({ size: 1.5 }), code: 'ERR_INVALID_OPTION' },
  { name: 'size NaN', run: () => pool({ size: NaN }), code: 'ERR_INVALID_OPTION' },
  { name: "size '3'", run: () => pool({ size: '3' }), code: 'ERR_INVALID_OPTION' },
  { name: 'size Infinity', run: () => pool({ size: Infinity }), code: 'ERR_INVALID_OPTION' },
  { name: 'a bad URL', run: () => createPool('nope', { transport: memory() }), code: 'ERR_INVALID_URL' },
  { name: 'a bad connection option', run: () => pool({ connectTimeout: -1 }), code: 'ERR_INVALID_OPTION' },
  { name: 'options null', run: () => createPool('ws://example.test/', null as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'pool.close(999)', run: () => pool({ size: 1 }).close(999), code: 'ERR_INVALID_CLOSE_CODE' },
  { name: "pool.close(1000, 'x' * 124)", run: () => pool({ size: 1 }).close(1000, 'x'.repeat(124)), code: 'ERR_REASON_TOO_LONG' },
  { name: 'pool.send({})', run: () => pool({ size: 1 }).send({} as Any), code: 'ERR_INVALID_DATA' },
  { name: 'pool.broadcast(42)', run: () => pool({ size: 2 }).broadcast(42 as Any), code: 'ERR_INVALID_DATA' },
  { name: 'pool.opened(NaN) (never settles today)', run: () => pool({ size: 1 }).opened(NaN), code: 'ERR_INVALID_OPTION' },
  { name: 'pool.opened(2) of a pool of 1 (never settles today)', run: () => pool({ size: 1 }).opened(2), code: 'ERR_INVALID_OPTION' },
  { name: "pool.addEventListener('statechange', 42)", run: () => pool({ size: 1 }).addEventListener('statechange', 42 as Any), code: 'ERR_INVALID_OPTION' },
]);

describe('createPool: huge sizes', () => {
  // Not run: today `size: 1e9` really tries to make a billion connections (see G12).
  it('size 1e9 -> ERR_INVALID_OPTION (refused before opening anything)', () => {
    expect(() => createPool('ws://example.test/', { size: 1e9, transport: memory(), startClosed: true } as Any)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
  });
});

matrix('helpers', [
  { name: 'createNodeTransport(42)', run: () => createNodeTransport(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'createNodeTransport({ handshakeTimeout: -1 })', run: () => createNodeTransport({ handshakeTimeout: -1 }), code: 'ERR_INVALID_OPTION' },
  { name: 'createNodeTransport({ maxPayload: NaN })', run: () => createNodeTransport({ maxPayload: NaN }), code: 'ERR_INVALID_OPTION' },
  { name: 'createNodeTransport({ headers: 42 })', run: () => createNodeTransport({ headers: 42 as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'splitMessage(binary, id, 8) (chunk smaller than the header)', run: () => splitMessage(new Uint8Array(64), 1, 8), code: 'ERR_INVALID_OPTION' },
  { name: 'splitMessage(42, 1, 256) (returns [] today)', run: () => splitMessage(42 as Any, 1, 256), code: 'ERR_INVALID_DATA' },
  { name: "splitMessage('x' * 999, 1, NaN)", run: () => splitMessage('x'.repeat(999), 1, NaN), code: 'ERR_INVALID_OPTION' },
  { name: 'new Reassembler(-1)', run: () => new Reassembler(-1), code: 'ERR_INVALID_OPTION' },
  { name: 'logTransitions(null)', run: () => logTransitions(null as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'backoffDelay(NaN, DEFAULTS.backoff)', run: () => backoffDelay(NaN, DEFAULTS.backoff), code: 'ERR_INVALID_OPTION' },
  { name: 'backoffDelay(1, undefined)', run: () => backoffDelay(1, undefined as Any), code: 'ERR_INVALID_OPTION' },
]);

matrix('socketchart/server: attachAckServer', [
  { name: 'attachAckServer({}, ...)', run: () => attachAckServer({} as Any, { onMessage: () => {} }), code: 'ERR_INVALID_OPTION' },
  { name: 'attachAckServer(wss, {})', run: () => attachAckServer(new WebSocketServer({ noServer: true }), {} as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'attachAckServer(wss, null)', run: () => attachAckServer(new WebSocketServer({ noServer: true }), null as Any), code: 'ERR_INVALID_OPTION' },
  {
    name: 'attachAckServer(wss, { sessionTtl: -1 })',
    run: () => attachAckServer(new WebSocketServer({ noServer: true }), { onMessage: () => {}, sessionTtl: -1 }),
    code: 'ERR_INVALID_OPTION',
  },
]);

matrix('logTransitions: options and what counts as a connection', [
  { name: 'logTransitions(conn, { write: 42 }) (threw a TypeError on the next event)', run: () => logTransitions(make(), { write: 42 as Any }), code: 'ERR_INVALID_OPTION' },
  { name: "logTransitions(conn, { color: 'yes' })", run: () => logTransitions(make(), { color: 'yes' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: "logTransitions(conn, { time: 'HH:MM' })", run: () => logTransitions(make(), { time: 'HH:MM' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'logTransitions(pool) (its events are not a connection\'s)', run: () => logTransitions(pool({ size: 1 }) as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'logTransitions(new EventTarget())', run: () => logTransitions(new EventTarget() as Any), code: 'ERR_INVALID_OPTION' },
]);

matrix('createBrowserTransport (takes a WebSocket constructor, not options)', [
  { name: 'createBrowserTransport(42) (the connection ended with closedBy.kind error)', run: () => createBrowserTransport(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'createBrowserTransport({ WebSocket })', run: () => createBrowserTransport({ WebSocket: globalThis.WebSocket } as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'createBrowserTransport(null)', run: () => createBrowserTransport(null as Any), code: 'ERR_INVALID_OPTION' },
]);

// Promise-returning: errors are rejections, before anything listens.
matrix('serveInspector', [
  { name: 'serveInspector(42) (a TypeError)', run: () => serveInspector(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'serveInspector({})', run: () => serveInspector({} as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'serveInspector(conn, 42)', run: () => serveInspector(make(), 42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'serveInspector(conn, { port: -5 }) (a RangeError)', run: () => serveInspector(make(), { port: -5 }), code: 'ERR_INVALID_OPTION' },
  { name: 'serveInspector(conn, { port: 70000 })', run: () => serveInspector(make(), { port: 70000 }), code: 'ERR_INVALID_OPTION' },
  { name: 'serveInspector(conn, { host: 42 }) (accepted)', run: () => serveInspector(make(), { host: 42 as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'serveInspector(conn, { historyLimit: -1 })', run: () => serveInspector(make(), { historyLimit: -1 }), code: 'ERR_INVALID_OPTION' },
  { name: 'serveInspector(conn, { mermaidScript: 42 })', run: () => serveInspector(make(), { mermaidScript: 42 as Any }), code: 'ERR_INVALID_OPTION' },
]);

matrix('state paths', [
  { name: 'statePathOf(null)', run: () => statePathOf(null as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'statePathOf({})', run: () => statePathOf({} as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'statePathOf({ value: {} })', run: () => statePathOf({ value: {} }), code: 'ERR_INVALID_OPTION' },
  { name: 'statePathOf({ value: { attempt: 42 } })', run: () => statePathOf({ value: { attempt: 42 as Any } }), code: 'ERR_INVALID_OPTION' },
  { name: 'readyStateOf({})', run: () => readyStateOf({} as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'pathMatches(1, 2)', run: () => pathMatches(1 as Any, 2 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "pathMatches('open', null)", run: () => pathMatches('open', null as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'conn.matches(42)', run: () => make().matches(42 as Any), code: 'ERR_INVALID_OPTION' },
]);

matrix('classifyClose and the environments', [
  { name: "classifyClose(1006.5, '')", run: () => classifyClose(1006.5, ''), code: 'ERR_INVALID_OPTION' },
  { name: "classifyClose('1006', '')", run: () => classifyClose('1006' as Any, ''), code: 'ERR_INVALID_OPTION' },
  { name: 'classifyClose(1006, 42)', run: () => classifyClose(1006, 42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "classifyClose(4000, '', 42)", run: () => classifyClose(4000, '', 42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "classifyClose(4000, '', { 4000: 'sometimes' })", run: () => classifyClose(4000, '', { 4000: 'sometimes' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: "classifyClose(4000, '', { 99: 'fatal' })", run: () => classifyClose(4000, '', { 99: 'fatal' }), code: 'ERR_INVALID_OPTION' },
  { name: 'createManualEnvironment(42)', run: () => createManualEnvironment(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "createManualEnvironment().setOnline('no')", run: () => createManualEnvironment().setOnline('no' as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'browserEnvironment(42)', run: () => browserEnvironment(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'browserEnvironment({ addEventListener: 42 })', run: () => browserEnvironment({ addEventListener: 42 } as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'browserEnvironment({ document: {} })', run: () => browserEnvironment({ document: {} } as Any), code: 'ERR_INVALID_OPTION' },
]);

matrix('socketchart/testing', [
  { name: 'createMemoryTransport(42)', run: () => createMemoryTransport(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "createMemoryTransport({ binaryTypes: 'blob' })", run: () => createMemoryTransport({ binaryTypes: 'blob' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: "createMemoryTransport({ binaryTypes: ['text'] })", run: () => createMemoryTransport({ binaryTypes: ['text' as Any] }), code: 'ERR_INVALID_OPTION' },
  { name: "createMemoryTransport({ canPing: 'yes' })", run: () => createMemoryTransport({ canPing: 'yes' as Any }), code: 'ERR_INVALID_OPTION' },
  {
    name: 'peer.close(1000.5) (failed inside the chart)',
    run: () => {
      const memory = createMemoryTransport();
      const conn = createConnection('ws://example.test/', { transport: memory.transport });
      try {
        memory.last!.accept();
        memory.last!.close(1000.5);
      } finally {
        conn.close();
      }
    },
    code: 'ERR_INVALID_OPTION',
  },
  { name: 'createTestServer(42)', run: () => createTestServer(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'createTestServer({ onMessage: 42 })', run: () => createTestServer({ onMessage: 42 as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'createTestServer({ onConnection: 42 })', run: () => createTestServer({ onConnection: 42 as Any }), code: 'ERR_INVALID_OPTION' },
  { name: "createTestServer({ handleProtocols: 'chat' })", run: () => createTestServer({ handleProtocols: 'chat' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: "createTestServer({ autoPong: 'no' })", run: () => createTestServer({ autoPong: 'no' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'createTestServer({ holdHandshakes: 1 })', run: () => createTestServer({ holdHandshakes: 1 as Any }), code: 'ERR_INVALID_OPTION' },
  { name: 'createTcpRelay(-1) (uncaught RangeError when a client arrived)', run: () => createTcpRelay(-1), code: 'ERR_INVALID_OPTION' },
  { name: 'createTcpRelay(70000)', run: () => createTcpRelay(70000), code: 'ERR_INVALID_OPTION' },
  { name: "createTcpRelay('8080')", run: () => createTcpRelay('8080' as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'createTcpRelay(8080, 42)', run: () => createTcpRelay(8080, 42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'connectionPaths(42)', run: () => connectionPaths(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: "connectionPaths({ variants: ['plan'] }) (a TypeError)", run: () => connectionPaths({ variants: ['plan' as Any] }), code: 'ERR_INVALID_OPTION' },
  { name: "connectionPaths({ variants: 'plain' })", run: () => connectionPaths({ variants: 'plain' as Any }), code: 'ERR_INVALID_OPTION' },
  { name: "connectionPaths({ shortest: 'no', variants: [] })", run: () => connectionPaths({ shortest: 'no' as Any, variants: [] }), code: 'ERR_INVALID_OPTION' },
  { name: 'connectionPaths({ simple: { maxPaths: -1 }, variants: [] })', run: () => connectionPaths({ simple: { maxPaths: -1 }, variants: [] }), code: 'ERR_INVALID_OPTION' },
  { name: 'transitionKeys(42)', run: () => transitionKeys(42 as Any), code: 'ERR_INVALID_OPTION' },
  { name: 'stateIdsOf(null)', run: () => stateIdsOf(null as Any), code: 'ERR_INVALID_OPTION' },
]);

describe('createConnection: unknown option keys (issue 12)', () => {
  /** The message of the ERR_INVALID_OPTION that `options` gets, or what happened instead. */
  const refusal = (options: Record<string, unknown>, build = make): string => {
    try {
      build(options).close();
    } catch (error) {
      return isSocketchartError(error, 'ERR_INVALID_OPTION') ? error.message : `threw ${(error as Error)?.name}`;
    }
    return 'accepted';
  };
  const envelope = (frames: unknown[]) => JSON.stringify(frames);

  it.each([
    [{ reconectTimeout: 1000 }, 'Unknown option `reconectTimeout`; did you mean `connectTimeout`?'],
    [{ closetimeout: 1000 }, '`closeTimeout`'],
    [{ shouldreconnect: false }, '`shouldReconnect`'],
    [{ protocol: 'chat' }, '`protocols`'],
    [{ backoff: { maxDelays: 10 } }, 'Unknown option `backoff.maxDelays`; did you mean `backoff.maxDelay`?'],
    [{ backoff: { maxRetry: 2 } }, '`backoff.maxRetries`'],
    [{ backoff: { intialDelay: 100 } }, '`backoff.initialDelay`'],
    [{ queue: { overflo: 'reject' } }, '`queue.overflow`'],
    [{ queue: { tll: 100 } }, '`queue.ttl`'],
    [{ heartbeat: { intervall: 1000 } }, '`heartbeat.interval`'],
    [{ auth: { token: (): string => 't', refreshcodes: [4001] } }, '`auth.refreshCodes`'],
    [{ auth: { token: (): string => 't', queryParameter: 't' } }, '`auth.queryParam`'],
    [{ flow: { highWatermark: 10 } }, '`flow.highWaterMark`'],
    [{ flow: { rateLimit: { perSec: 10 } } }, '`flow.rateLimit.perSecond`'],
    [{ unconfirmed: { confirmevery: 10 } }, '`unconfirmed.confirmEvery`'],
  ])('%j -> ERR_INVALID_OPTION naming the closest valid key', (options, expected) => {
    expect(refusal(options)).toContain(expected);
  });

  it.each<[() => unknown, string]>([
    [() => chunking({ chunksize: 1024 } as Any), '`chunking.chunkSize`'],
    [() => batching({ envelope, windw: 5 } as Any), '`batching.window`'],
    [() => requests({ timout: 10 } as Any), '`requests.timeout`'],
    [() => router({ typefield: 'kind' } as Any), '`router.typeField`'],
  ])('a plug-in names the closest valid key of its options (%#)', (make, expected) => {
    expect(make).toThrow(expected);
  });

  it('lists the valid keys when none is close', () => {
    expect(refusal({ xyzzy: 1 })).toMatch(/^Unknown option `xyzzy`; valid: codec, schema, .*inspect$/);
    expect(refusal({ queue: { something: 1 } })).toBe('Unknown option `queue.something`; valid: maxMessages, maxBytes, ttl, overflow');
  });

  it('checks createPool options past its own `size`', () => {
    const pool = (options: Record<string, unknown>) => createPool('ws://example.test/', { transport: memory(), startClosed: true, ...options } as Any);
    expect(refusal({ size: 2, backoff: { maxRetries: 1 } }, pool as Any)).toBe('accepted');
    expect(refusal({ sise: 2 }, pool as Any)).toContain('Unknown option `sise`');
  });

  it('accepts every key of every group that ConnectionOptions declares', () => {
    const everything = {
      codec: jsonCodec(),
      schema: schema({ '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) } }),
      router: router({ typeField: 'kind' }),
      requests: requests({ idField: 'rid', timeout: 100, onReconnect: 'fail' }),
      batching: batching({ envelope, window: 5, maxMessages: 10, split: () => undefined }),
      flow: { highWaterMark: 100, lowWaterMark: 10, rateLimit: { perSecond: 5, burst: 2 } },
      maxMessageSize: 1000,
      protocols: ['chat'],
      headers: { 'x-a': 'b' },
      binaryType: 'arraybuffer',
      startClosed: true,
      connectTimeout: 100,
      closeTimeout: 100,
      backoff: { initialDelay: 1, factor: 1.5, maxDelay: 10, maxRetries: 3, resetAfter: 10, tryAgainLaterDelay: 10 },
      retryWait: () => Promise.resolve(),
      shouldReconnect: () => true,
      closeCodes: { 4000: 'fatal' },
      queue: { maxMessages: 1, maxBytes: 10, ttl: 10, overflow: 'reject' },
      unconfirmed: { maxMessages: 1, maxBytes: 1, confirmEvery: 0 },
      environment: createManualEnvironment().source,
      clock: { setTimeout, clearTimeout, now: () => 0 },
      random: () => 0.5,
      auth: {
        token: () => 't', mode: 'header', message: (t: string) => t, isAck: () => true, isNack: () => false, timeout: 10,
        queryParam: 'tok', header: 'X-Token', refreshCodes: [4001],
      },
      heartbeat: { mode: 'message', interval: 10, timeout: 10, ping: () => 'ping', isPong: () => false },
      inspect: () => {},
    };
    const transport = { ...memory(), supportsHeaders: true };
    expect(refusal({ ...everything, transport })).toBe('accepted');
    expect(refusal({ chunking: chunking({ chunkSize: 128, maxMessageBytes: 1000 }), delivery: undefined })).toBe('accepted');
    expect(refusal({ delivery: atLeastOnce(), unconfirmed: false, heartbeat: false, chunking: undefined })).toBe('accepted');
    expect(refusal({ backoff: { maxAttempts: 3 } })).toBe('accepted');
  });

  it('accepts the options of every path variant of socketchart/testing', () => {
    const transport = createMemoryTransport({ canPing: true }).transport;
    for (const variant of Object.values(PATH_VARIANTS)) expect(refusal({ ...variant.options, transport }), variant.name).toBe('accepted');
  });
});

describe('a misspelled option of the server side and the delivery layer is refused, naming the closest key', () => {
  const typo = (run: () => unknown, message: string) => () => expect(run).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message }));
  it('attachAckServer(wss, { sesionTtl })', typo(() => attachAckServer(new WebSocketServer({ noServer: true }), { onMessage: () => {}, sesionTtl: 5 } as Any), 'Unknown option `sesionTtl`; did you mean `sessionTtl`?'));
  it('atLeastOnce({ maxMesages })', typo(() => atLeastOnce({ maxMesages: 3 } as Any), 'Unknown option `delivery.maxMesages`; did you mean `delivery.maxMessages`?'));
  it('redisSessionStore({ client, prefx })', async () => {
    const { redisSessionStore } = await import('../../src/server/redis.js');
    const client = { sendCommand: () => {}, duplicate: () => {} };
    expect(() => redisSessionStore({ client, prefx: 'x' } as Any)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: 'Unknown option `prefx`; did you mean `prefix`?' }),
    );
  });
});
