/**
 * The benchmark's server process: every server the clients talk to, on 127.0.0.1, in one child process of its own
 * (pinned to its own core) so its CPU is never counted against a client. Bundled by run.ts like the clients.
 *
 * The parent creates servers over IPC, each on its own port and HTTP server, so that a drop or a kill hits exactly
 * the connections of one measurement:
 *   role echo       ws: echoes every message; io: socket.io server, `echo` event answered with `echo`
 *   role count      ws: counts distinct messages `m<i>`; io: the same for `echo` events
 *   role ack-count  ws with `attachAckServer` (socketchart/server): counts distinct payloads it delivers
 * `drop` destroys every TCP socket of some servers at once (as `ws.terminate()` does: no close frame, no socket.io
 * disconnect packet), and answers with the time of the drop on the shared wall clock; `killer` does that every
 * `every` ms until turned off.
 *
 * Requests carry an `rid` that the reply repeats. The process exits when the parent disconnects or says stop.
 */
import { type Server as HttpServer, type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Server as IoServer } from 'socket.io';
import { WebSocketServer } from 'ws';
import { attachAckServer } from '../src/server/index.js';
import { errorMessage, wallNow } from './common.js';

export type ServerRole = 'echo' | 'count' | 'ack-count';

export type ServerRequest =
  | { rid: number; type: 'listen'; id: string; role: ServerRole; protocol: 'ws' | 'io' }
  | { rid: number; type: 'drop'; ids: string[] }
  | { rid: number; type: 'killer'; ids: string[]; every: number }
  | { rid: number; type: 'killer-off' }
  | { rid: number; type: 'tally'; ids: string[]; withSeen?: boolean }
  | { rid: number; type: 'reset'; ids: string[] }
  | { rid: number; type: 'close'; ids: string[] };

/** A request as the parent writes it; `Child.request` adds the `rid`. */
export type ServerRequestBody = ServerRequest extends infer R ? (R extends unknown ? Omit<R, 'rid'> : never) : never;

export type ServerResponse =
  | { rid: number; type: 'listening'; port: number }
  | { rid: number; type: 'dropped'; at: number; sockets: number }
  | { rid: number; type: 'ok'; kills?: number }
  | { rid: number; type: 'tally'; tallies: Record<string, { distinct: number; duplicates: number; received: number; seen?: number[] }> }
  | { rid: number; type: 'error'; message: string };

class Tally {
  readonly seen = new Set<number>();
  received = 0;
  duplicates = 0;
  add(payload: unknown): void {
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString() : String(payload);
    const i = Number(text.slice(1));
    if (text[0] !== 'm' || !Number.isInteger(i)) return;
    this.received++;
    if (this.seen.has(i)) this.duplicates++;
    else this.seen.add(i);
  }
}

interface Served {
  http: HttpServer;
  sockets: Set<Socket>;
  tally: Tally; // replaced by `reset`
  close(): Promise<void>;
}

const served = new Map<string, Served>();

function noop(): void {}

async function listen(id: string, role: ServerRole, protocol: 'ws' | 'io'): Promise<number> {
  const http = createServer((_req, res) => {
    // socket.io answers its own requests; anything else is not for us.
    if (!res.headersSent && !res.writableEnded && protocol !== 'io') res.writeHead(404).end();
  });
  const sockets = new Set<Socket>();
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const tally = new Tally();
  let closeProtocol: () => Promise<void>;
  if (protocol === 'io') {
    // socket.io's defaults (ping every 25 s with a 20 s timeout, polling then WebSocket, ...).
    const server = new IoServer(http, { serveClient: false });
    server.on('connection', (socket) => {
      if (role === 'echo') socket.on('echo', (data: unknown) => void socket.emit('echo', data));
      else socket.on('echo', (data: unknown) => tally.add(data));
    });
    closeProtocol = () => new Promise<void>((resolve) => void server.close(() => resolve()));
  } else {
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
    if (role === 'ack-count') {
      const ack = attachAckServer(wss, { onMessage: (_session, payload) => tally.add(payload) });
      const closeWss = () => new Promise<void>((resolve) => wss.close(() => resolve()));
      closeProtocol = () => (ack.close(), closeWss());
    } else {
      wss.on('connection', (socket, _request: IncomingMessage) => {
        socket.on('error', noop);
        if (role === 'echo') socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
        else socket.on('message', (data) => tally.add(data));
      });
      closeProtocol = () => new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  }
  await new Promise<void>((resolve) => http.listen({ host: '127.0.0.1', port: 0, backlog: 2048 }, resolve));
  served.set(id, {
    http,
    sockets,
    tally,
    close: async () => {
      dropAll([id]);
      await closeProtocol();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  });
  return (http.address() as AddressInfo).port;
}

/** Destroys every TCP socket of these servers; returns how many. */
function dropAll(ids: string[]): number {
  let count = 0;
  for (const id of ids) {
    const entry = served.get(id);
    if (!entry) continue;
    for (const socket of entry.sockets) {
      socket.destroy();
      count++;
    }
  }
  return count;
}

let killer: ReturnType<typeof setInterval> | undefined;
let kills = 0;

function get(id: string): Served {
  const entry = served.get(id);
  if (!entry) throw new Error(`no server ${id}`);
  return entry;
}

async function handle(request: ServerRequest): Promise<ServerResponse> {
  const { rid } = request;
  switch (request.type) {
    case 'listen':
      return { rid, type: 'listening', port: await listen(request.id, request.role, request.protocol) };
    case 'drop': {
      const at = wallNow();
      const sockets = dropAll(request.ids);
      return { rid, type: 'dropped', at, sockets };
    }
    case 'killer': {
      clearInterval(killer);
      kills = 0;
      const ids = request.ids;
      killer = setInterval(() => {
        kills++;
        dropAll(ids);
      }, request.every);
      return { rid, type: 'ok' };
    }
    case 'killer-off':
      clearInterval(killer);
      killer = undefined;
      return { rid, type: 'ok', kills };
    case 'tally': {
      const tallies: Record<string, { distinct: number; duplicates: number; received: number; seen?: number[] }> = {};
      for (const id of request.ids) {
        const { tally } = get(id);
        tallies[id] = { distinct: tally.seen.size, duplicates: tally.duplicates, received: tally.received, ...(request.withSeen ? { seen: [...tally.seen] } : {}) };
      }
      return { rid, type: 'tally', tallies };
    }
    case 'reset':
      for (const id of request.ids) get(id).tally = new Tally();
      return { rid, type: 'ok' };
    case 'close':
      await Promise.all(request.ids.map((id) => get(id).close()));
      for (const id of request.ids) served.delete(id);
      return { rid, type: 'ok' };
    default:
      throw new Error(`unknown request ${JSON.stringify(request)}`);
  }
}

function stop(): void {
  clearInterval(killer);
  for (const entry of served.values()) void entry.close().catch(noop);
  // Never linger: the parent waits for this process to exit.
  setTimeout(() => process.exit(0), 1_000).unref();
}

process.on('message', (message: ServerRequest | { type: 'stop' }) => {
  if (message.type === 'stop') {
    stop();
    return;
  }
  const request = message;
  handle(request).then(
    (response) => process.send?.(response),
    (error: unknown) => process.send?.({ rid: request.rid, type: 'error', message: errorMessage(error) } satisfies ServerResponse),
  );
});
process.on('disconnect', stop);
process.send?.({ type: 'started' });
