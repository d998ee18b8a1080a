import type { ClientRequest, IncomingMessage } from 'node:http';
import type { ClientOptions } from 'ws';
import WebSocket from 'ws';
import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
import { protocolFailureOf } from './protocolFailure.js';
import type { BinaryType, OpenRequest, SocketSink, Transport, TransportSocket } from './types.js';

/** Options of the `ws`-backed transport; everything `ws` itself needs for the handshake. */
export interface NodeTransportOptions {
  /**
   * Handshake headers sent with every attempt, e.g. `Authorization` (per-attempt headers come from the
   * connection's `headers` option and win over these).
   * @default {}
   */
  headers?: Record<string, string>;
  /**
   * The `Origin` header.
   * @default undefined (none sent)
   */
  origin?: string;
  /**
   * Handshake timeout in ms enforced by `ws` itself. The connection's own `connectTimeout` also applies.
   * @default undefined (only `connectTimeout`)
   */
  handshakeTimeout?: number;
  /**
   * Largest message in bytes accepted from the server; a bigger one closes the socket with 1009, which the
   * connection reports as its close code (unclean) and treats as fatal by default (no reconnect loop). Other
   * violations by the server are reported the same way: 1002 (a frame RFC 6455 forbids), 1007 (invalid UTF-8).
   * @default 104857600 (100 MiB, the ws default)
   */
  maxPayload?: number;
  /**
   * Ms ws waits for the server to close TCP once the closing handshake is done (or once ws failed the connection
   * over a protocol violation) before it destroys the socket; the connection hears `close` only then. A server that
   * sends its close frame and holds TCP open delays the reconnect by this much. Closes you start are bounded by the
   * connection's own `closeTimeout` as well.
   * @default 5000 (ws's own default is 30000)
   */
  closeTimeout?: number;
  /**
   * permessage-deflate negotiation (`true`, `false`, or ws's options object).
   * @default false
   */
  perMessageDeflate?: ClientOptions['perMessageDeflate'];
  /**
   * TLS options for `wss:` (ca, cert, key, rejectUnauthorized, servername, ...), passed to `https.request`.
   * @default {}
   */
  tls?: Pick<ClientOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'checkServerIdentity'> & {
    servername?: string;
  };
  /** Anything else `ws` accepts (agent, family, lookup, ...), for cases the named options do not cover. */
  wsOptions?: ClientOptions;
}

const SINK = Symbol('socketchart.sink');
const BINARY = Symbol('socketchart.binaryType');
/** The HTTP status of a handshake the server answered with something other than 101. */
const REFUSED = Symbol('socketchart.refusedWith');
/** `close()` was called on this socket by the connection. */
const CLOSING = Symbol('socketchart.closing');
/** ws dropped the socket because the server sent pings faster than their pongs could be written. */
const FLOODED = Symbol('socketchart.flooded');

interface WsSocket extends WebSocket {
  [SINK]: SocketSink;
  [BINARY]: BinaryType;
  [REFUSED]?: number;
  [CLOSING]?: true;
  [FLOODED]?: true;
}

/** Where a socket's events go once the connection has been told how it ended: nowhere. */
const MUTE: SocketSink = { onOpen: ignore, onMessage: ignore, onError: ignore, onClose: ignore };

/**
 * HTTP answers that refuse the credentials. They are reported as close 1008 (in `auth.refreshCodes` by default), so
 * a connection with `auth` refreshes its token once and then ends as `auth`, and one without ends as `fatal`.
 */
const AUTH_REFUSALS: Readonly<Record<number, string>> = Object.freeze({
  401: 'HTTP 401 Unauthorized',
  403: 'HTTP 403 Forbidden',
});

// The listeners are shared by every socket: ws calls them with `this` bound to the socket, which carries its sink.
// So a connection costs no closures here.
function handleOpen(this: WebSocket): void {
  (this as WsSocket)[SINK].onOpen({ protocol: this.protocol, extensions: this.extensions });
}

function handleMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const ws = this as WsSocket;
  ws[SINK].onMessage(isBinary ? toBinaryType(data, ws[BINARY]) : data.toString());
}

function handleError(this: WebSocket, error: Error): void {
  const ws = this as WsSocket;
  const status = ws[REFUSED];
  if (status !== undefined) {
    // The error ws emits for our own abort says "closed before the connection was established": say what happened.
    ws[SINK].onError(new Error(`Unexpected server response: ${status}`, { cause: error }));
    return;
  }
  const failure = protocolFailureOf(error);
  if (failure === undefined) {
    ws[SINK].onError(error);
    return;
  }
  // ws has sent the close frame that says why and stopped reading, but reports 'close' only once the server closes
  // TCP (or after its own 30 s close timeout), and then as 1006. Report the real code now: a hostile server cannot
  // hold the connection in limbo, and the chart sees 1002/1007/1009, which are fatal, instead of a 1006 it retries.
  const sink = ws[SINK];
  ws[SINK] = MUTE;
  sink.onError(error);
  sink.onClose({ code: failure.code, reason: failure.reason, wasClean: false });
}

function handleUnexpectedResponse(this: WebSocket, _request: ClientRequest, response: IncomingMessage): void {
  const ws = this as WsSocket;
  ws[REFUSED] = response.statusCode ?? 0;
  // Listening for 'unexpected-response' makes the abort ours: ws then emits 'error' and 'close' (1006) as it
  // would have without a listener.
  ws.terminate();
}

// ws answers each ping before emitting 'ping', and terminates the socket (no error, no code) once more than
// `maxPendingAutoPongs` pongs wait to be written. A ping heard on a socket that is going down without our close()
// is that; the connection is told why instead of seeing a bare 1006.
function handlePing(this: WebSocket): void {
  const ws = this as WsSocket;
  if (ws.readyState !== WebSocket.OPEN && ws[CLOSING] === undefined && ws[FLOODED] === undefined) {
    ws[FLOODED] = true;
    ws[SINK].onError(
      new Error("Ping flood: the server sent pings faster than their pongs could be written (over ws's maxPendingAutoPongs, 60 by default); ws dropped the socket"),
    );
  }
}

function handleClose(this: WebSocket, code: number, reason: Buffer): void {
  const ws = this as WsSocket;
  if (ws[FLOODED]) {
    // A server that stops reading looks the same: worth another try, after the backoff.
    ws[SINK].onClose({ code: 1006, reason: 'Ping flood', wasClean: false });
    return;
  }
  const refusal = ws[REFUSED] === undefined ? undefined : AUTH_REFUSALS[ws[REFUSED]];
  if (refusal !== undefined) {
    ws[SINK].onClose({ code: 1008, reason: refusal, wasClean: false });
    return;
  }
  // ws reports 1006 exactly when no close frame came back; that is the DOM's definition of an unclean close.
  ws[SINK].onClose({ code, reason: reason.toString(), wasClean: code !== 1006 });
}

function handlePong(this: WebSocket, data: Buffer): void {
  (this as WsSocket)[SINK].onPong?.(data);
}

function toBinaryType(data: Buffer, binaryType: BinaryType): unknown {
  if (binaryType === 'nodebuffer') return data;
  const copy = new Uint8Array(data).buffer;
  return binaryType === 'blob' ? new Blob([copy]) : copy;
}

class NodeSocket implements TransportSocket {
  readonly #ws: WsSocket;

  constructor(ws: WsSocket) {
    this.#ws = ws;
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  get binaryType(): BinaryType {
    return this.#ws[BINARY];
  }

  set binaryType(type: BinaryType) {
    this.#ws[BINARY] = type;
  }

  send(data: SendData): boolean {
    // ws discards writes after its close handshake began without telling anyone; report them instead.
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    // ws >= 8.18 sends Blobs itself and keeps them in order with the frames around them.
    this.#ws.send(data);
    return true;
  }

  close(code?: number, reason?: string): void {
    this.#ws[CLOSING] = true;
    this.#ws.close(code, reason);
  }

  terminate(): void {
    const ws = this.#ws;
    ws.removeAllListeners();
    // A late 'error' from a socket we abandoned must not become an uncaught exception.
    ws.on('error', ignore);
    ws.terminate();
  }

  ping(data?: Uint8Array): void {
    this.#ws.ping(data);
  }
}

function ignore(): void {}

const DEFAULT_CLOSE_TIMEOUT = 5_000;

function checkNodeTransportOptions(options: NodeTransportOptions): void {
  if (typeof options !== 'object' || options === null) throw invalidOption('createNodeTransport(options)', 'an object', options);
  for (const name of ['handshakeTimeout', 'maxPayload', 'closeTimeout'] as const) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 2_147_483_647)) {
      throw invalidOption(name, 'a whole number >= 0', value);
    }
  }
  const headers = options.headers;
  if (headers !== undefined && (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string'))) {
    throw invalidOption('headers', 'an object of header names to string values', headers);
  }
  if (options.origin !== undefined && typeof options.origin !== 'string') throw invalidOption('origin', 'a string', options.origin);
}

/** The transport for Node: the `ws` package, with headers, TLS and RFC 6455 ping/pong frames. */
export function createNodeTransport(options: NodeTransportOptions = {}): Transport {
  checkNodeTransportOptions(options);
  // ws >= 8.19 reads `closeTimeout` from client options (older versions ignore it); @types/ws does not list it yet.
  const base: ClientOptions & { closeTimeout?: number } = {
    ...options.wsOptions,
    ...options.tls,
    perMessageDeflate: options.perMessageDeflate ?? false,
    closeTimeout: options.closeTimeout ?? (options.wsOptions as { closeTimeout?: number } | undefined)?.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
  };
  if (options.origin !== undefined) base.origin = options.origin;
  if (options.handshakeTimeout !== undefined) base.handshakeTimeout = options.handshakeTimeout;
  if (options.maxPayload !== undefined) base.maxPayload = options.maxPayload;
  const staticHeaders = options.headers;

  return {
    name: 'node',
    defaultBinaryType: 'nodebuffer',
    binaryTypes: ['nodebuffer', 'arraybuffer', 'blob'],
    supportsHeaders: true,
    canPing: true,
    open(request: OpenRequest, sink: SocketSink): TransportSocket {
      const headers =
        staticHeaders || request.headers ? { ...staticHeaders, ...request.headers } : undefined;
      const ws = new WebSocket(request.url, request.protocols, headers ? { ...base, headers } : base) as WsSocket;
      ws[SINK] = sink;
      ws[BINARY] = request.binaryType;
      ws.on('open', handleOpen);
      ws.on('message', handleMessage);
      ws.on('error', handleError);
      ws.on('close', handleClose);
      ws.on('pong', handlePong);
      ws.on('unexpected-response', handleUnexpectedResponse);
      ws.on('ping', handlePing);
      return new NodeSocket(ws);
    },
  };
}

/** The Node transport with default options. */
export const nodeTransport: Transport = createNodeTransport();
