import { isDeepStrictEqual } from 'node:util';
import { SimulatedClock } from 'xstate';
import { expect } from 'vitest';
import { createConnection } from '../../../src/node.js';
import { createTestServer } from '../../../src/testing/index.js';
import { type ConnectionPath, type ConnectionPathStep, PATH_VARIANTS, type PathEvent } from '../../../src/testing/paths.js';
import type { WebSocket } from 'ws';
import type { Coverage } from './coverage.js';
import { KNOWN_BUGS, expectedEvents, normalize } from './expect.js';
import { countedEnvironment, pendingTimers, recordStepEvents } from './memoryReplay.js';

/** Events the loopback replay can cause with a real server; a path with any other is left to the memory replay. */
const DRIVABLE = new Set([
  'CONNECT',
  'RECONNECT',
  'CLOSE',
  'RETRY',
  'NETWORK.OFFLINE',
  'NETWORK.ONLINE',
  'SOCKET.OPEN',
  'SOCKET.CLOSE',
  'SOCKET.FAIL',
  'AUTH.OK',
  'AUTH.FAIL',
  'PONG',
  'SERVER.MESSAGE',
]);

export function drivableOnLoopback(path: ConnectionPath): boolean {
  return path.steps.every((step) => DRIVABLE.has(step.event.type) || step.event.type.startsWith('xstate.after.'));
}

/**
 * A representative subset: shortest paths first, each kept only if it takes a transition the kept ones do not,
 * so a few dozen paths take (almost) every transition the loopback server can cause.
 */
export function representative(paths: readonly ConnectionPath[], max: number): ConnectionPath[] {
  const taken = new Set<string>();
  const chosen: ConnectionPath[] = [];
  const candidates = paths.filter((p) => p.kind === 'shortest' && drivableOnLoopback(p)).sort((a, b) => a.steps.length - b.steps.length);
  for (const path of candidates) {
    if (chosen.length >= max) break;
    const keys = path.steps.flatMap((s) => s.transitions);
    if (keys.every((k) => taken.has(k))) continue;
    for (const k of keys) taken.add(k);
    chosen.push(path);
  }
  return chosen;
}

async function until(condition: () => boolean, what: () => string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what()}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Replays `path` on a real `Connection` over the Node transport against a server of its own (`createTestServer`,
 * holding handshakes, echoing nothing): each step becomes a server fault or reply, a user call, a network change
 * or a tick of the `SimulatedClock`, and the replay waits for the facade to reach the step's state.
 */
export async function replayOnLoopback(path: ConnectionPath, coverage: Coverage): Promise<{ accepted: number }> {
  const server = await createTestServer({ holdHandshakes: true, onMessage: () => {} });
  const variant = PATH_VARIANTS[path.variant];
  const clock = new SimulatedClock();
  const env = countedEnvironment();
  let failNext = false;
  const url = () => {
    if (!failNext) return server.url('/model');
    failNext = false;
    return 'ftp://invalid.test/';
  };
  const conn = createConnection(url, { ...variant.options, clock, environment: env.source, inspect: coverage.inspect });
  const events = recordStepEvents(conn);
  const newest = (): WebSocket => {
    const socket = [...server.sockets].at(-1);
    if (!socket) throw new Error('The server has no connection');
    return socket;
  };
  const value = () => conn.actor.getSnapshot().value;
  const reached = (step: ConnectionPathStep) => conn.state === step.state && isDeepStrictEqual(value(), step.value);
  let messages = 0;
  conn.addEventListener('message', () => messages++);

  const drive: Record<string, (event: PathEvent, step: ConnectionPathStep) => void | Promise<void>> = {
    CONNECT: () => conn.open(),
    RECONNECT: () => conn.reconnect(),
    CLOSE: (e) => conn.close((e as { code: number }).code, (e as { reason: string }).reason),
    RETRY: () => env.becameVisible(),
    'NETWORK.OFFLINE': () => env.setOnline(false),
    'NETWORK.ONLINE': () => env.setOnline(true),
    'SOCKET.OPEN': async () => {
      await server.waitForHeld();
      server.acceptHeld();
    },
    'SOCKET.FAIL': () => {}, // armed before the step that started the attempt
    'SOCKET.CLOSE': async (e) => {
      const { code, reason } = e as { code: number; reason: string };
      if (conn.state === 'closing') return; // the server answers the close frame by itself
      if (conn.state === 'connecting.opening') {
        await server.waitForHeld();
        server.refuseHeld(503); // the client sees an error, then 1006
      } else if (code === 1006) newest().terminate();
      else newest().close(code, reason);
    },
    'AUTH.OK': () => newest().send(JSON.stringify({ type: 'auth_ok' })),
    'AUTH.FAIL': () => newest().send(JSON.stringify({ type: 'auth_error' })),
    PONG: () => {}, // the server answers the probe's ping frame by itself
    'SERVER.MESSAGE': async () => {
      const before = messages;
      newest().send(JSON.stringify({ type: 'news' }));
      await until(() => messages > before, () => 'the server message');
    },
  };

  const expectedTotals = { opens: 0, closes: [] as Array<string | undefined>, reconnecting: 0, giveups: 0 };
  const actualTotals = { opens: 0, closes: [] as Array<string | undefined>, reconnecting: 0, giveups: 0 };
  let prev = conn.state;
  try {
    for (const [i, step] of path.steps.entries()) {
      const next = path.steps[i + 1];
      const where = `step ${i + 1} of ${path.id} (${path.description}): expected ${step.state} ${JSON.stringify(step.value)}, got ${conn.state} ${JSON.stringify(value())}`;
      if (next?.event.type === 'SOCKET.FAIL') failNext = true;
      // Faults the next step needs from this one: no answer to the close frame, no pong to the probe.
      if (step.event.type === 'CLOSE' && next && next.event.type !== 'SOCKET.CLOSE') server.blackhole(true);
      if (step.event.type.endsWith('heartbeatInterval.connection.attempt.open.heartbeat.resting') && next?.event.type !== 'PONG') {
        server.setAutoPong(false);
      }
      if (step.event.type.startsWith('xstate.after.')) clock.increment(step.advance as number);
      else {
        const run = drive[step.event.type];
        if (!run) throw new Error(`No way to drive ${step.event.type} over loopback: teach replayOnLoopback`);
        await run(step.event, step);
      }
      if (!reached(step)) await until(() => reached(step), () => where);
      expect(conn.readyState, where).toBe(step.readyState);
      if (step.state !== 'closing') server.blackhole(false);
      if (!conn.actor.getSnapshot().matches({ attempt: { open: { heartbeat: 'probing' } } })) server.setAutoPong(true);
      // Events may land a step late over a network: compare totals, not per step.
      const expected = expectedEvents(prev, step);
      const bug = step.transitions.find((key) => key in KNOWN_BUGS);
      const actual = normalize(events.take());
      if (bug && KNOWN_BUGS[bug]!.deviates(expected, actual)) expected.closes = [];
      expectedTotals.opens += expected.opens;
      expectedTotals.closes.push(...expected.closes.map((c) => c.closedBy));
      expectedTotals.reconnecting += expected.reconnecting;
      expectedTotals.giveups += expected.giveups;
      actualTotals.opens += actual.opens;
      actualTotals.closes.push(...actual.closes.map((c) => c.closedBy));
      actualTotals.reconnecting += actual.reconnecting;
      actualTotals.giveups += actual.giveups;
      prev = step.state;
    }
    expect(actualTotals, `events of ${path.id} (${path.description})`).toEqual(expectedTotals);
  } finally {
    conn.close();
    server.blackhole(false);
    server.setAutoPong(true);
    if (conn.state === 'closing') clock.increment(variant.options.closeTimeout as number);
    await server.close();
  }
  expect(conn.state).toBe('closed');
  expect(pendingTimers(clock), 'timers left after close').toBe(0);
  expect(env.subscribers, 'environment listeners left after close').toBe(0);
  // Every handshake the path opened went through the real server, and no other.
  expect(server.accepted).toBe(path.steps.filter((s) => s.event.type === 'SOCKET.OPEN').length);
  return { accepted: server.accepted };
}
