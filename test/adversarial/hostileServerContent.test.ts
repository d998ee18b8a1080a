/**
 * A hostile server against the client's message plug-ins: what it puts *inside* well-formed frames (reply ids,
 * batch envelopes, chunk headers, routing types, JSON keys). The transport and the protocol are honest here; the
 * content is not. Every case names the documented promise it checks (README section in brackets).
 *
 * The hostile side is a real `ws` server on 127.0.0.1, port 0, that writes a script of frames and then a sentinel
 * (`"end"`); frames on one socket arrive in order, so the sentinel's `message` event means the script was read.
 * Nothing sleeps. An exception escaping the client's pipeline would surface as an uncaught exception (in an app: a
 * crashed process); `escaped` collects them so a case fails on it at once instead of timing out.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import type { Connection } from '../../src/index.js';
import { isSocketchartError } from '../../src/errors.js';
import { createConnection, jsonCodec } from '../../src/node.js';
import { atLeastOnce } from '../../src/delivery/index.js';
import { batching } from '../../src/plugins/batching.js';
import { chunking } from '../../src/plugins/chunking.js';
import { requests } from '../../src/plugins/requests.js';
import { router } from '../../src/plugins/router.js';
import { schema } from '../../src/plugins/schema.js';
import type { StandardSchemaV1 } from '../../src/messages/schema.js';

const fast = { retryWait: () => Promise.resolve(), random: () => 0, heartbeat: false } as const;
/** The sentinel under jsonCodec (the string 'end'); raw-codec cases send the bare text `end`. */
const SENTINEL = '"end"';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** Uncaught exceptions while a case runs: each one would have crashed an app's process. */
let escaped: unknown[] = [];
let failOnEscape: (error: unknown) => void = () => {};
const onUncaught = (error: unknown) => {
  escaped.push(error);
  failOnEscape(error);
};
beforeEach(() => {
  escaped = [];
  process.prependListener('uncaughtException', onUncaught);
  cleanup.push(() => process.off('uncaughtException', onUncaught));
});

/** A server that answers each socket with `script(socket)`. */
async function hostile(script: (socket: ServerSocket) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', script);
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyConnection = Connection<any, any>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function connect(url: string, options: Parameters<typeof createConnection<any, any>>[1] = {}): AnyConnection {
  const conn = createConnection(url, { ...fast, ...options });
  cleanup.push(() => conn.close());
  return conn;
}

interface Heard {
  messages: unknown[];
  invalid: Array<{ data: unknown; problem: unknown }>;
  /** Resolves at the sentinel; rejects at the first uncaught exception. */
  end: Promise<void>;
}

/** What the app hears, up to the sentinel (which is not recorded). */
function listen(conn: AnyConnection, isEnd: (data: unknown) => boolean = (data) => data === 'end'): Heard {
  const heard: Heard = { messages: [], invalid: [], end: Promise.resolve() };
  heard.end = new Promise<void>((resolve, reject) => {
    failOnEscape = reject;
    conn.addEventListener('message', (e) => {
      if (isEnd(e.data)) resolve();
      else heard.messages.push(e.data);
    });
    conn.addEventListener('invalid-message', (e) => heard.invalid.push({ data: e.data, problem: e.problem }));
  });
  return heard;
}

const codeOf = (problem: unknown) => (isSocketchartError(problem) ? problem.code : `not typed: ${String(problem)}`);

describe('hostile reply ids against request() [README: Typed messages, routing, request/response]', () => {
  // JSON can name an object's toString: String() of such an id throws (no primitive value).
  const UNSTRINGABLE = ['{"id":{"toString":0}}', '{"id":{"toString":null,"valueOf":null}}', '{"id":{"valueOf":1,"toString":{}}}'];

  it('a reply id String() cannot convert is an ordinary message; the pending request is still answered by its real reply', async () => {
    const url = await hostile((socket) =>
      socket.on('message', (data) => {
        const { id } = JSON.parse(String(data)) as { id: string };
        for (const frame of UNSTRINGABLE) socket.send(frame);
        socket.send(JSON.stringify({ id, ok: true }));
        socket.send(SENTINEL);
      }),
    );
    const conn = connect(url, { codec: jsonCodec(), requests: requests({ timeout: Infinity }) });
    const heard = listen(conn);
    await conn.opened();
    const reply = conn.request({ type: 'get' });
    await heard.end;
    expect(escaped).toEqual([]);
    await expect(reply).resolves.toEqual({ id: '1', ok: true });
    expect(heard.messages).toEqual(UNSTRINGABLE.map((f) => JSON.parse(f) as unknown));
    expect(heard.invalid).toEqual([]);
  });

  it('the same ids through a schema that refuses them: invalid-message events, no crash, the request still open', async () => {
    // Refuses everything without an `ok` field: a refused reply is matched to its request by its id first.
    const needsOk: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => (typeof value === 'object' && value !== null && 'ok' in value ? { value } : { issues: [{ message: 'no ok' }] }),
      },
    };
    const url = await hostile((socket) =>
      socket.on('message', (data) => {
        const { id } = JSON.parse(String(data)) as { id: string };
        for (const frame of UNSTRINGABLE) socket.send(frame);
        socket.send(JSON.stringify({ id, ok: true }));
        socket.send('{"ok":"end"}');
      }),
    );
    const conn = connect(url, { codec: jsonCodec(), requests: requests({ timeout: Infinity }), schema: schema(needsOk) });
    const heard = listen(conn, (data) => (data as { ok?: unknown }).ok === 'end');
    await conn.opened();
    const reply = conn.request({ type: 'get' });
    await heard.end;
    expect(escaped).toEqual([]);
    await expect(reply).resolves.toEqual({ id: '1', ok: true });
    expect(heard.invalid.map((i) => i.data)).toEqual(UNSTRINGABLE);
  });
});

describe('hostile batches against batching.split [README: Flow control (Batching), Typed messages]', () => {
  // The README's own split: a server controls what `frames` holds.
  const split = (frame: unknown) => {
    if (typeof frame !== 'string' || !frame.startsWith('{"type":"batch"')) return undefined;
    return (JSON.parse(frame) as { frames: string[] }).frames;
  };
  const envelope = (frames: unknown[]) => JSON.stringify({ type: 'batch', frames });

  it('a split that yields no array (a number, a string, an object, null, true) is an invalid-message, not a crash or a message per character', async () => {
    const bad = ['5', '"abc"', '{"length":3,"0":"x"}', 'null', 'true'].map((v) => `{"type":"batch","frames":${v}}`);
    const url = await hostile((socket) => {
      for (const frame of bad) socket.send(frame);
      socket.send('{"type":"batch","frames":["a","b"]}');
      socket.send('end');
    });
    const conn = connect(url, { batching: batching({ envelope, split }) });
    const heard = listen(conn);
    await heard.end;
    expect(escaped).toEqual([]);
    expect(heard.messages).toEqual(['a', 'b']);
    expect(heard.invalid.map((i) => [i.data, codeOf(i.problem)])).toEqual(bad.map((f) => [f, 'ERR_INVALID_DATA']));
    // `null` is split's "not a batch" no more than an object is: only undefined is.
    expect(String((heard.invalid[0]!.problem as Error).message)).toMatch(/batching\.split/);
  });
});

describe('schema validators that misbehave on what the server sent [README: Typed messages ("never a crash")]', () => {
  /** A validator that passes the sentinel and answers `answer(message)` for anything else. */
  const validator = (answer: (message: unknown) => unknown): StandardSchemaV1 => ({
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) => (value === 'end' ? { value } : (answer(value) as ReturnType<StandardSchemaV1['~standard']['validate']>)),
    },
  });
  const run = async (answer: (message: unknown) => unknown, frames: string[]) => {
    const url = await hostile((socket) => {
      for (const frame of frames) socket.send(frame);
      socket.send(SENTINEL);
    });
    const conn = connect(url, { codec: jsonCodec(), schema: schema(validator(answer)) });
    const heard = listen(conn);
    await heard.end;
    expect(escaped).toEqual([]);
    return heard;
  };

  it.each([
    ['a string', () => 'bad'],
    ['undefined', () => undefined],
    ['a number', () => 7],
    ['a plain object', () => ({ reason: 'bad' })],
  ])('a validate() that throws %s: that message is an invalid-message carrying what was thrown; the next one is delivered', async (_name, thrown) => {
    const heard = await run(() => {
      throw thrown();
    }, ['{"a":1}']);
    expect(heard.invalid).toEqual([{ data: '{"a":1}', problem: thrown() }]);
    expect(heard.messages).toEqual([]);
  });

  it.each([
    ['null', () => null],
    ['undefined', () => undefined],
    ['a number', () => 3],
  ])('a validate() that returns %s (no Standard Schema result): an invalid-message ERR_INVALID_DATA, not an uncaught TypeError', async (_name, result) => {
    const heard = await run(result, ['{"a":1}', '{"a":2}']);
    expect(heard.invalid.map((i) => [i.data, codeOf(i.problem)])).toEqual([
      ['{"a":1}', 'ERR_INVALID_DATA'],
      ['{"a":2}', 'ERR_INVALID_DATA'],
    ]);
    expect(String((heard.invalid[0]!.problem as Error).message)).toMatch(/validate\(\) returned/);
  });

  it('an async validate() that resolves to null: that message alone is invalid; the messages after it are still validated and delivered', async () => {
    const heard = await run((m) => Promise.resolve((m as { a: number }).a === 1 ? null : { value: m }), ['{"a":1}', '{"a":2}']);
    expect(heard.invalid.map((i) => [i.data, codeOf(i.problem)])).toEqual([['{"a":1}', 'ERR_INVALID_DATA']]);
    expect(heard.messages).toEqual([{ a: 2 }]);
  });

  it('an async validate() that rejects with a non-Error: that message alone is invalid, carrying the reason', async () => {
    const heard = await run((m) => ((m as { a: number }).a === 1 ? Promise.reject('nope') : Promise.resolve({ value: m })), ['{"a":1}', '{"a":2}']);
    expect(heard.invalid).toEqual([{ data: '{"a":1}', problem: 'nope' }]);
    expect(heard.messages).toEqual([{ a: 2 }]);
  });

  it('a validate() that returns a thenable (not a Promise) is awaited like one, in arrival order', async () => {
    const later = (result: unknown) => ({ then: (resolve: (r: unknown) => void) => queueMicrotask(() => resolve(result)) });
    const heard = await run((m) => later({ value: { checked: m } }), ['{"a":1}', '{"a":2}']);
    expect(heard.invalid).toEqual([]);
    expect(heard.messages).toEqual([{ checked: { a: 1 } }, { checked: { a: 2 } }]);
  });
});

describe('forged chunk headers [README: Flow control (Chunking): "everything it throws away is an invalid-message event"]', () => {
  /** A binary chunk by hand: the 12-byte header (magic "SC", version 1, flags, id, index, count), then `body`. */
  const binaryChunk = (id: number, index: number, count: number, body: Uint8Array = new Uint8Array(1)) => {
    const frame = Buffer.alloc(12 + body.byteLength);
    frame.writeUInt16BE(0x5343, 0);
    frame.writeUInt8(1, 2);
    frame.writeUInt32BE(id, 4);
    frame.writeUInt16BE(index, 8);
    frame.writeUInt16BE(count, 10);
    frame.set(body, 12);
    return frame;
  };
  const textChunk = (fields: Record<string, unknown>) => `{"$chunk":${JSON.stringify(fields.$chunk)},"i":${JSON.stringify(fields.i)},"n":${JSON.stringify(fields.n)},"d":${JSON.stringify(fields.d)}}`;

  const run = async (frames: Array<string | Buffer>, options: { maxMessageBytes?: number } = {}) => {
    const url = await hostile((socket) => {
      for (const frame of frames) socket.send(frame);
      socket.send('end');
    });
    const conn = connect(url, { chunking: chunking(options), binaryType: 'arraybuffer' });
    const heard = listen(conn);
    await heard.end;
    expect(escaped).toEqual([]);
    return heard;
  };
  const asText = (m: unknown) => (typeof m === 'string' ? m : Buffer.from(m as ArrayBuffer).toString());

  it('bad fields (negative, fractional, huge or missing counts and indexes, ids out of range, data not a string): ERR_INVALID_CHUNK each', async () => {
    const bad = [
      textChunk({ $chunk: 1, i: 0, n: -1, d: 'x' }),
      textChunk({ $chunk: 1, i: 0, n: 0, d: 'x' }),
      textChunk({ $chunk: 1, i: 0, n: 65536, d: 'x' }),
      textChunk({ $chunk: 1, i: 0, n: 1e300, d: 'x' }),
      textChunk({ $chunk: 1, i: 2, n: 2, d: 'x' }),
      textChunk({ $chunk: 1, i: -1, n: 2, d: 'x' }),
      textChunk({ $chunk: 1, i: 0.5, n: 2, d: 'x' }),
      textChunk({ $chunk: -1, i: 0, n: 2, d: 'x' }),
      textChunk({ $chunk: 2 ** 32, i: 0, n: 2, d: 'x' }),
      textChunk({ $chunk: '1', i: 0, n: 2, d: 'x' }),
      textChunk({ $chunk: 1, i: 0, n: 2, d: 5 }),
      '{"$chunk":1,"i":0,"n":2}',
      '{"$chunk":1,"i":0,"n":2,"d":"x"', // not JSON
    ];
    const heard = await run([...bad, binaryChunk(1, 0, 0), binaryChunk(1, 3, 2)]);
    expect(heard.invalid.map((i) => codeOf(i.problem))).toEqual([...bad, 1, 2].map(() => 'ERR_INVALID_CHUNK'));
    expect(heard.messages).toEqual([]);
  });

  it('a repeated chunk is reported (ERR_INVALID_CHUNK), not thrown away silently; the first copy stands and the message completes', async () => {
    const heard = await run([
      textChunk({ $chunk: 7, i: 0, n: 2, d: 'he' }),
      textChunk({ $chunk: 7, i: 0, n: 2, d: 'XX' }),
      textChunk({ $chunk: 7, i: 1, n: 2, d: 'llo' }),
      binaryChunk(7, 1, 2, Buffer.from('ld')),
      binaryChunk(7, 1, 2, Buffer.from('XX')),
      binaryChunk(7, 0, 2, Buffer.from('wor')),
    ]);
    expect(heard.invalid.map((i) => [asText(i.data).slice(-4), codeOf(i.problem)])).toEqual([
      ['XX"}', 'ERR_INVALID_CHUNK'],
      ['\x00\x02XX', 'ERR_INVALID_CHUNK'],
    ]);
    expect(heard.messages.map(asText)).toEqual(['hello', 'world']);
  });

  it('text and binary chunks of the same id are two messages, never mixed', async () => {
    const heard = await run([
      textChunk({ $chunk: 3, i: 0, n: 2, d: 'ab' }),
      binaryChunk(3, 0, 2, Buffer.from('12')),
      textChunk({ $chunk: 3, i: 1, n: 2, d: 'cd' }),
      binaryChunk(3, 1, 2, Buffer.from('34')),
    ]);
    expect(heard.invalid).toEqual([]);
    expect(heard.messages.map(asText)).toEqual(['abcd', '1234']);
  });

  it('tiny chunks cannot hold memory past the byte cap: at most 65,535 chunks are held at once, one more discards its message (ERR_MESSAGE_TOO_LARGE)', async () => {
    // 1-byte chunks: the byte cap sees 65,535 bytes, the heap would see ~200 bytes each. Message 1 is one short of
    // complete (65,534 held); message 2 takes the last place and completes; message 3 takes it again, and its next
    // chunk is one too many. Message 1 then completes.
    const frames: Buffer[] = [];
    for (let i = 0; i < 65_534; i++) frames.push(binaryChunk(1, i, 65_535));
    frames.push(binaryChunk(2, 0, 2), binaryChunk(2, 1, 2), binaryChunk(3, 0, 3), binaryChunk(3, 1, 3), binaryChunk(1, 65_534, 65_535));
    const heard = await run(frames);
    expect(heard.invalid.map((i) => codeOf(i.problem))).toEqual(['ERR_MESSAGE_TOO_LARGE']);
    expect(heard.invalid[0]!.problem).toMatchObject({ message: expect.stringMatching(/65535 chunks.*\(3\)/) });
    expect(heard.messages.map((m) => (m as ArrayBuffer).byteLength)).toEqual([2, 65_535]);
  });
});

describe('malformed data messages from a server speaking socketchart.ack.v1 [PROTOCOL.md: "neither encoding lets a malformed data message through as an unsequenced one"]', () => {
  /** A server that welcomes the client's hello by hand, then writes `frames`, then a data message `end`. */
  const ackServer = (frames: Array<string | Buffer>, final: string) =>
    hostile((socket) =>
      socket.on('message', (data) => {
        const hello = JSON.parse(String(data)) as { type: string; sid: string };
        if (hello.type !== 'hello') return;
        socket.send(JSON.stringify({ type: 'welcome', sid: hello.sid, resumed: false, ack: 0, next: 1 }));
        for (const frame of frames) socket.send(frame);
        socket.send(final);
      }),
    );

  it('text that starts like a data message but is not one (01:, -1:, 1.5:, 0:, 1e3:, too big, no colon) is never delivered as an app message', async () => {
    const malformed = ['01:x', '-1:x', '+1:x', '.5:x', '1.5:x', '0:x', '1e3:x', '9007199254740992:x', '12345678901234567890:x', '123'];
    const url = await ackServer([...malformed, '1:ok'], '2:end');
    const conn = connect(url, { delivery: atLeastOnce() });
    const heard = listen(conn);
    await heard.end;
    expect(escaped).toEqual([]);
    expect(heard.messages).toEqual(['ok']);
  });

  it('the same frames before the welcome are unsequenced (delivered as they are), as the protocol says', async () => {
    const url = await hostile((socket) =>
      socket.on('message', (data) => {
        const hello = JSON.parse(String(data)) as { type: string; sid: string };
        if (hello.type !== 'hello') return;
        socket.send('01:early');
        socket.send(JSON.stringify({ type: 'welcome', sid: hello.sid, resumed: false, ack: 0, next: 1 }));
        socket.send('1:end');
      }),
    );
    const conn = connect(url, { delivery: atLeastOnce() });
    const heard = listen(conn);
    await heard.end;
    expect(heard.messages).toEqual(['01:early']);
  });
});

describe('what held: routing types, JSON keys and reply ids a server chooses [README: Typed messages, routing, request/response]', () => {
  it('types named like Object.prototype members reach only their own handlers; a type that is an object or array reaches none', async () => {
    const url = await hostile((socket) => {
      for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) socket.send(JSON.stringify({ type }));
      socket.send('{"type":{"chat":1}}');
      socket.send('{"type":["chat"]}');
      socket.send('{"__proto__":{"type":"chat"}}'); // an own key named __proto__: no type of its own
      socket.send(SENTINEL);
    });
    const conn = connect(url, { codec: jsonCodec(), router: router() });
    const routed: string[] = [];
    for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'chat']) conn.on(type, () => routed.push(type));
    const heard = listen(conn);
    await heard.end;
    expect(routed).toEqual(['__proto__', 'constructor', 'toString', 'hasOwnProperty']);
    expect(heard.messages).toHaveLength(8);
  });

  it('a __proto__ key in a JSON message pollutes nothing', async () => {
    const url = await hostile((socket) => {
      socket.send('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}');
      socket.send(SENTINEL);
    });
    const conn = connect(url, { codec: jsonCodec() });
    const heard = listen(conn);
    await heard.end;
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(heard.messages[0])).toBe(Object.prototype);
  });

  it('a second reply, a reply to a timed-out request and a reply with a 1 MB id are ordinary messages; the pending request gets only its own', async () => {
    const url = await hostile((socket) => {
      const ids: string[] = [];
      socket.on('message', (data) => {
        ids.push((JSON.parse(String(data)) as { id: string }).id);
        if (ids.length < 2) return;
        socket.send(JSON.stringify({ id: ids[0], late: true })); // the first request timed out
        socket.send(JSON.stringify({ id: 'x'.repeat(1 << 20) }));
        socket.send(JSON.stringify({ id: Number(ids[1]), first: true })); // a number matches its string
        socket.send(JSON.stringify({ id: ids[1], second: true }));
        socket.send(SENTINEL);
      });
    });
    const conn = connect(url, { codec: jsonCodec(), requests: requests() });
    const heard = listen(conn);
    await conn.opened();
    const timedOut = conn.request({ type: 'a' }, { timeout: 0 });
    await expect(timedOut).rejects.toMatchObject({ code: 'ERR_REQUEST_TIMEOUT' });
    const answered = conn.request({ type: 'b' }, { timeout: Infinity });
    await heard.end;
    await expect(answered).resolves.toEqual({ id: 2, first: true });
    expect(heard.messages.map((m) => Object.keys(m as object).join())).toEqual(['id,late', 'id', 'id,second']);
  });
});
