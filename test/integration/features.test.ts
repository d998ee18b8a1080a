import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { createConnection, jsonCodec } from '../../src/node.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';
import { nextEvent, reachState, recordEvents } from '../support/events.js';
import { requests } from '../../src/plugins/requests.js';
import { batching } from '../../src/plugins/batching.js';
import { metrics } from '../../src/plugins/metrics.js';

// Retries happen at once (retryWait), so the real-socket tests never wait out a backoff.
const fast = { retryWait: () => Promise.resolve(), random: () => 0 } as const;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function server(options?: Parameters<typeof createTestServer>[0]): Promise<TestServer> {
  const s = await createTestServer(options);
  cleanup.push(() => s.close());
  return s;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function connect(url: string, options: Parameters<typeof createConnection<any, any>>[1] = {}): Connection<any, any> {
  const conn = createConnection(url, { ...fast, ...options });
  cleanup.push(() => conn.close());
  return conn;
}

/** Polls (a network round trip, not a policy timer) until `done()` holds. */
async function until(done: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const envelope = (frames: unknown[]) => JSON.stringify({ type: 'batch', frames });
const split = (frame: unknown) => {
  if (typeof frame !== 'string' || !frame.startsWith('{"type":"batch"')) return undefined;
  return (JSON.parse(frame) as { frames: string[] }).frames;
};

describe('batching over a real ws server', () => {
  it('sends the messages of one window as one frame, and splits the inbound batch into message events', async () => {
    const s = await server(); // echoes every frame as it came
    const clock = new SimulatedClock();
    const conn = connect(s.url(), { clock, heartbeat: false, batching: batching({ window: 10, envelope, split }), metrics: metrics() });
    await conn.opened();
    const got: string[] = [];
    conn.onmessage = (e) => got.push(String(e.data));

    conn.send('a');
    conn.send('b');
    conn.send('c');
    clock.increment(9);
    expect(conn.metrics.messagesOut).toBe(0); // still collecting
    clock.increment(1);
    await until(() => s.received.length === 1, 'the batch frame');
    // A window with one message sends it as itself; it follows the batch on the same socket.
    conn.send('after');
    clock.increment(10);
    await until(() => got.length === 4, 'four messages');

    expect(s.received).toEqual(['{"type":"batch","frames":["a","b","c"]}', 'after']);
    expect(got).toEqual(['a', 'b', 'c', 'after']);
    expect(conn.metrics.messagesOut).toBe(2);
  });

  it('splits a batch the server sends on its own into separate message events, through the codec', async () => {
    const s = await server();
    const conn = connect(s.url(), { codec: jsonCodec(), heartbeat: false, batching: batching({ envelope, split }) });
    const socket = s.nextConnection();
    await conn.opened();
    const messages = recordEvents(conn, ['message', 'invalid-message']);
    const got: unknown[] = [];
    conn.addEventListener('message', (e) => got.push(e.data));
    (await socket).send(JSON.stringify({ type: 'batch', frames: ['{"n":1}', '{"n":2}', '{"n":3}'] }));
    await until(() => got.length === 3, 'three messages');
    expect(got).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(messages).toHaveLength(3);
  });
});

describe('requests across a dropped connection', () => {
  it("with onReconnect 'fail', a pending request rejects with ERR_CONNECTION_LOST when the server drops it", async () => {
    const s = await server({ onMessage: () => {} }); // never answers
    const conn = connect(s.url(), { codec: jsonCodec(), requests: requests({ onReconnect: 'fail' }) });
    await conn.opened();
    const reply = conn.request({ type: 'get', key: 'a' });
    const outcome = reply.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await until(() => s.received.length === 1, 'the request');
    expect(s.received).toEqual(['{"type":"get","key":"a","id":"1"}']);
    s.dropAll();
    const error = await outcome;
    expect(error).toMatchObject({ code: 'ERR_CONNECTION_LOST' });
    expect((error as Error).message).toContain('1006');
    // The session goes on: it is not a closed session, and the request is not sent again.
    await nextEvent(conn, 'open');
    expect(s.accepted).toBe(2);
    expect(s.received).toEqual(['{"type":"get","key":"a","id":"1"}']);
  });

  it("with the default 'resend', the request goes out again on the new socket and resolves with the reply", async () => {
    let answer = false;
    const s = await server({
      onMessage(socket, data) {
        if (!answer) return; // the first socket dies before it answers
        const { id } = JSON.parse(data.toString()) as { id: string };
        socket.send(JSON.stringify({ type: 'reply', id, ok: true }));
      },
    });
    const conn = connect(s.url(), { codec: jsonCodec(), requests: requests() });
    await conn.opened();
    const messages = recordEvents(conn, ['message']);
    const reply = conn.request<{ type: string; id: string; ok: boolean }>({ type: 'get', key: 'a' });
    await until(() => s.received.length === 1, 'the request');
    answer = true;
    s.dropAll();

    await expect(reply).resolves.toEqual({ type: 'reply', id: '1', ok: true });
    expect(s.accepted).toBe(2);
    expect(s.received).toEqual(['{"type":"get","key":"a","id":"1"}', '{"type":"get","key":"a","id":"1"}']);
    expect(messages).toEqual([]); // the reply settles the request; it is no message event
  });
});

describe('auth refresh on close codes (message mode)', () => {
  it('a 4001 close fetches a new token and retries at once; a second 4001 ends the session with closedBy auth', async () => {
    const s = await server();
    s.scriptAuth(true);
    const tokens: string[] = [];
    const conn = connect(s.url(), { heartbeat: false, auth: { token: () => `t${tokens.push('x')}` } });
    await conn.opened();
    expect(s.received).toEqual(['{"type":"auth","token":"t1"}']);
    const log = recordEvents(conn, ['statechange', 'close', 'open', 'reconnecting']);

    s.closeAll(4001, 'token expired');
    await nextEvent(conn, 'open');
    expect(tokens).toHaveLength(2);
    expect(s.accepted).toBe(2);
    expect(s.received).toEqual(['{"type":"auth","token":"t1"}', '{"type":"auth","token":"t2"}']);
    // Straight to a new attempt: no backoff, no `reconnecting` event.
    expect(log).toEqual([
      'statechange:open->connecting.opening',
      'close:4001',
      'statechange:connecting.opening->connecting.authenticating',
      'statechange:connecting.authenticating->open',
      'open',
    ]);

    s.closeAll(4001, 'token expired');
    await reachState(conn, 'closed');
    expect(conn.closedBy).toMatchObject({ kind: 'auth', code: 4001, reason: 'token expired' });
    expect(tokens).toHaveLength(2); // no third token, no third attempt
    expect(s.accepted).toBe(2);
    expect(conn.readyState).toBe(conn.CLOSED);
  });

  it('a 4001 close whose refreshed token is refused with auth_error ends in closed with closedBy auth', async () => {
    const s = await server();
    s.scriptAuth((token) => token === 't1');
    const tokens: string[] = [];
    const conn = connect(s.url(), { heartbeat: false, auth: { token: () => `t${tokens.push('x')}` } });
    await conn.opened();
    const opens = recordEvents(conn, ['open']);
    s.closeAll(4001);
    await reachState(conn, 'closed');
    expect(conn.closedBy?.kind).toBe('auth');
    expect(tokens).toHaveLength(2);
    expect(s.accepted).toBe(2);
    expect(s.received).toEqual(['{"type":"auth","token":"t1"}', '{"type":"auth","token":"t2"}']);
    expect(opens).toEqual([]);
  });
});
