/**
 * Shared pieces of the benchmark: the client kinds, the IPC message shapes between `run.ts` and its children, and
 * the 64-byte payload.
 */

/**
 * The clients compared, every one over the same `ws` package on Node:
 *   ws                      a bare `ws` client (the floor: no reconnect, no queue, no heartbeat)
 *   reconnecting-websocket  `new ReconnectingWebSocket(url, undefined, { WebSocket: ws })`
 *   partysocket             `new WebSocket(url, undefined, { WebSocket: ws })` from partysocket (its fork of it)
 *   socket.io               `io(url)` from socket.io-client against a socket.io server (event `echo`)
 *   socketchart             `createConnection(url)` from `src/node.ts`
 * Every option is the library's default except the `WebSocket` class where the library needs one on Node.
 */
export type ClientKind = 'ws' | 'reconnecting-websocket' | 'partysocket' | 'socket.io' | 'socketchart';
export const CLIENT_KINDS: readonly ClientKind[] = ['ws', 'reconnecting-websocket', 'partysocket', 'socket.io', 'socketchart'];

/** The kinds that reconnect by themselves (the bare ws client does not). */
export const RECONNECTING_KINDS: readonly ClientKind[] = ['reconnecting-websocket', 'partysocket', 'socket.io', 'socketchart'];

/** Kinds of the kill-every-second run: the reconnecting clients, plus socketchart with `delivery: atLeastOnce()`. */
export type KillKind = Exclude<ClientKind, 'ws'> | 'socketchart-acked';
export const KILL_KINDS: readonly KillKind[] = ['reconnecting-websocket', 'partysocket', 'socket.io', 'socketchart', 'socketchart-acked'];

/** Which server a kind talks to: a `ws` server, a socket.io server, or a `ws` server with `attachAckServer`. */
export type ServerProtocol = 'ws' | 'io' | 'ack';
export function protocolOf(kind: ClientKind | KillKind): ServerProtocol {
  return kind === 'socket.io' ? 'io' : kind === 'socketchart-acked' ? 'ack' : 'ws';
}

/** The URL a kind connects to on a server listening on `port`. */
export function urlFor(kind: ClientKind | KillKind, port: number): string {
  return `${protocolOf(kind) === 'io' ? 'http' : 'ws'}://127.0.0.1:${port}/`;
}

/**
 * Heap-only kinds, used to split socketchart's per-connection heap into its parts:
 * `socketchart-nosocket` is a whole `Connection` over a transport whose sockets are plain objects (no `ws`),
 * `actor` is a bare `createActor(connectionMachine)` started and driven to `open` with a stub host.
 * And the floors XState itself sets, whatever the machine (none of them opens a socket):
 * `xstate-trivial` is `createActor(createMachine({ initial: 'a', states: { a: {} } })).start()`: the least a started
 * actor costs (each with its own actor system), `xstate-trivial-child` the same with state `a` invoking a
 * `fromCallback` actor (the cost of one invoked child; socketchart's socket is one), and `xstate-shared-system` the
 * trivial actor created with `{ parent: root }` under one shared root actor (what a shared actor system would save).
 */
export type XStateFloorKind = 'xstate-trivial' | 'xstate-trivial-child' | 'xstate-shared-system';
export const XSTATE_FLOOR_KINDS: readonly XStateFloorKind[] = ['xstate-trivial', 'xstate-trivial-child', 'xstate-shared-system'];
export type HeapKind = ClientKind | 'socketchart-pooled' | 'socketchart-nosocket' | 'actor' | XStateFloorKind;

/** 64 bytes of ASCII: one text frame with a 64-byte payload. */
export const PAYLOAD = 'socketchart-bench-payload-0123456789abcdefghijklmnopqrstuvwxyz!?'.slice(0, 64);
if (PAYLOAD.length !== 64) throw new Error('payload must be 64 bytes');

/** parent -> CPU child */
export type CpuCommand = { type: 'run'; messages: number; window: number } | { type: 'stop' };

/** CPU child -> parent */
export type CpuReply =
  | { type: 'ready' }
  | {
      type: 'result';
      messages: number;
      window: number;
      userUs: number;
      systemUs: number;
      wallMs: number;
      /** window 1 only: median and 99th percentile of the per-message round trips, in µs */
      rttMedianUs?: number;
      rttP99Us?: number;
    }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

/** heap child -> parent */
export type HeapReply =
  | {
      type: 'result';
      kind: HeapKind;
      connections: number;
      heapBefore: number;
      heapAfter: number;
      externalBefore: number;
      externalAfter: number;
      openMs: number;
    }
  | { type: 'error'; message: string };

/** parent -> scenario child (reconnect and kill modes; the blackhole mode runs on its own) */
export type ScenarioCommand =
  /** reconnect: report once every connection has opened again after the server dropped them at `at` */
  | { type: 'measure'; at: number; timeoutMs: number }
  /** kill: start sending */
  | { type: 'go' }
  /** kill: how many messages the client reported as not delivered (socketchart `drop` events) so far */
  | { type: 'drops' }
  /** close everything and exit; the reply is `stopped` with the final drop count */
  | { type: 'stop' };

/** scenario child -> parent */
export type ScenarioReply =
  | { type: 'ready'; connections: number }
  | {
      type: 'reconnected';
      /** per connection: ms from the server's drop to the client's next open (null: not within the timeout) */
      reopenMs: Array<number | null>;
      /** per connection: ms from the server's drop to the client noticing it (sanity check of the shared clock) */
      noticeMs: Array<number | null>;
    }
  | { type: 'sent'; sent: number; ms: number }
  | { type: 'drops'; drops: number; droppedIds: number[]; opens: number; state: string }
  | {
      type: 'blackhole';
      connections: number;
      /** per connection: ms from the blackhole to the client noticing it, or null if it did not within `capMs` */
      detectMs: Array<number | null>;
      capMs: number;
    }
  | { type: 'stopped'; drops: number; dropReasons: Record<string, number>; droppedIds: number[]; state: string }
  | { type: 'error'; message: string };

export function send(message: CpuReply | HeapReply | ScenarioReply): void {
  // A parent that already stopped listening (it has what it needs) is not an error worth a crash report.
  if (!process.connected) return;
  process.send?.(message, undefined, undefined, () => undefined);
}

/** Resolves after `ms`, without keeping the process alive on its own. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Wall-clock time in ms with sub-ms resolution, comparable between the processes of one machine
 * (`performance.timeOrigin` is the process start on the system clock). Used to time a server-side drop against the
 * client's reopen in another process.
 */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The value at quantile q (0..1) of `values`, by linear interpolation; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}
