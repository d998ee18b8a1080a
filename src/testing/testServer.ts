import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { invalidOption } from '../errors.js';

export interface TestServerOptions {
  /**
   * What the server does with each message no `reply` rule answered; the default echoes it back.
   * @default echo
   */
  onMessage?: (socket: WebSocket, data: RawData, isBinary: boolean) => void;
  /**
   * Called for each accepted connection.
   * @default undefined
   */
  onConnection?: (socket: WebSocket, request: IncomingMessage) => void;
  /**
   * Subprotocol selection, as ws's `handleProtocols`.
   * @default the first offered
   */
  handleProtocols?: (protocols: Set<string>) => string | false;
  /**
   * Answer RFC 6455 ping frames with pongs. `false` lets a client's protocol heartbeat time out while everything
   * else still flows; `setAutoPong()` switches it at run time.
   * @default true
   */
  autoPong?: boolean;
  /**
   * Park every handshake until `acceptHeld()` or `refuseHeld()` (or `holdHandshakes(false)`): a test then decides
   * when each attempt opens, or lets the client's `connectTimeout` expire.
   * @default false
   */
  holdHandshakes?: boolean;
}

/** What a scripted reply matches: the exact text, a pattern, or a predicate over the text message. */
export type ReplyMatch = string | RegExp | ((text: string) => boolean);

/** A scripted answer: a text message, several, or a function of the message (undefined: no answer, echo instead). */
export type ReplyAnswer = string | readonly string[] | ((text: string, socket: WebSocket) => string | readonly string[] | undefined);

export interface ReplyOptions {
  /**
   * How many messages the rule answers before it removes itself.
   * @default Infinity
   */
  times?: number;
}

/**
 * A real `ws` server on 127.0.0.1, port 0, with the faults a connection must survive. Loopback only.
 */
export interface TestServer {
  readonly port: number;
  /** `ws://127.0.0.1:<port>` plus `path`. */
  url(path?: string): string;
  /** Sockets currently connected, oldest first. */
  readonly sockets: ReadonlySet<WebSocket>;
  /** Handshakes accepted since start. */
  readonly accepted: number;
  /** Every message received, in order, as text (binary as a Buffer). Held by a blackhole: received when it ends. */
  readonly received: Array<string | Buffer>;
  /** Resolves with the next accepted socket (or the newest if `count` were already accepted). */
  nextConnection(): Promise<WebSocket>;
  /** Kill every connection without a close frame (the client sees 1006). */
  dropAll(): void;
  /** Close every connection with a close frame. */
  closeAll(code: number, reason?: string): void;
  /** Answer the next `count` handshakes with an HTTP status instead of upgrading (the client sees error + 1006). */
  refuseNext(status: number, count?: number): void;
  /** Answer the next `count` handshakes only after `ms` (real time): a slow server, for `connectTimeout`. */
  delayNext(ms: number, count?: number): void;
  /** Park (true) or stop parking (false) new handshakes; stopping accepts none of those already held. */
  holdHandshakes(on?: boolean): void;
  /** Handshakes parked now. */
  readonly held: number;
  /** Resolves once at least `count` handshakes are parked. */
  waitForHeld(count?: number): Promise<void>;
  /** Complete the oldest `count` parked handshakes. */
  acceptHeld(count?: number): void;
  /** Answer the oldest `count` parked handshakes with an HTTP status. */
  refuseHeld(status: number, count?: number): void;
  /**
   * Let no byte through in either direction (true) while every TCP connection stays up: a dead NAT mapping or a
   * pulled cable; only a heartbeat notices it. Off (false): what was held is delivered in order to the sockets
   * still connected (as TCP retransmission does when a path heals), and bytes flow again. Applies to current and
   * new connections.
   */
  blackhole(on?: boolean): void;
  /**
   * Write a frame with a reserved opcode on every connection (or on `socket`), under ws. The client fails the
   * connection: it sends a close frame with 1002 and reports `error`, then `close` 1002 (the Node transport; fatal,
   * no retry) or 1006 (a browser, which hides the cause; retried).
   */
  sendMalformedFrame(socket?: WebSocket): void;
  /**
   * Answer text messages matching `match` with `answer` instead of `onMessage`; rules are tried in the order
   * added. Returns the function that removes the rule. E.g. `reply('{"type":"ping"}', '{"type":"pong"}')`.
   */
  reply(match: ReplyMatch, answer: ReplyAnswer, options?: ReplyOptions): () => void;
  /**
   * Answer socketchart's default auth message (`{"type":"auth","token":...}`) with `auth_ok` when `accept` says
   * so, else `auth_error`. Returns the function that removes the rule.
   */
  scriptAuth(accept?: boolean | ((token: string) => boolean), options?: ReplyOptions): () => void;
  /** Answer ping frames with pongs (true) or ignore them (false); see the `autoPong` option. */
  setAutoPong(on: boolean): void;
  /** Stop listening and drop every connection; the port stays reserved for `restart`. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

interface HeldHandshake {
  request: IncomingMessage;
  raw: Socket;
  head: Buffer;
}

interface ReplyRule {
  matches(text: string): boolean;
  answer: ReplyAnswer;
  left: number;
}

/** FIN + opcode 0xB (a reserved control opcode), no payload: invalid under RFC 6455 section 5.2. */
const MALFORMED_FRAME = Buffer.from([0x8b, 0x00]);

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;
type Write = (...args: unknown[]) => boolean;

/** Checked before anything listens: a bad option would otherwise throw inside a connection handler, later. */
function checkTestServerOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('createTestServer(options)', 'an object { onMessage?, onConnection?, handleProtocols?, autoPong?, holdHandshakes? }', options);
  }
  const o = options as Record<string, unknown>;
  for (const name of ['onMessage', 'onConnection', 'handleProtocols'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw invalidOption(name, 'a function', o[name]);
  }
  for (const name of ['autoPong', 'holdHandshakes'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') throw invalidOption(name, 'true or false', o[name]);
  }
}

export async function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  checkTestServerOptions(options);
  const wss = new WebSocketServer({
    noServer: true,
    // Pings are answered below, so the test can switch pongs off per server at run time.
    autoPong: false,
    handleProtocols: (protocols) => (options.handleProtocols ? options.handleProtocols(protocols) : ([...protocols][0] ?? false)),
  });
  const sockets = new Set<WebSocket>();
  const rawSockets = new Set<Socket>();
  const rawOf = new WeakMap<WebSocket, Socket>();
  const originalWrite = new WeakMap<Socket, Write>();
  const received: Array<string | Buffer> = [];
  const waiters: Array<(socket: WebSocket) => void> = [];
  const heldWaiters: Array<{ count: number; resolve: () => void }> = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let rules: ReplyRule[] = [];
  let refusals: Array<number> = [];
  let delays: Array<number> = [];
  let held: HeldHandshake[] = [];
  let holding = options.holdHandshakes ?? false;
  let swallowing = false; // the blackhole is on
  /** What the blackhole holds, both directions, in order. */
  let inBlackhole: Array<() => void> = [];
  let autoPong = options.autoPong ?? true;
  let accepted = 0;
  let port = 0;

  const onMessage =
    options.onMessage ?? ((socket: WebSocket, data: RawData, isBinary: boolean) => socket.send(data, { binary: isBinary }));

  function answered(socket: WebSocket, text: string): boolean {
    for (const rule of rules) {
      if (!rule.matches(text)) continue;
      const answer = typeof rule.answer === 'function' ? rule.answer(text, socket) : rule.answer;
      if (answer === undefined) continue;
      if (--rule.left <= 0) rules = rules.filter((r) => r !== rule);
      for (const message of typeof answer === 'string' ? [answer] : answer) socket.send(message);
      return true;
    }
    return false;
  }

  wss.on('connection', (socket, request) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('ping', (data) => {
      if (autoPong) socket.pong(data);
    });
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      received.push(text ?? Buffer.from(data as Buffer));
      if (text !== null && answered(socket, text)) return;
      onMessage(socket, data, isBinary);
    });
    options.onConnection?.(socket, request);
    waiters.shift()?.(socket);
  });

  /**
   * Lets `blackhole` hold this socket's bytes: reads are held before ws sees them, writes are held before they leave.
   * When the blackhole ends they go on, in order, if the socket is still there (TCP retransmits: a path that heals
   * delivers late, it never drops bytes from the middle of a stream).
   */
  function interceptable(raw: Socket): void {
    if (originalWrite.has(raw)) return;
    const emit = raw.emit as Emit;
    const write = raw.write as unknown as Write;
    originalWrite.set(raw, write);
    raw.emit = function (this: Socket, event: string | symbol, ...args: unknown[]) {
      // The peer's FIN ('end') is held too: a dead path carries no close either.
      if ((event === 'data' || event === 'end') && swallowing) {
        inBlackhole.push(() => !this.destroyed && emit.call(this, event, ...args));
        return true;
      }
      return emit.call(this, event, ...args);
    } as Socket['emit'];
    raw.write = function (this: Socket, ...args: unknown[]) {
      if (!swallowing) return write.apply(this, args);
      inBlackhole.push(() => {
        if (!this.destroyed) return write.apply(this, args);
        // Gone before the path healed: the write failed, as it would have.
        const callback = args[args.length - 1];
        if (typeof callback === 'function') (callback as (error: Error) => void)(new Error('socket destroyed in a blackhole'));
        return false;
      });
      return true;
    } as Socket['write'];
  }

  function upgrade(request: IncomingMessage, raw: Socket, head: Buffer): void {
    if (raw.destroyed) return;
    const status = refusals.shift();
    if (status !== undefined) {
      refuse(raw, status);
      return;
    }
    interceptable(raw);
    wss.handleUpgrade(request, raw, head, (socket) => {
      rawOf.set(socket, raw);
      wss.emit('connection', socket, request);
    });
  }

  function refuse(raw: Socket, status: number): void {
    raw.end(`HTTP/1.1 ${status} Refused by test\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  /** Parked handshakes whose client is still there. */
  function liveHeld(): HeldHandshake[] {
    held = held.filter((h) => !h.raw.destroyed && !h.raw.readableEnded);
    return held;
  }

  function notifyHeld(): void {
    for (const waiter of [...heldWaiters]) {
      if (liveHeld().length >= waiter.count) {
        heldWaiters.splice(heldWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  let http: Server = makeHttp();

  function makeHttp(): Server {
    const server = createServer((_req, res) => res.writeHead(426).end('WebSocket only'));
    server.on('connection', (raw) => {
      rawSockets.add(raw);
      raw.on('close', () => {
        rawSockets.delete(raw);
        held = held.filter((h) => h.raw !== raw);
      });
    });
    server.on('upgrade', (request, raw: Socket, head: Buffer) => {
      // The client may give up on a parked or delayed handshake: a reset then is no failure of the server.
      raw.on('error', () => {});
      const delay = delays.shift();
      if (delay !== undefined) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          upgrade(request, raw, head);
        }, delay);
        timers.add(timer);
        return;
      }
      if (holding) {
        held.push({ request, raw, head });
        notifyHeld();
        return;
      }
      upgrade(request, raw, head);
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
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    held = [];
    for (const raw of rawSockets) raw.destroy();
    // What a blackhole held dies with the sockets (their held write callbacks learn it).
    const inFlight = inBlackhole;
    inBlackhole = [];
    for (const deliver of inFlight) deliver();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  function takeHeld(count: number): HeldHandshake[] {
    const taken = liveHeld().slice(0, count);
    held = held.slice(count);
    return taken;
  }

  function reply(match: ReplyMatch, answer: ReplyAnswer, replyOptions: ReplyOptions = {}): () => void {
    const matches =
      typeof match === 'string' ? (text: string) => text === match : match instanceof RegExp ? (text: string) => match.test(text) : match;
    const rule: ReplyRule = { matches, answer, left: replyOptions.times ?? Infinity };
    rules = [...rules, rule];
    return () => {
      rules = rules.filter((r) => r !== rule);
    };
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
    delayNext(ms, count = 1) {
      delays = delays.concat(Array.from({ length: count }, () => ms));
    },
    holdHandshakes(on = true) {
      holding = on;
    },
    get held() {
      return liveHeld().length;
    },
    waitForHeld(count = 1) {
      if (liveHeld().length >= count) return Promise.resolve();
      return new Promise<void>((resolve) => heldWaiters.push({ count, resolve }));
    },
    acceptHeld(count = 1) {
      for (const h of takeHeld(count)) upgrade(h.request, h.raw, h.head);
    },
    refuseHeld(status, count = 1) {
      for (const h of takeHeld(count)) refuse(h.raw, status);
    },
    blackhole(on = true) {
      if (on) {
        swallowing = true;
        return;
      }
      // Still holding while it drains: whatever ws answers to a released read (a pong, an echo, a close frame) is
      // queued behind the writes that were held before it, never ahead of them.
      for (let i = 0; i < inBlackhole.length; i++) (inBlackhole[i] as () => void)();
      inBlackhole = [];
      swallowing = false;
    },
    sendMalformedFrame(socket) {
      for (const target of socket ? [socket] : sockets) {
        const raw = rawOf.get(target);
        const write = raw && originalWrite.get(raw);
        if (raw && write && !raw.destroyed) write.call(raw, MALFORMED_FRAME);
      }
    },
    reply,
    scriptAuth(accept = true, replyOptions = {}) {
      return reply(
        (text) => authToken(text) !== null,
        (text) => {
          const token = authToken(text) as string;
          const ok = typeof accept === 'function' ? accept(token) : accept;
          return JSON.stringify({ type: ok ? 'auth_ok' : 'auth_error' });
        },
        replyOptions,
      );
    },
    setAutoPong(on) {
      autoPong = on;
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

/** The token of socketchart's default auth message, or null for any other message. */
function authToken(text: string): string | null {
  if (!text.includes('"auth"')) return null;
  try {
    const message = JSON.parse(text) as { type?: unknown; token?: unknown };
    return message?.type === 'auth' ? String(message.token ?? '') : null;
  } catch {
    return null;
  }
}
