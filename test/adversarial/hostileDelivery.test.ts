/**
 * A hostile server speaking socketchart.ack.v1 by hand against `atLeastOnce()`: every frame the layer skips because
 * it breaks the protocol is reported, once, as an `invalid-message` event (ERR_INVALID_DATA) carrying the frame, and
 * the session goes on; what the protocol expects (duplicates replayed after a resume) stays quiet. [PROTOCOL.md:
 * "Errors and close codes", "Receiving data"; README: Acknowledged delivery]
 *
 * The server is a real `ws` server on 127.0.0.1, port 0. It answers each socket's hello with a welcome, writes a
 * script, then a data message `end` (the sentinel): frames on one socket arrive in order, so the sentinel's `message`
 * event means every frame before it was read. Nothing sleeps; reconnects wait for nothing (retryWait resolves).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import type { Connection } from '../../src/index.js';
import { isSocketchartError } from '../../src/errors.js';
import { createConnection } from '../../src/node.js';
import { atLeastOnce } from '../../src/delivery/index.js';
import { encodeBinary, parseControl, writeSeq } from '../../src/delivery/protocol.js';

const fast = { retryWait: () => Promise.resolve(), random: () => 0, heartbeat: false } as const;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

interface Hello {
  sid: string;
  ack: number;
  next: number;
}

/**
 * A server that runs `script(socket, hello, n)` once the client's hello on its `n`th socket (1, 2, ...) arrived;
 * `received` collects every other frame the client wrote, as text.
 */
async function ackServer(script: (socket: ServerSocket, hello: Hello, n: number) => void) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => [...offered].at(-1) ?? false });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const hellos: Hello[] = [];
  const received: string[] = [];
  wss.on('connection', (socket) =>
    socket.on('message', (data) => {
      const control = parseControl(String(data));
      if (control === null || control === 'invalid' || control.type !== 'hello') return void received.push(String(data));
      hellos.push(control);
      script(socket, control, hellos.length);
    }),
  );
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, hellos, received };
}

const welcome = (sid: string, { resumed = false, ack = 0, next = 1 } = {}) => JSON.stringify({ type: 'welcome', sid, resumed, ack, next });
const binary = (seq: number, text: string) => Buffer.from(encodeBinary(seq, Buffer.from(text)));
/** A binary frame whose 8-byte header holds `high` * 2^32 + `low` (0 and above 2^53 - 1 are out of range). */
const header = (high: number, low: number) => {
  const frame = Buffer.alloc(9);
  frame.writeUInt32BE(high, 0);
  frame.writeUInt32BE(low, 4);
  return frame;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyConnection = Connection<any, any>;

const show = (data: unknown) => (typeof data === 'string' ? data : `bin:${Buffer.from(data as Uint8Array).toString('hex')}`);

/**
 * What the app hears, in order, up to the sentinel: `message:<data>` and `invalid:<code>:<frame>`; `problems` keeps
 * each invalid-message's problem.
 */
function listen(conn: AnyConnection) {
  const log: string[] = [];
  const problems: unknown[] = [];
  const end = new Promise<void>((resolve) => {
    conn.addEventListener('message', (e) => {
      if (e.data === 'end') resolve();
      else log.push(`message:${show(e.data)}`);
    });
    conn.addEventListener('invalid-message', (e) => {
      problems.push(e.problem);
      log.push(`invalid:${isSocketchartError(e.problem) ? e.problem.code : `not typed: ${String(e.problem)}`}:${show(e.data)}`);
    });
  });
  return { log, problems, end };
}

function connect(url: string, options: Parameters<typeof createConnection>[1] = {}): AnyConnection {
  const conn = createConnection(url, { ...fast, delivery: atLeastOnce(), ...options });
  cleanup.push(() => conn.close());
  return conn;
}

const messages = (problems: unknown[]) => problems.map((p) => (p as Error).message);

describe('malformed control frames from the server: skipped and reported, one invalid-message each', () => {
  it('a malformed ack, welcome or hello, before or after the welcome, and a hello from the server: ERR_INVALID_DATA each; the good frames around them are delivered once', async () => {
    const sid = 'A'.repeat(22);
    const before = ['{"type":"ack","ack":-1}', '{"type":"welcome","sid":"short","resumed":false,"ack":0,"next":1}'];
    const after = [
      '{"type":"ack","ack":-1}',
      '{"type":"ack","ack":1.5}',
      '{"type":"ack"}',
      '{"type":"welcome","resumed":true,"ack":0,"next":1}',
      `{"type":"hello","sid":"${sid}","ack":0,"next":1}`,
      '{"type":"hello","sid":1}',
    ];
    const { url } = await ackServer((socket, hello) => {
      for (const frame of before) socket.send(frame);
      socket.send(welcome(hello.sid));
      socket.send('1:a');
      for (const frame of after) socket.send(frame);
      socket.send('2:b');
      socket.send('3:end');
    });
    const heard = listen(connect(url));
    await heard.end;
    const invalid = (frames: string[]) => frames.map((f) => `invalid:ERR_INVALID_DATA:${f}`);
    expect(heard.log).toEqual([...invalid(before), 'message:a', ...invalid(after), 'message:b']);
    expect(messages(heard.problems)).toEqual([
      expect.stringMatching(/^A malformed socketchart\.ack\.v1 ack frame from the server was skipped: "ack" must be a whole number >= 0/),
      expect.stringMatching(/^A malformed socketchart\.ack\.v1 welcome frame from the server was skipped: "sid" must be a session id/),
      ...['ack', 'ack', 'ack', 'welcome'].map((kind) => expect.stringMatching(new RegExp(`^A malformed socketchart\\.ack\\.v1 ${kind} frame from the server was skipped`))),
      expect.stringMatching(/^A socketchart\.ack\.v1 hello frame from the server was skipped: only a client sends hello/),
      expect.stringMatching(/^A socketchart\.ack\.v1 hello frame from the server was skipped/),
    ]);
  });

  it('a welcome for another session is skipped and reported; the welcome for this one then starts the session', async () => {
    const other = 'B'.repeat(22);
    const { url } = await ackServer((socket, hello) => {
      socket.send(welcome(other));
      socket.send(welcome(hello.sid));
      socket.send('1:a');
      socket.send('2:end');
    });
    const heard = listen(connect(url));
    await heard.end;
    expect(heard.log).toEqual([`invalid:ERR_INVALID_DATA:${welcome(other)}`, 'message:a']);
    expect(messages(heard.problems)).toEqual([expect.stringMatching(/welcome frame from the server was skipped: its sid is not this session's/)]);
  });

  it('a second welcome on one socket is skipped and reported: a "new session" welcome cannot make a message arrive twice', async () => {
    const server = await ackServer((socket, hello) => {
      socket.send(welcome(hello.sid));
      socket.send('1:a');
      // Applied, this would move the delivered mark back to 0, and 1:a would be delivered again.
      socket.send(welcome(hello.sid, { resumed: false, next: 1 }));
      socket.send('1:a');
      socket.send('2:end');
    });
    const heard = listen(connect(server.url));
    await heard.end;
    const second = welcome(server.hellos[0]!.sid, { resumed: false, next: 1 });
    expect(heard.log).toEqual(['message:a', `invalid:ERR_INVALID_DATA:${second}`]);
    expect(messages(heard.problems)).toEqual([expect.stringMatching(/^A second socketchart\.ack\.v1 welcome frame on one socket from the server was skipped/)]);
  });

  it('an ack beyond every message written is skipped and reported; the message stays held and is replayed on the next socket', async () => {
    const server = await ackServer((socket, hello, n) => {
      socket.send(welcome(hello.sid, { resumed: n > 1 }));
      if (n === 1) {
        socket.once('message', () => {
          socket.send('{"type":"ack","ack":7}');
          socket.close(1012);
        });
      } else socket.once('message', () => socket.send('1:end'));
    });
    const conn = connect(server.url);
    const heard = listen(conn);
    conn.send('x');
    await heard.end;
    expect(heard.log).toEqual(['invalid:ERR_INVALID_DATA:{"type":"ack","ack":7}']);
    expect(messages(heard.problems)).toEqual([
      expect.stringMatching(/^A socketchart\.ack\.v1 ack frame from the server acknowledged up to seq 7, beyond the last message written in this session \(1\); its ack was skipped/),
    ]);
    expect(server.hellos.map((h) => h.next)).toEqual([1, 1]);
    expect(server.received).toEqual(['1:x', '1:x']);
  });

  it("a welcome whose ack is beyond every message written: its ack is skipped and reported, the rest of the welcome stands", async () => {
    const { url } = await ackServer((socket, hello) => {
      socket.send(welcome(hello.sid, { resumed: true, ack: 5, next: 1 }));
      socket.send('1:a');
      socket.send('2:end');
    });
    const heard = listen(connect(url));
    await heard.end;
    expect(heard.log).toEqual([expect.stringMatching(/^invalid:ERR_INVALID_DATA:\{"type":"welcome"/), 'message:a']);
    expect(messages(heard.problems)).toEqual([expect.stringMatching(/welcome frame from the server acknowledged up to seq 5, .*\(the rest of the welcome stands\)/)]);
  });
});

describe('malformed data frames after the welcome: skipped and reported, one invalid-message each', () => {
  it('text shaped like a data message whose prefix is not a seq (01:, -1:, +1:, .5:, 1.5:, 0:, 1e3:, too big, no colon)', async () => {
    const malformed = ['01:x', '-1:x', '+1:x', '.5:x', '1.5:x', '0:x', '1e3:x', '9007199254740992:x', '12345678901234567890:x', '123'];
    const { url } = await ackServer((socket, hello) => {
      socket.send(welcome(hello.sid));
      socket.send('1:a');
      for (const frame of malformed) socket.send(frame);
      socket.send('2:b');
      socket.send('3:end');
    });
    const heard = listen(connect(url));
    await heard.end;
    expect(heard.log).toEqual(['message:a', ...malformed.map((f) => `invalid:ERR_INVALID_DATA:${f}`), 'message:b']);
    for (const message of messages(heard.problems)) expect(message).toMatch(/^A malformed socketchart\.ack\.v1 text data frame from the server was skipped/);
  });

  it.each(['nodebuffer', 'arraybuffer'] as const)('binary (%s) shorter than its header, with seq 0, with seq 2^53: the frame as received is the event data', async (binaryType) => {
    const malformed = [Buffer.from([1, 2, 3]), header(0, 0), header(0x20_0000, 0)];
    const { url } = await ackServer((socket, hello) => {
      socket.send(welcome(hello.sid));
      socket.send(binary(1, 'a'));
      for (const frame of malformed) socket.send(frame);
      socket.send(binary(2, 'b'));
      socket.send('3:end');
    });
    const conn = connect(url, { binaryType });
    const dataTypes: unknown[] = [];
    conn.addEventListener('invalid-message', (e) => dataTypes.push(Buffer.isBuffer(e.data) ? 'Buffer' : e.data instanceof ArrayBuffer ? 'ArrayBuffer' : typeof e.data));
    const heard = listen(conn);
    await heard.end;
    const hex = (text: string) => Buffer.from(text).toString('hex');
    expect(heard.log).toEqual([
      `message:bin:${hex('a')}`,
      ...malformed.map((f) => `invalid:ERR_INVALID_DATA:bin:${f.toString('hex')}`),
      `message:bin:${hex('b')}`,
    ]);
    expect(dataTypes).toEqual(malformed.map(() => (binaryType === 'nodebuffer' ? 'Buffer' : 'ArrayBuffer')));
    expect(messages(heard.problems)).toEqual([
      expect.stringMatching(/^A malformed socketchart\.ack\.v1 binary data frame from the server was skipped: it has 3 bytes, fewer than the 8-byte/),
      ...[0, 1].map(() => expect.stringMatching(/^A malformed socketchart\.ack\.v1 binary data frame from the server was skipped: its sequence number is 0 or above 2\^53-1/)),
    ]);
  });
});

describe('sequence gaps: skipped and reported; duplicates are expected and stay quiet', () => {
  it('a text or binary frame past the next seq is reported once each, naming its seq and the one expected; the next seq is then delivered', async () => {
    const { url } = await ackServer((socket, hello) => {
      socket.send(welcome(hello.sid));
      socket.send('1:a');
      socket.send('5:gap');
      socket.send(binary(9, 'gap'));
      socket.send('2:b');
      socket.send('3:end');
    });
    const heard = listen(connect(url));
    await heard.end;
    expect(heard.log).toEqual(['message:a', 'invalid:ERR_INVALID_DATA:5:gap', `invalid:ERR_INVALID_DATA:bin:${binary(9, 'gap').toString('hex')}`, 'message:b']);
    expect(messages(heard.problems)).toEqual([
      expect.stringMatching(/^A socketchart\.ack\.v1 text data frame from the server was skipped: it is numbered 5, and 2 is the next expected \(a sequence gap/),
      expect.stringMatching(/^A socketchart\.ack\.v1 binary data frame from the server was skipped: it is numbered 9, and 2 is the next expected/),
    ]);
  });

  it('a resume whose server replays what the client already delivered (and a duplicate on one socket): each message delivered once, no invalid-message', async () => {
    const server = await ackServer((socket, hello, n) => {
      if (n === 1) {
        socket.send(welcome(hello.sid));
        for (const frame of ['1:a', '2:b', '2:b', binary(3, 'c'), binary(3, 'c')]) socket.send(frame);
        socket.close(1012);
        return;
      }
      // A server that forgets nothing it sent (its acks were lost): it replays from 1, as the protocol allows.
      socket.send(welcome(hello.sid, { resumed: true, next: 1 }));
      for (const frame of ['1:a', '2:b', binary(3, 'c'), '4:d', '5:end']) socket.send(frame);
    });
    const heard = listen(connect(server.url));
    await heard.end;
    expect(heard.log).toEqual(['message:a', 'message:b', `message:bin:${Buffer.from('c').toString('hex')}`, 'message:d']);
    expect(server.hellos.map((h) => h.ack)).toEqual([0, 3]);
  });
});

describe('a binary header written by the protocol module itself', () => {
  it('writeSeq and the test header agree (the out-of-range cases above are what they claim)', () => {
    const ours = Buffer.alloc(9);
    writeSeq(ours, 2 ** 53 - 1);
    expect(ours.subarray(0, 8)).toEqual(header(0x1f_ffff, 0xffff_ffff).subarray(0, 8));
  });
});
