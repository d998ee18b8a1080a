import type { ClientOptions } from 'ws';
import WebSocket from 'ws';
import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
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
   * connection reports as its close code (unclean) and treats as fatal by default (no reconnect loop).
   * @default 104857600 (100 MiB, the ws default)
   */
  maxPayload?: number;
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
/** Set when ws failed the connection over a message bigger than `maxPayload`. */
const TOO_BIG = Symbol('socketchart.tooBig');

interface WsSocket extends WebSocket {
  [SINK]: SocketSink;
  [BINARY]: BinaryType;
  [TOO_BIG]?: true;
}

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
  if ((error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') (this as WsSocket)[TOO_BIG] = true;
  (this as WsSocket)[SINK].onError(error);
}

function handleClose(this: WebSocket, code: number, reason: Buffer): void {
  const ws = this as WsSocket;
  // ws sent 1009 but stopped reading, so it reports 1006: say why, so the chart treats it as the fatal 1009 it is
  // (the same message would come again after a reconnect).
  if (code === 1006 && ws[TOO_BIG]) {
    ws[SINK].onClose({ code: 1009, reason: 'Message too big (over maxPayload)', wasClean: false });
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

function checkNodeTransportOptions(options: NodeTransportOptions): void {
  if (typeof options !== 'object' || options === null) throw invalidOption('createNodeTransport(options)', 'an object', options);
  for (const name of ['handshakeTimeout', 'maxPayload'] as const) {
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
  const base: ClientOptions = {
    ...options.wsOptions,
    ...options.tls,
    perMessageDeflate: options.perMessageDeflate ?? false,
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
      return new NodeSocket(ws);
    },
  };
}

/** The Node transport with default options. */
export const nodeTransport: Transport = createNodeTransport();
