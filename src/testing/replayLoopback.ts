/**
 * The loopback mode of `replayPath`: the same path, on a real socket to a real `ws` server on 127.0.0.1
 * (`createTestServer`). Its transport events become what that server really does (held, accepted and refused
 * handshakes, close frames, dropped TCP connections, auth replies, pongs it answers or withholds, a close frame it
 * never answers); its timers are ticks of a `SimulatedClock`. Node only.
 */
import type { WebSocket } from 'ws';
import { Connection } from '../connection.js';
import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
import type { ConnectionOptions } from '../options.js';
import { nodeTransport } from '../transports/node.js';
import type { ConnectionPath, ConnectionPathStep, PathEvent } from './paths.js';
import {
  AUTH_ERROR,
  AUTH_OK,
  PathReplayError,
  type ReplayOptions,
  SERVER_MESSAGE,
  checkReplayArgs,
  countingClock,
  countingEnvironment,
  mismatch,
  SOCKET_STEP,
  controlledRetryWait,
  driveAppStep,
  replayOptions,
  runHook,
  where,
} from './replay.js';
import { createTestServer } from './testServer.js';

export interface LoopbackReplayOptions<In = unknown, Out = SendData> extends ReplayOptions<In, Out> {
  /**
   * Real time a step may take to reach the path's state over the socket before the replay fails there (the
   * sockets are real; the chart's timers still run on the simulated clock, so this only bounds a hang).
   * @default 5000
   */
  stepTimeout?: number;
}

export interface LoopbackReplayResult {
  /** The path's id. */
  path: string;
  /** How many steps were replayed. */
  replayed: number;
  /** Steps a real server cannot produce, in order, with why: skipped, without an `onStep` call. */
  skipped: Array<{ index: number; step: ConnectionPathStep; reason: string }>;
  /** Handshakes the real server accepted: one per `SOCKET.OPEN` step. */
  handshakes: number;
}

/** Why a real server cannot produce a step: the replay skips it and goes on (each such step leaves the state as is). */
const CANNOT: Readonly<Record<string, string>> = Object.freeze({
  'SOCKET.ERROR': 'a real socket reports an error only together with its close; the memory transport (replayPath) can report one alone',
});

/**
 * Replays `path` like `replayPath`, over a real socket: a `ws` test server on 127.0.0.1 (port 0) of its own, the
 * Node transport, a `SimulatedClock` and a manual environment. Steps a real server cannot produce (a socket error
 * without a close) are skipped and listed in `result.skipped`, with why; `onStep` is not called for them. Rejects
 * with a `PathReplayError` naming the path, the step index and the difference, as `replayPath` does.
 */
export async function replayPathOnLoopback<In = unknown, Out = SendData>(
  path: ConnectionPath,
  options: LoopbackReplayOptions<In, Out> = {},
): Promise<LoopbackReplayResult> {
  checkReplayArgs('replayPathOnLoopback', path, options);
  const { stepTimeout = 5_000 } = options;
  if (typeof stepTimeout !== 'number' || !(stepTimeout > 0)) throw invalidOption('stepTimeout', 'a number of milliseconds > 0', stepTimeout);
  const server = await createTestServer({ holdHandshakes: true, onMessage: () => {} });
  const time = countingClock();
  const env = countingEnvironment();
  const merged = replayOptions(path, options.connection);
  const retryWait = controlledRetryWait();
  if (merged.retryWait) merged.retryWait = retryWait.hook;

  // As over memory: each attempt's URL waits for the step that needs its socket. A bad one fails the attempt.
  let waiting: ((url: string) => void) | null = null;
  const url = () =>
    new Promise<string>((resolve) => {
      waiting?.(server.url('/replay'));
      waiting = resolve;
    });
  const releaseUrl = (to = server.url('/replay')): boolean => {
    const go = waiting;
    waiting = null;
    go?.(to);
    return go !== null;
  };
  const handshake = async (): Promise<boolean> => {
    if (!releaseUrl()) return false;
    await server.waitForHeld();
    return true;
  };
  const conn = new Connection<In, Out>(
    url,
    { ...merged, transport: nodeTransport, clock: time.clock, environment: env.source } as ConnectionOptions<In, Out>,
    nodeTransport,
  );
  const fail = (index: number, message: string): never => {
    throw new PathReplayError(`${where(path, index)}: ${message}`, path.id, index);
  };
  const newest = (): WebSocket => {
    const socket = [...server.sockets].at(-1);
    if (!socket) throw new Error('the server has no connection');
    return socket;
  };
  let messages = 0;
  conn.addEventListener('message', () => messages++);

  /** Resolves once `done()` holds, re-checked on every chart snapshot and inbound message; null when it does. */
  const until = (done: () => boolean, describe: () => string): Promise<string | null> => {
    if (done()) return Promise.resolve(null);
    return new Promise((resolve) => {
      let finished = false;
      const finish = (result: string | null) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        sub.unsubscribe();
        conn.removeEventListener('message', check);
        resolve(result);
      };
      // Snapshot observers run before the facade has taken the snapshot in (conn.state, closedBy): look just after.
      const check = () =>
        queueMicrotask(() => {
          if (done()) finish(null);
        });
      const timer = setTimeout(() => finish(`nothing got there within ${stepTimeout} ms: ${describe()}`), stepTimeout);
      const sub = conn.actor.subscribe(check);
      conn.addEventListener('message', check);
    });
  };

  const drive = async (event: PathEvent, step: ConnectionPathStep): Promise<void> => {
    const app = driveAppStep(event, conn as Connection<unknown, unknown>, env, retryWait);
    if (app !== SOCKET_STEP) return app;
    const e = event as { type: string; code: number; reason: string };
    switch (e.type) {
      case 'SOCKET.OPEN':
        await handshake();
        return server.acceptHeld();
      case 'SOCKET.FAIL':
        // The URL provider gives a URL no WebSocket can open: the attempt fails for good.
        if (!releaseUrl('ftp://replay.invalid/')) throw new Error('SOCKET.FAIL needs an attempt whose socket is not open yet');
        return;
      case 'SOCKET.CLOSE':
        if (conn.state === 'closing') return; // the server answers the close frame by itself
        if (await handshake()) return server.refuseHeld(503); // the client sees an error, then 1006
        if (e.code === 1006) return void newest().terminate();
        return newest().close(e.code, e.reason);
      case 'AUTH.OK':
        return newest().send(AUTH_OK);
      case 'AUTH.FAIL':
        return newest().send(AUTH_ERROR);
      case 'PONG': {
        // The server answers the probe's ping frame by itself: wait for its pong to end the probe.
        const probing = () => conn.actor.getSnapshot().matches({ attempt: { open: { heartbeat: 'probing' } } });
        const late = await until(() => !probing(), () => 'no pong arrived');
        if (late) throw new Error(late);
        return;
      }
      case 'SERVER.MESSAGE': {
        const before = messages;
        newest().send(SERVER_MESSAGE);
        const late = await until(() => messages > before, () => 'the server message did not arrive');
        if (late) throw new Error(late);
        return;
      }
      default:
        if (e.type.startsWith('xstate.after.') && typeof step.advance === 'number') return time.advance(step.advance);
        throw new Error(`no way to produce ${e.type} over loopback (a newer chart than this replayer?)`);
    }
  };

  const skipped: LoopbackReplayResult['skipped'] = [];
  try {
    if (options.onStart) await runHook(path, 0, () => options.onStart!(conn));
    let before = conn.state;
    for (const [index, step] of path.steps.entries()) {
      const next = path.steps[index + 1];
      if (conn.state !== before) fail(index, `the connection moved from '${before}' to '${conn.state}' before the step`);
      const cannot = CANNOT[step.event.type];
      if (cannot) {
        skipped.push({ index, step, reason: cannot });
        continue;
      }
      // Faults a later step needs from this one: no answer to the close frame (unless the step that ends `closing`,
      // after any that stay in it such as an open() made meanwhile, is that answer), no pong to the probe.
      const endsClosing = path.steps.slice(index + 1).find((later) => later.state !== 'closing');
      if (step.event.type === 'CLOSE' && step.state === 'closing' && endsClosing && endsClosing.event.type !== 'SOCKET.CLOSE') server.blackhole(true);
      if (step.timer === 'heartbeatInterval' && next?.event.type !== 'PONG') server.setAutoPong(false);
      try {
        await drive(step.event, step);
      } catch (error) {
        fail(index, `could not produce the step: ${error instanceof Error ? error.message : String(error)}`);
      }
      const late = await until(
        () => mismatch(conn as Connection<unknown, unknown>, step) === null,
        () => mismatch(conn as Connection<unknown, unknown>, step) ?? '',
      );
      if (late) fail(index, late);
      if (step.state !== 'closing') server.blackhole(false);
      if (!conn.actor.getSnapshot().matches({ attempt: { open: { heartbeat: 'probing' } } })) server.setAutoPong(true);
      if (options.onStep) await runHook(path, index, () => options.onStep!(conn, step, index));
      before = step.state;
    }
  } finally {
    conn.close();
    releaseUrl();
    server.blackhole(false);
    server.setAutoPong(true);
    // The server answers the close frame; a connection that has not heard it by the timeout gives up on it.
    if (conn.state === 'closing') {
      const late = await until(() => conn.state === 'closed', () => 'no answer to the close frame');
      if (late) time.advance((merged.closeTimeout as number | undefined) ?? 3_000);
    }
    await server.close();
  }
  const left: string[] = [];
  if (conn.state !== 'closed') left.push(`the connection is '${conn.state}' after close()`);
  if (time.pending > 0) left.push(`${time.pending} timer(s) still scheduled`);
  if (env.subscribers() > 0) left.push(`${env.subscribers()} environment listener(s) still subscribed`);
  if (left.length > 0) fail(-1, `after close(): ${left.join(', ')}`);
  return { path: path.id, replayed: path.steps.length - skipped.length, skipped, handshakes: server.accepted };
}
