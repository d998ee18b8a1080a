/**
 * The headline delivery scenario (issue 7): N messages each way at about `rate` per ms while the server kills
 * every TCP connection every `killEvery` ms; then count, per direction, what arrived, what arrived twice or out of
 * order, what was reported as not delivered, and what vanished without a trace. Used by test/delivery and by
 * scripts/soak.ts (the full 20,000-message run).
 */
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { atLeastOnce } from '../../src/delivery/index.js';
import type { Connection, Transport, TransportSocket } from '../../src/index.js';
import { createConnection } from '../../src/node.js';
import { type AckServerStats, type AckSession, attachAckServer } from '../../src/server/index.js';

export interface KillScenarioOptions {
  /** Messages each way. */
  messages: number;
  /** Ms between kills of every TCP connection (server side `terminate()`). */
  killEvery: number;
  mode: 'acked' | 'plain';
  /** Messages per ms each way. @default 1 */
  rate?: number;
  /** Ms to wait, after the last send, for everything to arrive. @default 10000 (plain: 1000, then it counts) */
  drainTimeout?: number;
  /**
   * Plain mode: the client uses a transport that passes a callback to ws's `send` and counts the writes it reports
   * as failed, to see how many silent losses such a callback would turn into reported ones.
   */
  sendCallbacks?: boolean;
}

export interface DirectionFigures {
  sent: number;
  /** Distinct messages that arrived. */
  delivered: number;
  /** Arrivals of a message that had arrived before. */
  duplicates: number;
  /** Arrivals with a lower index than an earlier arrival. */
  outOfOrder: number;
  /** Reported as not delivered (client `drop` events; server: no socket, or a failed send callback). */
  reportedDrops: number;
  /** Of those, the ones that arrived after all (plain mode's 'unconfirmed' reports say "may not have arrived"). */
  reportedButDelivered: number;
  /** Neither delivered nor reported: gone without any signal. */
  silentlyLost: number;
}

export interface KillScenarioResult {
  mode: 'acked' | 'plain';
  ms: number;
  kills: number;
  opens: number;
  clientToServer: DirectionFigures;
  serverToClient: DirectionFigures;
  /** Acked mode: the server helper's counters (duplicates skipped, messages replayed, resumes). */
  server?: AckServerStats;
  /** Plain mode with `sendCallbacks`: client writes ws reported as failed through the send callback. */
  clientSendCallbackErrors?: number;
}

class Tally {
  readonly seen: Uint8Array;
  /** Indices reported as not delivered (each at most once counted). */
  readonly reported: Uint8Array;
  reports = 0;
  /** Distinct indices delivered or reported. */
  accounted = 0;
  delivered = 0;
  duplicates = 0;
  outOfOrder = 0;
  #last = -1;
  constructor(n: number) {
    this.seen = new Uint8Array(n);
    this.reported = new Uint8Array(n);
  }
  report(i: number): void {
    this.reports++;
    if (!this.reported[i] && !this.seen[i]) this.accounted++;
    this.reported[i] = 1;
  }
  figures(): DirectionFigures {
    let reportedButDelivered = 0;
    let silentlyLost = 0;
    for (let i = 0; i < this.seen.length; i++) {
      if (this.reported[i] && this.seen[i]) reportedButDelivered++;
      if (!this.reported[i] && !this.seen[i]) silentlyLost++;
    }
    return {
      sent: this.seen.length,
      delivered: this.delivered,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      reportedDrops: this.reports,
      reportedButDelivered,
      silentlyLost,
    };
  }
  add(text: string, prefix: string): void {
    const i = Number(text.slice(prefix.length));
    if (!text.startsWith(prefix) || !Number.isInteger(i) || i < 0 || i >= this.seen.length) throw new Error(`unexpected message ${text}`);
    if (this.seen[i]) this.duplicates++;
    else {
      if (!this.reported[i]) this.accounted++;
      this.seen[i] = 1;
      this.delivered++;
    }
    if (i < this.#last) this.outOfOrder++;
    this.#last = i;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Calls `send(i)` for i = 0..n-1 at about `rate` per ms (in batches: timers have 1 ms granularity). */
function pace(n: number, rate: number, send: (i: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    let i = 0;
    const tick = () => {
      const due = Math.min(n, Math.floor((performance.now() - start) * rate) + 1);
      while (i < due) send(i++);
      if (i >= n) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
}

/**
 * A minimal ws transport whose writes pass ws a callback: a write ws reports as failed is counted. (The library's
 * node transport writes without a callback.)
 */
function callbackTransport(counter: { errors: number }): Transport {
  return {
    name: 'ws-send-callbacks',
    defaultBinaryType: 'nodebuffer',
    binaryTypes: ['nodebuffer'],
    supportsHeaders: true,
    canPing: true,
    open(request, sink): TransportSocket {
      const ws = new WebSocket(request.url, request.protocols, { perMessageDeflate: false, ...(request.headers ? { headers: request.headers } : {}) });
      ws.on('open', () => sink.onOpen({ protocol: ws.protocol, extensions: ws.extensions }));
      ws.on('message', (data, isBinary) => sink.onMessage(isBinary ? data : data.toString()));
      ws.on('error', (error) => sink.onError(error));
      ws.on('close', (code, reason) => sink.onClose({ code, reason: reason.toString(), wasClean: code !== 1006 }));
      ws.on('pong', (data) => sink.onPong?.(data));
      return {
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        binaryType: 'nodebuffer',
        send(data) {
          if (ws.readyState !== WebSocket.OPEN) return false;
          ws.send(data as Buffer, (error) => {
            if (error) counter.errors++;
          });
          return true;
        },
        close: (code, reason) => ws.close(code, reason),
        terminate() {
          ws.removeAllListeners();
          ws.on('error', () => {});
          ws.terminate();
        },
        ping: (data) => ws.ping(data),
      };
    },
  };
}

export async function runKillScenario(options: KillScenarioOptions): Promise<KillScenarioResult> {
  const { messages: n, killEvery, mode, rate = 1 } = options;
  const drainTimeout = options.drainTimeout ?? (mode === 'acked' ? 10_000 : 1_000);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;

  const atServer = new Tally(n);
  const atClient = new Tally(n);
  let opens = 0;
  let kills = 0;
  const callbackCounter = { errors: 0 };

  let session: AckSession | null = null;
  let sessionReady!: () => void;
  const haveSession = new Promise<void>((resolve) => (sessionReady = resolve));
  const plainSockets = new Set<WebSocket>();
  const ackServer =
    mode === 'acked'
      ? attachAckServer(wss, {
          onMessage: (_s, payload) => atServer.add(String(payload), 'c'),
          onSession: (s) => {
            session = s;
            sessionReady();
          },
        })
      : null;
  if (mode === 'plain') {
    wss.on('connection', (ws) => {
      plainSockets.add(ws);
      ws.on('close', () => plainSockets.delete(ws));
      ws.on('error', () => {});
      ws.on('message', (data) => atServer.add(data.toString(), 'c'));
      sessionReady();
    });
  }

  const conn: Connection = createConnection(url, {
    retryWait: () => Promise.resolve(),
    random: () => 0,
    queue: { maxMessages: Infinity, maxBytes: Infinity },
    ...(mode === 'acked' ? { delivery: atLeastOnce({ maxMessages: Infinity, maxBytes: Infinity }) } : {}),
    ...(mode === 'plain' && options.sendCallbacks ? { transport: callbackTransport(callbackCounter) } : {}),
  });
  conn.addEventListener('message', (e) => atClient.add(String(e.data), 's'));
  conn.addEventListener('drop', (e) => atServer.report(Number(String(e.data).slice(1))));
  conn.addEventListener('open', () => opens++);

  const killer = setInterval(() => {
    kills++;
    for (const ws of wss.clients) ws.terminate();
  }, killEvery);

  const start = performance.now();
  await conn.opened();
  await haveSession;
  const serverSend = (i: number) => {
    const text = `s${i}`;
    if (mode === 'acked') {
      if (!(session as AckSession | null)?.send(text)) atClient.report(i);
      return;
    }
    const [ws] = plainSockets;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      atClient.report(i);
      return;
    }
    ws.send(text, (error) => {
      if (error) atClient.report(i);
    });
  };
  await Promise.all([pace(n, rate, (i) => conn.send(`c${i}`)), pace(n, rate, serverSend)]);

  const deadline = performance.now() + drainTimeout;
  while (performance.now() < deadline) {
    const arrived = atServer.accounted >= n && atClient.accounted >= n;
    // Acked mode: also wait for the last acknowledgements, so that close() has nothing left to report.
    const settled = mode === 'plain' || (conn.bufferedAmount === 0 && (session as AckSession | null)?.pending.count === 0);
    if (arrived && settled) break;
    await sleep(5);
  }
  const ms = Math.round(performance.now() - start);
  clearInterval(killer);
  conn.close(); // plain mode: whatever is still queued is reported here
  ackServer?.close();
  for (const ws of wss.clients) ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));

  return {
    mode,
    ms,
    kills,
    opens,
    clientToServer: atServer.figures(),
    serverToClient: atClient.figures(),
    ...(ackServer ? { server: { ...ackServer.stats } } : {}),
    ...(options.sendCallbacks ? { clientSendCallbackErrors: callbackCounter.errors } : {}),
  };
}
