/**
 * Replays a generated path (`connectionPaths()`) on a real `Connection`, so an app checks what it shows at every
 * step of every way the chart can go. Browser-safe: the memory transport, a `SimulatedClock` and a manual
 * environment are all it needs (the loopback mode, over a real socket, is in replayLoopback.ts).
 */
import { SimulatedClock } from 'xstate';
import { type ClosedKind } from '../../machines/connection.js';
import { Connection } from '../connection.js';
import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
import type { ConnectionClock, ConnectionOptions } from '../options.js';
import { type EnvironmentSource, createManualEnvironment } from '../policies/environment.js';
import { type MemoryPeer, createMemoryTransport } from '../transports/memory.js';
import type { Transport } from '../transports/types.js';
import { type ConnectionPath, type ConnectionPathStep, PATH_VARIANTS, type PathEvent } from './paths.js';

/** What the replayer provides itself: a path only holds with its own clock, network and server. */
const OWNED_OPTIONS = ['transport', 'clock', 'environment', 'startClosed'] as const;

/** Connection options a replay accepts: anything but what the replayer drives. */
export type ReplayConnectionOptions<In = unknown, Out = SendData> = Omit<ConnectionOptions<In, Out>, (typeof OWNED_OPTIONS)[number]>;

export interface ReplayOptions<In = unknown, Out = SendData> {
  /**
   * Merged over the path variant's options (`PATH_VARIANTS[path.variant].options`; one level deep for `backoff`,
   * `auth` and `heartbeat` objects): your codec, schema, `inspect`, queue... An option that changes what the
   * chart does (timeouts, retries, close codes) makes the path's expectations wrong, and the replay says where.
   * `transport`, `clock`, `environment` and `startClosed` are the replayer's own and are refused.
   * @default {}
   */
  connection?: ReplayConnectionOptions<In, Out>;
  /** Called once the connection exists, in `idle`, before the first step: mount the component you test here. */
  onStart?: (conn: Connection<In, Out>) => void | Promise<void>;
  /**
   * Called after each step, once the connection is in the step's state (already checked): your app's
   * assertions. A throw or rejection ends the replay with that error, its message prefixed with where it
   * happened. It must not move the connection itself (the next step checks that nothing did).
   */
  onStep?: (conn: Connection<In, Out>, step: ConnectionPathStep, index: number) => void | Promise<void>;
}

/** A replay found the connection somewhere the path did not expect (or cleaning up found something left running). */
export class PathReplayError extends Error {
  override readonly name = 'PathReplayError';
  constructor(
    message: string,
    /** The path's id (`plain/shortest/12`). */
    readonly pathId: string,
    /** The step's index in `path.steps` (0-based, as `onStep` gets it), or -1 for the cleanup after the last. */
    readonly index: number,
  ) {
    super(message);
  }
}

// ---- shared by both modes --------------------------------------------------------------------------------------

export function checkReplayArgs(fn: string, path: unknown, options: unknown): void {
  const p = path as Partial<ConnectionPath> | null;
  if (typeof p !== 'object' || p === null || typeof p.id !== 'string' || !Array.isArray(p.steps) || typeof p.variant !== 'string') {
    throw invalidOption(`${fn}(path)`, 'a path from connectionPaths() ({ id, variant, steps, ... })', path);
  }
  if (!Object.hasOwn(PATH_VARIANTS, p.variant)) throw invalidOption(`${fn}(path).variant`, `one of ${Object.keys(PATH_VARIANTS).join(', ')}`, p.variant);
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw invalidOption(`${fn}(path, options)`, 'an object { connection?, onStart?, onStep? }', options);
  const { connection, onStart, onStep } = options as Record<string, unknown>;
  if (onStart !== undefined && typeof onStart !== 'function') throw invalidOption('onStart', 'a function (conn) => void', onStart);
  if (onStep !== undefined && typeof onStep !== 'function') throw invalidOption('onStep', 'a function (conn, step, index) => void', onStep);
  if (connection === undefined) return;
  if (typeof connection !== 'object' || connection === null) throw invalidOption('connection', 'an object of connection options', connection);
  for (const key of OWNED_OPTIONS) {
    if (key in connection) {
      throw invalidOption(`connection.${key}`, `nothing: the replay provides its own ${key} (the path's steps depend on it); leave it out`, (connection as Record<string, unknown>)[key]);
    }
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/** The variant's options with the user's over them; nested option objects merged one level. */
export function replayOptions(path: ConnectionPath, user: object | undefined): ConnectionOptions<unknown, unknown> {
  const merged: Record<string, unknown> = { ...PATH_VARIANTS[path.variant].options };
  for (const [key, value] of Object.entries(user ?? {})) {
    const base = merged[key];
    merged[key] = isPlainObject(base) && isPlainObject(value) ? { ...base, ...value } : value;
  }
  return merged as ConnectionOptions<unknown, unknown>;
}

/** driveAppStep's answer for a step only the socket's peer can produce. */
export const SOCKET_STEP = Symbol('socket step');

/**
 * Produces a step the app or its environment makes (calls, network, visibility, the retryWait hook): the same over
 * memory and over loopback. SOCKET_STEP for the others, which each replay produces its own way.
 */
export function driveAppStep(
  event: PathEvent,
  conn: Connection<unknown, unknown>,
  env: ReturnType<typeof countingEnvironment>,
  retryWait: ReturnType<typeof controlledRetryWait>,
): void | Promise<void> | typeof SOCKET_STEP {
  const e = event as { type: string; code: number; reason: string; error: Error };
  switch (e.type) {
    case 'CONNECT':
      return conn.open();
    case 'RECONNECT':
      return conn.reconnect();
    case 'CLOSE':
      return conn.close(e.code, e.reason);
    case 'PAGE.VISIBLE':
      return env.becameVisible();
    case 'xstate.done.actor.retryWait':
      return retryWait.end(conn, null);
    case 'xstate.error.actor.retryWait':
      return retryWait.end(conn, e.error);
    case 'NETWORK.OFFLINE':
      return env.setOnline(false);
    case 'NETWORK.ONLINE':
      return env.setOnline(true);
    default:
      return SOCKET_STEP;
  }
}

/**
 * A `retryWait` hook the replay ends when a step says so (`done retryWait` / `error retryWait`), standing in for
 * the variant's (or the app's) hook.
 */
export function controlledRetryWait() {
  let current: { resolve(): void; reject(error: Error): void } | null = null;
  return {
    hook: () =>
      new Promise<void>((resolve, reject) => {
        current = { resolve, reject };
      }),
    /** Ends the wait (with `error`: fails it) and resolves once the chart has left the backoff. */
    end(conn: Connection<unknown, unknown> | Connection<never, never>, error: Error | null): Promise<void> {
      const wait = current;
      current = null;
      if (wait === null) throw new Error('no retryWait is pending (is the connection in reconnecting.backoff?)');
      const left = new Promise<void>((resolve) => {
        const sub = (conn as Connection<unknown, unknown>).actor.subscribe((snapshot) => {
          if (!snapshot.matches({ reconnecting: 'backoff' })) {
            sub.unsubscribe();
            resolve();
          }
        });
      });
      if (error) wait.reject(error);
      else wait.resolve();
      return left;
    },
  };
}

/** A `SimulatedClock` that counts its pending timers, so the cleanup can tell whether any outlived the connection. */
export function countingClock() {
  const clock = new SimulatedClock();
  const pending = new Set<number>();
  const counted: ConnectionClock & { now(): number } = {
    setTimeout(fn: (...args: unknown[]) => void, ms: number) {
      const id = clock.setTimeout(() => {
        pending.delete(id);
        fn();
      }, ms);
      pending.add(id);
      return id;
    },
    clearTimeout(id: unknown) {
      pending.delete(id as number);
      clock.clearTimeout(id as number);
    },
    now: () => clock.now(),
  };
  return {
    clock: counted,
    advance: (ms: number) => clock.increment(ms),
    get pending() {
      return pending.size;
    },
  };
}

/** A manual environment that counts its subscribers, so the cleanup can tell whether the connection let go. */
export function countingEnvironment() {
  const env = createManualEnvironment(true);
  let subscribers = 0;
  const source: EnvironmentSource = {
    isOnline: env.source.isOnline,
    subscribe(listener) {
      subscribers++;
      const stop = env.source.subscribe(listener);
      let stopped = false;
      return () => {
        if (!stopped) subscribers--;
        stopped = true;
        stop();
      };
    },
  };
  return { ...env, source, subscribers: () => subscribers };
}

export function describeStep(step: ConnectionPathStep): string {
  const event = step.event as { type: string; code?: number };
  if (step.timer) return `after ${step.timer}`;
  return event.type === 'SOCKET.CLOSE' ? `SOCKET.CLOSE(${event.code})` : event.type;
}

export function where(path: ConnectionPath, index: number): string {
  if (index < 0) return `path ${path.id} (${path.description}), after its last step`;
  return `path ${path.id} (${path.description}), step index ${index} (${describeStep(path.steps[index]!)}, ${index + 1} of ${path.steps.length})`;
}

/** The first way `conn` differs from `step`, or null. */
export function mismatch(conn: Connection<unknown, unknown>, step: ConnectionPathStep): string | null {
  if (conn.state !== step.state) return `conn.state is '${conn.state}', the path expects '${step.state}'`;
  if (conn.readyState !== step.readyState) return `conn.readyState is ${conn.readyState}, the path expects ${step.readyState}`;
  if (step.state === 'closed') {
    const kind: ClosedKind | undefined = conn.closedBy?.kind;
    if (kind !== step.closedBy) return `conn.closedBy.kind is '${String(kind)}', the path expects '${String(step.closedBy)}'`;
  }
  const value = JSON.stringify(conn.actor.getSnapshot().value);
  if (value !== JSON.stringify(step.value)) return `the chart's state value is ${value}, the path expects ${JSON.stringify(step.value)}`;
  return null;
}

/** Runs the user's callback; what it throws names the path and step. */
export async function runHook(path: ConnectionPath, index: number, hook: () => void | Promise<void>): Promise<void> {
  try {
    await hook();
  } catch (error) {
    if (error instanceof Error) {
      const prefix = `${where(path, index)}: `;
      if (!error.message.startsWith(prefix)) error.message = prefix + error.message;
    }
    throw error;
  }
}

export const AUTH_OK = JSON.stringify({ type: 'auth_ok' });
export const AUTH_ERROR = JSON.stringify({ type: 'auth_error' });
/** What a `SERVER.MESSAGE` step delivers: an application message, which also proves the connection alive. */
export const SERVER_MESSAGE = JSON.stringify({ type: 'replay.message' });

// ---- over the memory transport ---------------------------------------------------------------------------------

/**
 * Replays `path` on a real `Connection` (memory transport, `SimulatedClock`, manual environment, the options of
 * `PATH_VARIANTS[path.variant]` with `options.connection` over them). After each step it checks `conn.state`,
 * `conn.readyState`, the chart's full state value and, in `closed`, `conn.closedBy.kind`, then awaits
 * `options.onStep(conn, step, index)`. Finally it closes the connection and checks that no timer, socket or
 * environment listener outlived it. Resolves to nothing (so a test can return it); rejects with a
 * `PathReplayError` naming the path, the step index and the difference.
 *
 * ```ts
 * it.each(connectionPaths().map((p) => [p.id, p]))('%s', (_id, path) =>
 *   replayPath(path, { onStep: (conn, step) => expect(statusText(conn)).toBe(expected[step.state]) }));
 * ```
 */
export async function replayPath<In = unknown, Out = SendData>(path: ConnectionPath, options: ReplayOptions<In, Out> = {}): Promise<void> {
  checkReplayArgs('replayPath', path, options);
  const memory = createMemoryTransport();
  const time = countingClock();
  const env = countingEnvironment();

  // Each attempt's URL waits for the step that needs its socket: the socket opens (or fails to) exactly there,
  // whichever option makes the connection's URL asynchronous (auth tokens do).
  let waiting: ((url: string) => void) | null = null;
  const url = () =>
    new Promise<string>((resolve) => {
      releaseUrl(); // an attempt left before its socket existed: nothing waits for it
      waiting = resolve;
    });
  /** Lets the current attempt open its socket; false if it already has. */
  const releaseUrl = (): boolean => {
    const go = waiting;
    waiting = null;
    go?.('ws://replay.test/');
    return go !== null;
  };
  let opened: (() => void) | null = null;
  const transport: Transport = {
    ...memory.transport,
    open(request, sink) {
      try {
        return memory.transport.open(request, sink);
      } finally {
        opened?.();
      }
    },
  };
  const openCalled = () => new Promise<void>((resolve) => (opened = resolve));
  const socket = async (): Promise<MemoryPeer> => {
    if (waiting) {
      const peer = memory.waitForPeer();
      releaseUrl();
      return peer;
    }
    const last = memory.last;
    if (!last) throw new Error('no socket was opened yet');
    return last;
  };

  const retryWait = controlledRetryWait();
  const replayed = replayOptions(path, options.connection);
  if (replayed.retryWait) replayed.retryWait = retryWait.hook;
  const conn = new Connection<In, Out>(
    url,
    { ...replayed, transport, clock: time.clock, environment: env.source } as ConnectionOptions<In, Out>,
    transport,
  );
  const fail = (index: number, message: string): never => {
    throw new PathReplayError(`${where(path, index)}: ${message}`, path.id, index);
  };

  const drive = async (event: PathEvent, step: ConnectionPathStep): Promise<void> => {
    const app = driveAppStep(event, conn as Connection<unknown, unknown>, env, retryWait);
    if (app !== SOCKET_STEP) return app;
    const e = event as { type: string; code: number; reason: string; error: Error };
    switch (e.type) {
      case 'SOCKET.OPEN':
        return (await socket()).accept();
      case 'SOCKET.ERROR':
        return (await socket()).error(e.error);
      case 'SOCKET.FAIL': {
        if (!waiting) throw new Error('SOCKET.FAIL needs an attempt whose socket is not open yet');
        memory.failNextOpen(e.error);
        const called = openCalled();
        releaseUrl();
        return called;
      }
      case 'SOCKET.CLOSE':
        if (conn.state === 'closing') return (await socket()).completeClose();
        return (await socket()).close(e.code, e.reason);
      case 'AUTH.OK':
        return (await socket()).message(AUTH_OK);
      case 'AUTH.FAIL':
        return (await socket()).message(AUTH_ERROR);
      case 'PONG': {
        const peer = await socket();
        return peer.pong(peer.lastPing);
      }
      case 'SERVER.MESSAGE':
        return (await socket()).message(SERVER_MESSAGE);
      default:
        if (e.type.startsWith('xstate.after.') && typeof step.advance === 'number') return time.advance(step.advance);
        throw new Error(`no way to produce ${e.type} over the memory transport (a newer chart than this replayer?)`);
    }
  };

  try {
    if (options.onStart) await runHook(path, 0, () => options.onStart!(conn));
    let before = conn.state;
    for (const [index, step] of path.steps.entries()) {
      if (conn.state !== before) fail(index, `the connection moved from '${before}' to '${conn.state}' before the step (did onStep or onStart drive it?)`);
      try {
        await drive(step.event, step);
      } catch (error) {
        if (error instanceof PathReplayError) throw error;
        fail(index, `could not produce the step: ${error instanceof Error ? error.message : String(error)}`);
      }
      const wrong = mismatch(conn as Connection<unknown, unknown>, step);
      if (wrong) fail(index, wrong);
      if (options.onStep) await runHook(path, index, () => options.onStep!(conn, step, index));
      before = step.state;
    }
  } finally {
    // Whatever the path left (or wherever it failed), close() ends the session.
    conn.close();
    if (conn.state === 'closing') memory.last?.completeClose();
    releaseUrl();
  }
  // Reached only when every step held: then nothing may outlive the connection.
  const left: string[] = [];
  if (conn.state !== 'closed') left.push(`the connection is '${conn.state}' after close()`);
  if (time.pending > 0) left.push(`${time.pending} timer(s) still scheduled`);
  if (env.subscribers() > 0) left.push(`${env.subscribers()} environment listener(s) still subscribed`);
  const live = memory.peers.filter((p) => p.state !== 'closed' && !p.terminated).length;
  if (live > 0) left.push(`${live} socket(s) still open`);
  if (left.length > 0) fail(-1, `after close(): ${left.join(', ')}`);
}
