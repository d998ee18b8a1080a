/**
 * A server faster than the app's async schema validator. Messages wait for their validation in a chain (so they are
 * delivered in arrival order); what may wait is bounded like the queue, and what waits when the socket or the
 * connection ends is accounted for. [README: Typed messages ("Async validation"); README: Nothing is lost silently]
 *
 * The server is a real `ws` server on 127.0.0.1, port 0. The validator's promises are held and released by hand,
 * one at a time (the chain calls validate() for a message once the one before it settled). "The client has read
 * every frame sent so far" is a ping from the server and its pong: frames on one socket are read in order, and the
 * client's message handler runs synchronously for each. Nothing sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import type { Connection } from '../../src/index.js';
import { isSocketchartError } from '../../src/errors.js';
import { createConnection, jsonCodec } from '../../src/node.js';
import { requests } from '../../src/plugins/requests.js';
import { schema } from '../../src/plugins/schema.js';
import type { StandardResult, StandardSchemaV1 } from '../../src/messages/schema.js';

const fast = { retryWait: () => Promise.resolve(), random: () => 0, heartbeat: false } as const;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** Resolves values in the order they are pushed, to whoever asks next (pushes may come before or after asks). */
class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiting: Array<(item: T) => void> = [];
  push(item: T): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }
  next(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

/** A server whose sockets the test drives: `sockets.next()` is the next one a client opened. */
async function server(): Promise<{ url: string; sockets: Inbox<ServerSocket> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const sockets = new Inbox<ServerSocket>();
  wss.on('connection', (socket) => sockets.push(socket));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, sockets };
}

/** Resolves once the client has read every frame sent on `socket` before it (its pong comes after them). */
function readSoFar(socket: ServerSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('pong', () => resolve());
    socket.ping();
  });
}

interface Call {
  value: unknown;
  pass(): void;
}

/** A validator whose every validation waits until the test passes it; `calls.next()` is the next validate() call. */
function heldValidator(): { validator: StandardSchemaV1; calls: Inbox<Call>; count: () => number } {
  const calls = new Inbox<Call>();
  let count = 0;
  const validator: StandardSchemaV1 = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) =>
        new Promise<StandardResult<unknown>>((resolve) => {
          count++;
          calls.push({ value, pass: () => resolve({ value }) });
        }),
    },
  };
  return { validator, calls, count: () => count };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyConnection = Connection<any, any>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function connect(url: string, options: Parameters<typeof createConnection<any, any>>[1]): AnyConnection {
  const conn = createConnection(url, { ...fast, codec: jsonCodec(), ...options });
  cleanup.push(() => conn.close());
  return conn;
}

const codeOf = (problem: unknown) => (isSocketchartError(problem) ? problem.code : `not typed: ${String(problem)}`);

/** What the app hears, in order: `message n`, `invalid <frame> <code>`, `open`, `close`. */
function listen(conn: AnyConnection) {
  const log: string[] = [];
  const heard = new Inbox<string>();
  const note = (line: string) => {
    log.push(line);
    heard.push(line);
  };
  conn.addEventListener('message', (e) => note(`message ${(e.data as { n: number }).n}`));
  conn.addEventListener('invalid-message', (e) => note(`invalid ${String(e.data)} ${codeOf(e.problem)}`));
  conn.addEventListener('open', () => note('open'));
  conn.addEventListener('close', () => note('close'));
  /** Resolves at the next line that starts with `prefix`. */
  const until = async (prefix: string) => {
    for (;;) if ((await heard.next()).startsWith(prefix)) return;
  };
  return { log, until };
}

const frame = (n: number) => JSON.stringify({ n });

describe('async schema validation is bounded like the queue [README: Typed messages]', () => {
  it('past queue.maxMessages waiting messages each further one is an invalid-message ERR_QUEUE_FULL; the accepted ones are delivered in order, and the bound frees as they are', async () => {
    const { url, sockets } = await server();
    const { validator, calls } = heldValidator();
    const conn = connect(url, { schema: schema(validator), queue: { maxMessages: 3 } });
    const { log, until } = listen(conn);
    const socket = await sockets.next();
    for (let n = 1; n <= 5; n++) socket.send(frame(n));
    await readSoFar(socket);
    // 1 is being validated, 2 and 3 wait: three in all.
    expect(log).toEqual(['open', `invalid ${frame(4)} ERR_QUEUE_FULL`, `invalid ${frame(5)} ERR_QUEUE_FULL`]);
    for (let n = 1; n <= 3; n++) {
      const call = await calls.next();
      expect(call.value).toEqual({ n });
      call.pass();
      await until(`message ${n}`);
    }
    // Nothing waits any more: the server's next messages are taken again.
    socket.send(frame(6));
    socket.send(frame(7));
    await readSoFar(socket);
    for (const n of [6, 7]) {
      const call = await calls.next();
      expect(call.value).toEqual({ n });
      call.pass();
      await until(`message ${n}`);
    }
    expect(log.slice(3)).toEqual(['message 1', 'message 2', 'message 3', 'message 6', 'message 7']);
  });

  it('past queue.maxBytes of waiting messages a further one is refused; the first is taken whatever its size', async () => {
    const { url, sockets } = await server();
    const { validator, calls } = heldValidator();
    const conn = connect(url, { schema: schema(validator), queue: { maxBytes: 20 } });
    const { log, until } = listen(conn);
    const socket = await sockets.next();
    const big = JSON.stringify({ n: 1, pad: 'x'.repeat(40) });
    socket.send(big); // nothing waits before it: taken, though alone it passes maxBytes
    socket.send(frame(2)); // 8 bytes behind 50: refused
    await readSoFar(socket);
    expect(log).toEqual(['open', `invalid ${frame(2)} ERR_QUEUE_FULL`]);
    (await calls.next()).pass();
    await until('message 1');
    // 8 + 8 bytes fit under 20; a third 8 would not.
    for (const n of [3, 4, 5]) socket.send(frame(n));
    await readSoFar(socket);
    expect(log.slice(3)).toEqual([`invalid ${frame(5)} ERR_QUEUE_FULL`]);
    for (const n of [3, 4]) {
      (await calls.next()).pass();
      await until(`message ${n}`);
    }
  });

  it('a reply refused at the bound rejects its request with ERR_QUEUE_FULL (it did not fail the schema) and is reported', async () => {
    const { url, sockets } = await server();
    const { validator, calls } = heldValidator();
    const conn = connect(url, { schema: schema(validator), queue: { maxMessages: 2 }, requests: requests({ timeout: Infinity }) });
    const { log } = listen(conn);
    const socket = await sockets.next();
    await conn.opened();
    const asked = new Promise<string>((resolve) => socket.once('message', (data) => resolve((JSON.parse(String(data)) as { id: string }).id)));
    let outcome: unknown = 'pending';
    conn.request({ type: 'get' }).then(
      () => (outcome = 'resolved'),
      (error: unknown) => (outcome = error),
    );
    const id = await asked;
    const reply = JSON.stringify({ id, n: 3 });
    socket.send(frame(1));
    socket.send(frame(2));
    socket.send(reply);
    await readSoFar(socket);
    expect(log).toEqual(['open', `invalid ${reply} ERR_QUEUE_FULL`]);
    expect(codeOf(outcome)).toBe('ERR_QUEUE_FULL');
    expect(String((outcome as Error).message)).toMatch(/queue\.maxMessages/);
    // The messages before it are still validated and delivered.
    (await calls.next()).pass();
    (await calls.next()).pass();
  });
});

describe('messages waiting for validation when their socket or the connection ends [README: Typed messages]', () => {
  it('the socket ends: what it received is still delivered once validated, in order, before the next socket\'s messages', async () => {
    const { url, sockets } = await server();
    const { validator, calls } = heldValidator();
    const conn = connect(url, { schema: schema(validator) });
    const { log, until } = listen(conn);
    const first = await sockets.next();
    for (const n of [1, 2, 3]) first.send(frame(n));
    await readSoFar(first);
    first.close(4000, 'going away');
    const second = await sockets.next();
    second.send(frame(4));
    await readSoFar(second);
    for (const n of [1, 2, 3, 4]) {
      const call = await calls.next();
      expect(call.value).toEqual({ n });
      call.pass();
    }
    await until('message 4');
    expect(log).toEqual(['open', 'close', 'open', 'message 1', 'message 2', 'message 3', 'message 4']);
    expect(conn.state).toBe('open');
  });

  it('the connection is closed: each waiting message is an invalid-message ERR_CONNECTION_CLOSED at once, before the final close, none is delivered later, and no more are validated', async () => {
    const { url, sockets } = await server();
    const { validator, calls, count } = heldValidator();
    const conn = connect(url, { schema: schema(validator) });
    const { log, until } = listen(conn);
    const socket = await sockets.next();
    for (const n of [1, 2, 3]) socket.send(frame(n));
    await readSoFar(socket);
    conn.close();
    await until('close');
    // Reported with the session's end (a validator that never settles cannot hold them back), then the close.
    expect(log).toEqual([
      'open',
      `invalid ${frame(1)} ERR_CONNECTION_CLOSED`,
      `invalid ${frame(2)} ERR_CONNECTION_CLOSED`,
      `invalid ${frame(3)} ERR_CONNECTION_CLOSED`,
      'close',
    ]);
    // The validation in flight settles later: it delivers and reports nothing, and no other one starts.
    (await calls.next()).pass();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toHaveLength(5);
    expect(count()).toBe(1);
  });

  it('a session closed and a new one opened while a validation waits: the old message is reported, never delivered into the new session', async () => {
    const { url, sockets } = await server();
    const { validator, calls } = heldValidator();
    const conn = connect(url, { schema: schema(validator) });
    const { log, until } = listen(conn);
    const socket = await sockets.next();
    socket.send(frame(1));
    await readSoFar(socket);
    conn.close();
    await until('close');
    conn.open();
    await until('open');
    (await calls.next()).pass();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['open', `invalid ${frame(1)} ERR_CONNECTION_CLOSED`, 'close', 'open']);
  });
});
