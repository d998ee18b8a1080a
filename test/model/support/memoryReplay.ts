import { SimulatedClock } from 'xstate';
import { expect } from 'vitest';
import { type Connection, createConnection, createManualEnvironment } from '../../../src/index.js';
import { type ConnectionPath, type ConnectionPathStep, PATH_VARIANTS, type PathEvent } from '../../../src/testing/paths.js';
import { type MemoryPeer, createMemoryTransport } from '../../../src/transports/memory.js';
import type { SocketSink, Transport } from '../../../src/transports/types.js';
import type { Coverage } from './coverage.js';
import { KNOWN_BUGS, type StepEvents, emptyStepEvents, expectedEvents, normalize } from './expect.js';

/** Timers waiting on a SimulatedClock (its map is private in the declarations, public at run time). */
export function pendingTimers(clock: SimulatedClock): number {
  return (clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size;
}

/** Lets promise chains (the URL provider, the token provider) run; no time passes on the clock. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A manual environment that also counts its subscribers, so a test can see the connection let go of it. */
export function countedEnvironment() {
  const env = createManualEnvironment(true);
  let subscribers = 0;
  return {
    ...env,
    get subscribers() {
      return subscribers;
    },
    source: {
      isOnline: env.source.isOnline,
      subscribe(listener: Parameters<typeof env.source.subscribe>[0]) {
        subscribers++;
        const stop = env.source.subscribe(listener);
        let stopped = false;
        return () => {
          if (!stopped) subscribers--;
          stopped = true;
          stop();
        };
      },
    },
  };
}

/** A memory transport that also keeps each socket's sink, so a test can report an error without a close. */
export function sinkedMemoryTransport() {
  const memory = createMemoryTransport({ canPing: true });
  const sinks = new Map<MemoryPeer, SocketSink>();
  const transport: Transport = {
    ...memory.transport,
    open(request, sink) {
      const socket = memory.transport.open(request, sink);
      sinks.set(memory.last as MemoryPeer, sink);
      return socket;
    },
  };
  return { memory, sinks, transport };
}

/** Records the facade's events into the current step's bucket. */
export function recordStepEvents(conn: Connection): { take(): StepEvents } {
  let current = emptyStepEvents();
  conn.addEventListener('statechange', (e) => current.statechanges.push({ from: e.from, to: e.to }));
  conn.addEventListener('open', () => current.opens++);
  conn.addEventListener('close', (e) => current.closes.push({ code: e.code, closedBy: e.closedBy?.kind }));
  conn.addEventListener('error', () => current.errors++);
  conn.addEventListener('reconnecting', () => current.reconnecting++);
  conn.addEventListener('giveup', () => current.giveups++);
  return {
    take() {
      const taken = current;
      current = emptyStepEvents();
      return taken;
    },
  };
}

export interface ReplayResult {
  /** Known bugs (KNOWN_BUGS keys) the replay met, deviating exactly as described. */
  bugs: Set<string>;
}

/**
 * Replays `path` on a real `Connection` over the memory transport, with a `SimulatedClock` for every timer and a
 * manual environment for the network: at every step, the state, readyState, full state value and the events the
 * facade fired must be those of the path. Then closes and checks that nothing is left running.
 */
export async function replayOnMemory(path: ConnectionPath, coverage: Coverage): Promise<ReplayResult> {
  const bugs = new Set<string>();
  const variant = PATH_VARIANTS[path.variant];
  const { memory, sinks, transport } = sinkedMemoryTransport();
  const clock = new SimulatedClock();
  const env = countedEnvironment();
  let failNext = false;
  const url = () => {
    if (!failNext) return 'ws://model.test/';
    failNext = false;
    return 'ftp://invalid.test/'; // the URL provider's mistake: the attempt fails with SOCKET.FAIL
  };
  const conn = createConnection(url, { ...variant.options, transport, clock, environment: env.source, inspect: coverage.inspect });
  const events = recordStepEvents(conn);
  const peer = () => {
    const last = memory.last;
    if (!last) throw new Error('No socket was opened yet');
    return last;
  };

  const drive: Record<string, (event: PathEvent, step: ConnectionPathStep) => void> = {
    CONNECT: () => conn.open(),
    RECONNECT: () => conn.reconnect(),
    CLOSE: (e) => conn.close((e as { code: number }).code, (e as { reason: string }).reason),
    RETRY: () => env.becameVisible(),
    'NETWORK.OFFLINE': () => env.setOnline(false),
    'NETWORK.ONLINE': () => env.setOnline(true),
    'SOCKET.OPEN': () => peer().accept(),
    'SOCKET.ERROR': (e) => sinks.get(peer())!.onError((e as { error: Error }).error),
    'SOCKET.FAIL': () => {}, // armed before the step that started the attempt (the URL provider runs then)
    'SOCKET.CLOSE': (e) => {
      const { code, reason } = e as { code: number; reason: string };
      if (conn.state === 'closing') peer().completeClose();
      else peer().close(code, reason);
    },
    'AUTH.OK': () => peer().message(JSON.stringify({ type: 'auth_ok' })),
    'AUTH.FAIL': () => peer().message(JSON.stringify({ type: 'auth_error' })),
    PONG: () => peer().pong(),
    'SERVER.MESSAGE': () => peer().message(JSON.stringify({ type: 'news' })),
  };

  let prev = conn.state;
  expect(prev).toBe('idle');
  const where = (i: number) => `step ${i + 1} of ${path.id} (${path.description})`;
  for (const [i, step] of path.steps.entries()) {
    const next = path.steps[i + 1];
    if (next?.event.type === 'SOCKET.FAIL') failNext = true;
    if (step.event.type !== 'SOCKET.FAIL') expect(conn.state, `nothing moved the chart before ${where(i)}`).toBe(prev);
    if (step.event.type.startsWith('xstate.after.')) clock.increment(step.advance as number);
    else {
      const run = drive[step.event.type];
      if (!run) throw new Error(`No way to drive ${step.event.type} over the memory transport: teach replayOnMemory`);
      run(step.event, step);
    }
    // The attempt's socket is created once its (async) URL provider answered; a failing one fails then.
    if (step.event.type === 'SOCKET.FAIL' || next?.event.type !== 'SOCKET.FAIL') await settle();
    expect(conn.state, where(i)).toBe(step.state);
    expect(conn.readyState, where(i)).toBe(step.readyState);
    expect(conn.actor.getSnapshot().value, where(i)).toEqual(step.value);
    const actual = normalize(events.take());
    const expected = expectedEvents(prev, step);
    const bug = step.transitions.find((key) => key in KNOWN_BUGS);
    if (bug && KNOWN_BUGS[bug]!.deviates(expected, actual)) bugs.add(bug);
    else expect(actual, `events of ${where(i)}`).toEqual(expected);
    if (step.state === 'closed' && prev !== 'closed') {
      expect(conn.closedBy?.kind, where(i)).toBe(expected.closes[0]?.closedBy);
      expect(step.closedBy, where(i)).toBe(conn.closedBy?.kind);
    }
    prev = step.state;
  }

  // Whatever the path left, close() ends the session and leaves no timer, socket or environment listener.
  conn.close();
  if (conn.state === 'closing') peer().completeClose();
  expect(conn.state).toBe('closed');
  expect(pendingTimers(clock), 'timers left after close').toBe(0);
  expect(env.subscribers, 'environment listeners left after close').toBe(0);
  for (const p of memory.peers) expect(p.state === 'closed' || p.terminated, 'a socket left open after close').toBe(true);
  return { bugs };
}
