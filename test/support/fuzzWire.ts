import { createHash } from 'node:crypto';
import { type AddressInfo, type Socket, createServer } from 'node:net';

/**
 * A hostile WebSocket server by hand, on 127.0.0.1 port 0, for the fuzz tests: each TCP connection gets the next
 * script (bytes to write after the handshake, or a handshake of its own), and every frame the client sends is
 * read (unmasked) so the test knows which messages reached the server.
 */
export interface WireStep {
  /** Bytes to write, or an action on the socket. */
  write?: Buffer;
  end?: true;
  destroy?: true;
  /** Yield to the event loop before the next step (lets the client act in between). */
  yield?: true;
}

export interface WireScript {
  /** 'ok': 101 with the right accept key; the others fail the handshake. */
  handshake: 'ok' | 'bad-accept' | 'http-503' | 'destroy' | 'hang';
  steps: WireStep[];
  /** Answer the client's pings with pongs carrying the same payload (proofs of receipt). */
  answerPings: boolean;
  /** Answer the client's close frame with the same code (a clean closing handshake). */
  answerClose: boolean;
}

export interface WireServer {
  url: string;
  /** Text messages the client sent, across all connections, in order. */
  received: string[];
  connections: number;
  close(): Promise<void>;
}

export function frame(opcode: number, payload: Buffer, options: { fin?: boolean; rsv?: number; mask?: boolean } = {}): Buffer {
  const { fin = true, rsv = 0, mask = false } = options;
  const first = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const maskBit = mask ? 0x80 : 0;
  let header: Buffer;
  if (payload.length < 126) header = Buffer.from([first, maskBit | payload.length]);
  else if (payload.length < 65_536) {
    header = Buffer.from([first, maskBit | 126, 0, 0]);
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.from([first, maskBit | 127, 0, 0, 0, 0, 0, 0, 0, 0]);
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([header, mask ? Buffer.alloc(4) : Buffer.alloc(0), payload]);
}

export function closeFrame(code: number, reason = ''): Buffer {
  const r = Buffer.from(reason);
  const payload = Buffer.alloc(2 + r.length);
  payload.writeUInt16BE(code, 0);
  r.copy(payload, 2);
  return frame(0x8, payload);
}

export async function wireServer(scripts: WireScript[], fallback: WireScript): Promise<WireServer> {
  const sockets = new Set<Socket>();
  const s: WireServer = { url: '', received: [], connections: 0, close: async () => {} };
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const script = scripts[s.connections++] ?? fallback;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer: Buffer = Buffer.alloc(0);
    let upgraded = false;
    let fragments: Buffer[] = [];
    const write = (bytes: Buffer) => {
      if (!socket.destroyed && socket.writable) socket.write(bytes);
    };
    const run = async () => {
      for (const step of script.steps) {
        if (socket.destroyed) return;
        if (step.write) write(step.write);
        if (step.end) socket.end();
        if (step.destroy) socket.destroy();
        if (step.yield) await new Promise((resolve) => setImmediate(resolve));
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        upgraded = true;
        const request = buffer.subarray(0, end + 4).toString('latin1');
        buffer = buffer.subarray(end + 4);
        const key = /sec-websocket-key:\s*(.+)\r\n/i.exec(request)?.[1]?.trim() ?? '';
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        if (script.handshake === 'hang') return;
        if (script.handshake === 'destroy') {
          socket.destroy();
          return;
        }
        if (script.handshake === 'http-503') {
          socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        const acceptHeader = script.handshake === 'bad-accept' ? 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' : accept;
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptHeader}\r\n\r\n`);
        void run();
      }
      // The client's frames: masked, text messages possibly fragmented (ws does not fragment, but be exact).
      for (;;) {
        if (buffer.length < 2) return;
        const fin = (buffer[0]! & 0x80) !== 0;
        const opcode = buffer[0]! & 0x0f;
        let length = buffer[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        const masked = (buffer[1]! & 0x80) !== 0;
        const end = offset + (masked ? 4 : 0) + length;
        if (buffer.length < end) return;
        const mask = masked ? buffer.subarray(offset, offset + 4) : Buffer.alloc(4);
        const payload = Buffer.from(buffer.subarray(end - length, end)).map((b, i) => b ^ mask[i % 4]!);
        buffer = buffer.subarray(end);
        if (opcode === 0x1 || opcode === 0x0) {
          fragments.push(Buffer.from(payload));
          if (fin) {
            s.received.push(Buffer.concat(fragments).toString('utf8'));
            fragments = [];
          }
        } else if (opcode === 0x9 && script.answerPings) write(frame(0xa, Buffer.from(payload)));
        else if (opcode === 0x8 && script.answerClose) {
          write(frame(0x8, Buffer.from(payload)));
          socket.end();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  s.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return s;
}
