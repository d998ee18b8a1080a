/**
 * A hostile or broken server against the client's own resources and promises (issue 11, client items 1, 2, 3, 5
 * and 6). Each case names the documented promise it checks. Real `ws` servers and raw TCP on 127.0.0.1, port 0.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { SimulatedClock } from 'xstate';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { Reassembler, splitMessage } from '../../src/messages/chunking.js';
import { atLeastOnce } from '../../src/delivery/index.js';
import { createConnection } from '../../src/node.js';
import { SocketchartError, isSocketchartError } from '../../src/errors.js';
import { chunking } from '../../src/plugins/chunking.js';

const COUNT = 40_000;
const fast = { retryWait: () => Promise.resolve(), random: () => 0, heartbeat: false } as const;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function wsServer(onConnection: (socket: ServerSocket, index: number) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  let index = 0;
  wss.on('connection', (socket) => onConnection(socket, index++));
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
function connect(url: string | (() => string), options: Parameters<typeof createConnection<any, any>>[1] = {}): Connection<any, any> {
  const conn = createConnection(url, { ...fast, ...options });
  cleanup.push(() => conn.close());
  return conn;
}

async function until(done: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function invalids(conn: Connection<unknown, unknown>): Array<{ data: unknown; problem: unknown }> {
  const seen: Array<{ data: unknown; problem: unknown }> = [];
  conn.addEventListener('invalid-message', (e) => seen.push({ data: e.data, problem: e.problem }));
  return seen;
}

const codeOf = (problem: unknown) => (problem instanceof SocketchartError ? problem.code : String(problem));

describe('malicious server: chunked messages (README "Chunking": partial messages die with their socket, bounded)', () => {
  it('a message cut off by a reconnect never mixes with the next socket\'s message of the same chunk id', async () => {
    const oldMessage = 'o'.repeat(300);
    const newMessage = 'n'.repeat(300);
    const url = await wsServer((socket, index) => {
      if (index === 0) {
        // Socket 1: the first chunk of message 1, then the socket dies.
        socket.send(splitMessage(oldMessage, 1, 128)[0] as string);
        setTimeout(() => socket.terminate(), 20);
      } else {
        // Socket 2: the server numbers chunks per socket, so message 1 again, whole.
        for (const frame of splitMessage(newMessage, 1, 128)) socket.send(frame as string);
      }
    });
    const conn = connect(url, { chunking: chunking({ chunkSize: 128 }) });
    const got: string[] = [];
    conn.onmessage = (e) => got.push(String(e.data));
    const bad = invalids(conn);
    await until(() => got.length === 1, 'the second socket\'s message');
    expect(got[0]).toBe(newMessage);
    // What the first socket left unfinished is reported, not silently forgotten.
    expect(bad.map((b) => codeOf(b.problem))).toEqual(['ERR_MESSAGE_INCOMPLETE']);
  });

  it('never holds more than 16 messages in progress: 1,000 that never complete are evicted and reported', async () => {
    const chunkSize = 1024;
    const body = 'x'.repeat(60_000);
    const url = await wsServer((socket, index) => {
      if (index > 0) return;
      for (let id = 0; id < 1000; id++) socket.send(splitMessage(body, id, chunkSize)[0] as string);
      socket.send('done');
    });
    const conn = connect(url, { chunking: chunking({ chunkSize }) });
    const bad = invalids(conn);
    const got: string[] = [];
    conn.onmessage = (e) => got.push(String(e.data));
    await until(() => got.includes('done'), 'the last frame');
    expect(bad.length).toBe(1000 - 16);
    expect(new Set(bad.map((b) => codeOf(b.problem)))).toEqual(new Set(['ERR_MESSAGE_INCOMPLETE']));
  });

  it.each([
    ['"d" is a number', '{"$chunk":1,"i":0,"n":2,"d":40000000}'],
    ['"n" is not a whole number', '{"$chunk":1,"i":0,"n":1.5,"d":"x"}'],
    ['"i" is past "n"', '{"$chunk":1,"i":2,"n":2,"d":"x"}'],
    ['"$chunk" is negative', '{"$chunk":-1,"i":0,"n":2,"d":"x"}'],
    ['"n" is huge', '{"$chunk":1,"i":0,"n":1e12,"d":"x"}'],
    ['it is not JSON', '{"$chunk":1,"i":0,'],
  ])('a chunk whose %s is reported as ERR_INVALID_CHUNK and nothing is held', async (_name, frame) => {
    const url = await wsServer((socket, index) => {
      if (index === 0) {
        socket.send(frame);
        socket.send('after');
      }
    });
    const conn = connect(url, { chunking: chunking() });
    const bad = invalids(conn);
    const got: string[] = [];
    conn.onmessage = (e) => got.push(String(e.data));
    await until(() => got.includes('after'), 'the frame after the bad chunk');
    expect(bad.map((b) => codeOf(b.problem))).toEqual(['ERR_INVALID_CHUNK']);
    expect(bad[0]!.data).toBe(frame);
  });

  it('counts bytes, not UTF-16 units: 600,000 "€" (1.8 MB) do not pass a 1 MiB cap', async () => {
    const message = '€'.repeat(600_000);
    const url = await wsServer((socket, index) => {
      if (index > 0) return;
      for (const frame of splitMessage(message, 7, 65_536)) socket.send(frame as string);
      socket.send('after');
    });
    const conn = connect(url, { chunking: chunking({ chunkSize: 65_536, maxMessageBytes: 1_048_576 }) });
    const bad = invalids(conn);
    const got: string[] = [];
    conn.onmessage = (e) => got.push(String(e.data).slice(0, 5));
    await until(() => got.includes('after'), 'the frame after the big message');
    expect(got).toEqual(['after']);
    expect(bad.map((b) => codeOf(b.problem))).toEqual(['ERR_MESSAGE_TOO_LARGE']);
  });

  it('Reassembler: all messages in progress together stay under maxMessageBytes, and reset() reports each', () => {
    const discarded: string[] = [];
    const r = new Reassembler(10_000, { onDiscard: (d) => discarded.push(d.error.code) });
    const firstChunk = (id: number) => splitMessage(new Uint8Array(8_000), id, 4_096)[0];
    r.accept(firstChunk(0));
    r.accept(firstChunk(1));
    // Each message alone fits; a third one's first chunk would pass the shared cap and is refused.
    expect(() => r.accept(firstChunk(2))).toThrowError(/in progress together exceeded/);
    expect(r.incomplete).toBe(2);
    expect(r.heldBytes).toBe(2 * 4_084);
    expect(r.reset()).toBe(2);
    expect(discarded).toEqual(['ERR_MESSAGE_INCOMPLETE', 'ERR_MESSAGE_INCOMPLETE']);
    expect(r.heldBytes).toBe(0);
  });
});

describe('malicious server: messages before the auth ack (bounded like the queue, linear)', () => {
  const auth = {
    mode: 'message' as const,
    token: () => 'secret',
    message: (token: string) => JSON.stringify({ type: 'auth', token }),
    isAck: (data: unknown) => data === '{"type":"auth_ok"}',
  };

  it('holds at most queue.maxMessages, reports the rest, and delivers the held ones in order after open', async () => {
    const url = await wsServer((socket) => {
      socket.once('message', () => {
        for (let i = 0; i < COUNT; i++) socket.send(`m${i}`);
        socket.send('{"type":"auth_ok"}');
      });
    });
    const conn = connect(url, { auth, queue: { maxMessages: 30_000 } });
    const bad = invalids(conn);
    const got: string[] = [];
    conn.onmessage = (e) => got.push(String(e.data));
    await until(() => conn.state === 'open', 'open', 20_000);
    expect(got.length).toBe(30_000);
    expect(got[0]).toBe('m0');
    expect(got[29_999]).toBe('m29999');
    expect(bad.length).toBe(10_000);
    expect(isSocketchartError(bad[0]!.problem, 'ERR_QUEUE_FULL')).toBe(true);
    expect(bad[0]!.data).toBe('m30000');
  }, 30_000);

  it.for(['closes the socket', 'refuses the token'])(
    'a server that sends messages, then %s before any ack: each held message is reported (ERR_CONNECTION_LOST), none delivered',
    async (ending) => {
      const url = await wsServer((socket) => {
        socket.once('message', () => {
          for (let i = 0; i < 3; i++) socket.send(`m${i}`);
          if (ending === 'closes the socket') socket.close(4000, 'no');
          else socket.send('{"type":"auth_error"}');
        });
      });
      const conn = connect(url, { auth: { ...auth, isNack: (data: unknown) => data === '{"type":"auth_error"}' }, backoff: { maxRetries: 0 } });
      const bad = invalids(conn);
      const got: unknown[] = [];
      conn.onmessage = (e) => got.push(e.data);
      await until(() => conn.state === 'closed' || bad.length >= 6, 'the reports');
      expect(got).toEqual([]);
      // Every attempt's three (a refused token gets one fresh attempt), each reported once, in arrival order.
      expect(bad.map((b) => b.data).slice(0, 3)).toEqual(['m0', 'm1', 'm2']);
      expect(bad.every((b) => isSocketchartError(b.problem, 'ERR_CONNECTION_LOST'))).toBe(true);
      expect(bad.length % 3).toBe(0);
    },
  );
});

describe('malicious server: acknowledged delivery (README: nothing held is forgotten until the server confirms it)', () => {
  it.each([
    ['welcome.ack', (sid: string) => [`{"type":"welcome","sid":"${sid}","resumed":false,"ack":1000000,"next":1}`]],
    ['ack', (sid: string) => [`{"type":"welcome","sid":"${sid}","resumed":false,"ack":0,"next":1}`, '{"type":"ack","ack":1000000}']],
  ])('a %s beyond what the client sent confirms nothing: the next socket replays every message', async (_name, bogus) => {
    const received: string[][] = [];
    const url = await wsServer((socket, index) => {
      const mine: string[] = (received[index] = []);
      socket.on('message', (raw) => {
        const text = String(raw);
        if (!text.startsWith('{"type":"hello"')) {
          mine.push(text);
          // The first socket dies once it has both messages, without a true ack.
          if (index === 0 && mine.length === 2) socket.terminate();
          return;
        }
        const sid = (JSON.parse(text) as { sid: string }).sid;
        if (index === 0) for (const frame of bogus(sid)) socket.send(frame);
        else socket.send(`{"type":"welcome","sid":"${sid}","resumed":true,"ack":0,"next":1}`);
      });
    });
    const conn = connect(url, { delivery: atLeastOnce() });
    conn.send('a');
    conn.send('b');
    await until(() => (received[1]?.length ?? 0) === 2, 'the replay on the second socket');
    expect(received).toEqual([['1:a', '2:b'], ['1:a', '2:b']]);
  });
});

describe('malicious options: providers that throw (README: events never fire inside createConnection)', () => {
  it.each([
    // One attempt only: with retryWait resolving at once, retrying a provider that always throws would spin.
    ['url', () => connect(() => { throw new Error('no url for you'); }, { backoff: { maxRetries: 0 } })],
    ['protocols', (url: string) => connect(url, { backoff: { maxRetries: 0 }, protocols: () => { throw new Error('no protocols'); } })],
    ['headers', (url: string) => connect(url, { backoff: { maxRetries: 0 }, headers: () => { throw new Error('no headers'); } })],
  ])('a %s provider that throws at once fails the attempt after createConnection returned', async (_name, make) => {
    const url = await wsServer(() => {});
    const conn = make(url);
    // On the line after createConnection nothing has happened yet: listeners attached now hear everything.
    expect(conn.state).toBe('connecting.opening');
    const errors: unknown[] = [];
    conn.addEventListener('error', (e) => errors.push(e.error));
    await until(() => errors.length > 0, 'the error event');
    expect(String((errors[0] as Error).message)).toMatch(/no (url|protocols|headers)/);
  });
});

describe('bad static input the transport refuses (README: events never fire inside createConnection)', () => {
  it('a header the Node transport refuses ends the session after createConnection returned, heard by listeners', async () => {
    const conn = connect('ws://127.0.0.1:1/', { headers: { 'X-Bad': 'a\nb' } });
    expect(conn.state).toBe('connecting.opening');
    const heard: string[] = [];
    conn.addEventListener('error', () => heard.push('error'));
    conn.addEventListener('close', (e) => heard.push(`close ${e.closedBy?.kind}`));
    await until(() => conn.state === 'closed', 'closed');
    expect(heard).toEqual(['error', 'close error']);
  });
});

describe('malicious server: accepts TCP, never answers the handshake (README: `error` for each failed attempt)', () => {
  it('each timed-out attempt fires error (ERR_CONNECT_TIMEOUT); the giveup carries it', async () => {
    const sockets: Socket[] = [];
    const tcp: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      tcp.close(() => resolve());
    }));
    const clock = new SimulatedClock();
    const conn = connect(`ws://127.0.0.1:${(tcp.address() as { port: number }).port}`, {
      clock,
      connectTimeout: 1_000,
      backoff: { maxRetries: 2 },
    });
    const errors: Error[] = [];
    const closes: number[] = [];
    conn.addEventListener('error', (e) => errors.push(e.error as Error));
    conn.addEventListener('close', (e) => closes.push(e.code));
    for (let attempt = 1; attempt <= 3; attempt++) {
      await until(() => sockets.length === attempt, `TCP connection ${attempt}`);
      clock.increment(1_000);
      await until(() => errors.length === attempt, `error ${attempt}`);
    }
    await until(() => conn.state === 'closed', 'closed');
    expect(errors.map((e) => (e as SocketchartError).code)).toEqual(['ERR_CONNECT_TIMEOUT', 'ERR_CONNECT_TIMEOUT', 'ERR_CONNECT_TIMEOUT']);
    expect(closes).toHaveLength(1);
    expect(conn.closedBy?.kind).toBe('giveup');
    expect(conn.closedBy?.error).toBe(errors[2]);
  });
});
