import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Connection, ConnectionEventMap } from '../../src/index.js';

// The helpers listen to connections of any message type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyConnection = Connection<any, any>;

export interface CompatServer {
  readonly wss: WebSocketServer;
  /** `ws://127.0.0.1:<port>/`, as a DOM WebSocket would show it. */
  readonly url: string;
  /** Sockets accepted so far, in order. */
  readonly accepted: WebSocket[];
  /** Resolves with the next accepted socket. */
  nextConnection(): Promise<WebSocket>;
  close(): Promise<void>;
}

/**
 * A plain `ws` server on 127.0.0.1, port 0, as the ported suites use one: it echoes each message back with its
 * frame type (text stays text), and negotiates the first offered subprotocol (ws's default).
 */
export async function startServer(options: { echo?: boolean } = {}): Promise<CompatServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const accepted: WebSocket[] = [];
  wss.on('connection', (socket) => {
    accepted.push(socket);
    socket.on('error', () => {});
    if (options.echo !== false) socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    wss,
    url: `ws://127.0.0.1:${port}/`,
    accepted,
    nextConnection: () => once(wss, 'connection').then(([socket]) => socket as WebSocket),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** A loopback URL whose port refuses TCP connections at once (ECONNREFUSED): the ported suites' unreachable host. */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `ws://127.0.0.1:${port}/`;
}

/** Resolves with the next event of `type`. */
export function next<K extends keyof ConnectionEventMap>(
  conn: AnyConnection,
  type: K,
  predicate: (event: ConnectionEventMap[K]) => boolean = () => true,
): Promise<ConnectionEventMap[K]> {
  return new Promise((resolve) => {
    const listener = (event: ConnectionEventMap[K]) => {
      if (!predicate(event)) return;
      conn.removeEventListener(type, listener);
      resolve(event);
    };
    conn.addEventListener(type, listener);
  });
}

/** Resolves once the connection is `closed`. */
export function closedState(conn: AnyConnection): Promise<void> {
  if (conn.state === 'closed') return Promise.resolve();
  return next(conn, 'statechange', (e) => e.to === 'closed').then(() => undefined);
}

/** Resolves when `socket` (server side) ends, with the code and reason the client sent. */
export function serverSideClose(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return once(socket, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
}

/** Decodes what a message event carried (string, Buffer, ArrayBuffer or Blob) as text. */
export async function text(data: unknown): Promise<string> {
  if (typeof data === 'string') return data;
  if (data instanceof Blob) return data.text();
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  throw new Error(`not message data: ${String(data)}`);
}

/**
 * A `ws` server on 127.0.0.1, port 0, that answers each JSON text message with what `answer` returns for it (the
 * ported suites' servers that acknowledge an event with its id); `undefined` sends nothing back.
 */
export async function startAnsweringServer(
  answer: (message: Record<string, unknown>, socket: WebSocket) => unknown,
): Promise<CompatServer> {
  const s = await startServer({ echo: false });
  s.wss.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const reply = answer(JSON.parse(String(data)) as Record<string, unknown>, socket);
      if (reply !== undefined) socket.send(JSON.stringify(reply));
    }),
  );
  return s;
}

/** Resolves once `predicate` holds, checking after each turn of the event loop (I/O, not a timer). */
export async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setImmediate(resolve));
}
