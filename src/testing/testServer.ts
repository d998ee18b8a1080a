import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

export interface TestServerOptions {
  /**
   * What the server does with each message; the default echoes it back.
   * @default echo
   */
  onMessage?: (socket: WebSocket, data: RawData, isBinary: boolean) => void;
  /** Called for each accepted connection. */
  onConnection?: (socket: WebSocket, request: IncomingMessage) => void;
  /**
   * Subprotocol selection, as ws's `handleProtocols`.
   * @default the first offered
   */
  handleProtocols?: (protocols: Set<string>) => string | false;
}

/**
 * A real `ws` server on 127.0.0.1, port 0, with the faults a connection must survive. Loopback only.
 */
export interface TestServer {
  readonly port: number;
  /** `ws://127.0.0.1:<port>` plus `path`. */
  url(path?: string): string;
  /** Sockets currently connected. */
  readonly sockets: ReadonlySet<WebSocket>;
  /** Handshakes accepted since start. */
  readonly accepted: number;
  /** Every message received, in order, as text (binary as a Buffer). */
  readonly received: Array<string | Buffer>;
  /** Resolves with the next accepted socket (or the newest if `count` were already accepted). */
  nextConnection(): Promise<WebSocket>;
  /** Kill every connection without a close frame (the client sees 1006). */
  dropAll(): void;
  /** Close every connection with a close frame. */
  closeAll(code: number, reason?: string): void;
  /** Answer the next `count` handshakes with an HTTP status instead of upgrading. */
  refuseNext(status: number, count?: number): void;
  /** Stop listening and drop every connection; the port stays reserved for `restart`. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (options.handleProtocols ? options.handleProtocols(protocols) : ([...protocols][0] ?? false)),
  });
  const sockets = new Set<WebSocket>();
  const rawSockets = new Set<Socket>();
  const received: Array<string | Buffer> = [];
  const waiters: Array<(socket: WebSocket) => void> = [];
  let refusals: Array<number> = [];
  let accepted = 0;
  let port = 0;

  const onMessage =
    options.onMessage ?? ((socket: WebSocket, data: RawData, isBinary: boolean) => socket.send(data, { binary: isBinary }));

  wss.on('connection', (socket, request) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => {
      received.push(isBinary ? Buffer.from(data as Buffer) : data.toString());
      onMessage(socket, data, isBinary);
    });
    options.onConnection?.(socket, request);
    waiters.shift()?.(socket);
  });

  let http: Server = makeHttp();

  function makeHttp(): Server {
    const server = createServer((_req, res) => res.writeHead(426).end('WebSocket only'));
    server.on('connection', (raw) => {
      rawSockets.add(raw);
      raw.on('close', () => rawSockets.delete(raw));
    });
    server.on('upgrade', (request, raw: Socket, head) => {
      const status = refusals.shift();
      if (status !== undefined) {
        raw.end(`HTTP/1.1 ${status} Refused by test\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(request, raw, head, (socket) => wss.emit('connection', socket, request));
    });
    return server;
  }

  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => {
        port = (http.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  function dropAll(): void {
    for (const socket of sockets) socket.terminate();
  }

  async function stop(): Promise<void> {
    dropAll();
    for (const raw of rawSockets) raw.destroy();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  await listen();

  return {
    get port() {
      return port;
    },
    url: (path = '/') => `ws://127.0.0.1:${port}${path}`,
    sockets,
    get accepted() {
      return accepted;
    },
    received,
    nextConnection: () => new Promise((resolve) => waiters.push(resolve)),
    dropAll,
    closeAll(code, reason = '') {
      for (const socket of sockets) socket.close(code, reason);
    },
    refuseNext(status, count = 1) {
      refusals = refusals.concat(Array.from({ length: count }, () => status));
    },
    stop,
    async restart() {
      http = makeHttp();
      await listen();
    },
    async close() {
      await stop();
      wss.close();
    },
  };
}
