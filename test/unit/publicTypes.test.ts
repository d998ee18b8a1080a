import type { AnyStateNode } from 'xstate';
import { SimulatedClock } from 'xstate';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CONNECTION_STATE_PATHS,
  type Connection,
  type ConnectionEventMap,
  type ConnectionSnapshot,
  type ConnectionStateName,
  type ConnectionStatePath,
  type DropEvent,
  StateChangeEvent,
  connectionMachine,
  createConnection,
  jsonCodec,
  logTransitions,
  pathMatches,
  statePathOf,
} from '../../src/index.js';
import { serveInspector } from '../../src/inspector/index.js';
import { replayPath } from '../../src/testing/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { reachState } from '../support/events.js';

/**
 * The public types as an app uses them. Most checks here are compile-time (`npm run typecheck` covers test/; the
 * package test compiles the same uses against the built .d.ts): each would fail to compile if the type regressed.
 */
type Msg = { type: 'chat'; text: string } | { type: 'join'; room: string };

function typedConnection() {
  const memory = createMemoryTransport();
  return createConnection<Msg, Msg>('ws://example.test/', { codec: jsonCodec(), transport: memory.transport, startClosed: true });
}

/** A component's props, typed with the plain `Connection` as an app writes them. */
function statusText({ conn }: { conn: Connection }): string {
  return conn.state;
}

describe('a typed connection fits wherever a connection is taken', () => {
  it('logTransitions, a `Connection` prop, serveInspector, replayPath hooks', () => {
    const conn = typedConnection();
    const lines: string[] = [];
    const stop = logTransitions(conn, { write: (line) => lines.push(line), color: false });
    expect(statusText({ conn })).toBe('idle');
    expectTypeOf(serveInspector).toBeCallableWith(conn);
    expectTypeOf<Connection<Msg, Msg>>().toExtend<Connection>();
    expectTypeOf<Connection<string, ArrayBuffer>>().toExtend<Connection>();
    expectTypeOf<Connection<never, never>>().toExtend<Connection>();
    // replayPath hands its hook the connection it built, typed as asked.
    expectTypeOf(replayPath<Msg, Msg>).parameter(1).exclude<undefined>().toHaveProperty('onStep');
    conn.open();
    stop();
    expect(lines.map((l) => l.replace(/^\[[^\]]*\] /, ''))).toEqual(['[yellow] CONNECTING - connecting.opening']);
  });

  it('the event map and handlers keep the message types', () => {
    const conn = typedConnection();
    conn.onmessage = (e) => expectTypeOf(e.data).toEqualTypeOf<Msg>();
    conn.addEventListener('message', (e) => expectTypeOf(e.data).toEqualTypeOf<Msg>());
    conn.addEventListener('drop', (e) => {
      expectTypeOf(e).toEqualTypeOf<DropEvent<Msg>>();
      expectTypeOf(e.message).toEqualTypeOf<Msg>();
      conn.send(e.message);
    });
    expectTypeOf<ConnectionEventMap<Msg, Msg>['drop']>().toEqualTypeOf<DropEvent<Msg>>();
    // @ts-expect-error -- a Msg connection does not take a string (not called: the JSON codec would send it)
    const wrong = () => conn.send('text');
    expect(typeof wrong).toBe('function');
  });
});

describe('state names', () => {
  it('CONNECTION_STATE_PATHS is every public path the chart has', () => {
    // Independently of statePath.ts: `attempt` is left out of the path, and a parallel state's regions are not in it.
    const paths = new Set<string>();
    const walk = (node: AnyStateNode, prefix: string[]) => {
      const segments = node.key === 'attempt' ? prefix : [...prefix, node.key];
      const children = Object.values(node.states);
      if (children.length === 0 || node.type === 'parallel') paths.add(segments.join('.'));
      else for (const child of children) walk(child, segments);
    };
    for (const child of Object.values(connectionMachine.root.states)) walk(child, []);
    expect([...CONNECTION_STATE_PATHS].sort()).toEqual([...paths].sort());
  });

  it('statePathOf, matches and pathMatches are typed with them; ConnectionSnapshot is the actor snapshot', () => {
    const conn = typedConnection();
    const snapshot: ConnectionSnapshot = conn.actor.getSnapshot();
    expectTypeOf(snapshot).toEqualTypeOf<ReturnType<Connection['actor']['getSnapshot']>>();
    const path = statePathOf(snapshot);
    expectTypeOf(path).toEqualTypeOf<ConnectionStatePath>();
    expect(path).toBe('idle');
    expect(conn.matches('idle')).toBe(true);
    conn.open();
    expect(conn.matches('connecting')).toBe(true);
    expect(pathMatches(conn.state, 'connecting')).toBe(true);
    // A name held in a plain string is still taken (and checked at run time).
    const dynamic: string = 'reconnecting';
    expect(conn.matches(dynamic)).toBe(false);
    // @ts-expect-error -- misspelled state names do not compile
    expect(conn.matches('conecting')).toBe(false);
    // @ts-expect-error -- nor for pathMatches
    expect(pathMatches('open', 'opened')).toBe(false);
    expectTypeOf<'connecting'>().toExtend<ConnectionStateName>();
    conn.addEventListener('statechange', (e) => expectTypeOf(e.to).toEqualTypeOf<ConnectionStatePath>());
  });
});

describe('statechange events name what moved the chart as the diagram does', () => {
  it('every internal event type of the chart gets a public name', () => {
    const internal = new Set<string>();
    const walk = (node: AnyStateNode) => {
      for (const type of node.transitions.keys()) if (type.startsWith('xstate.')) internal.add(type);
      for (const child of Object.values(node.states)) walk(child);
    };
    walk(connectionMachine.root);
    expect(internal.size).toBeGreaterThan(5);
    const names = [...internal].map((type) => new StateChangeEvent('idle', 'closed', { type }, 0).event.type);
    expect(names.filter((name) => !/^(after|done|error) [A-Za-z]+$/.test(name))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['after retryDelay', 'after connectTimeout', 'done retryWait', 'error retryWait']));
  });

  it('timers and the retryWait actor, on a real connection', async () => {
    const memory = createMemoryTransport({ canPing: true });
    const clock = new SimulatedClock();
    let waits = 0;
    const conn = createConnection('ws://example.test/', {
      transport: memory.transport,
      clock,
      random: () => 0.5,
      connectTimeout: 1000,
      closeTimeout: 1000,
      heartbeat: { interval: 1000, timeout: 500 },
      // The first wait ends, the second fails: both end the backoff.
      retryWait: () => (++waits === 1 ? Promise.resolve() : Promise.reject(new Error('no'))),
    });
    const seen: string[] = [];
    conn.addEventListener('statechange', (e) => seen.push(`${e.from} -> ${e.to}: ${e.event.type}`));
    conn.addEventListener('error', () => {});
    clock.increment(1000); // connect timeout
    await reachState(conn, 'connecting.opening');
    memory.last!.accept();
    clock.increment(1000);
    clock.increment(500); // heartbeat timeout
    await reachState(conn, 'connecting.opening');
    memory.last!.accept();
    conn.close();
    clock.increment(1000); // close timeout
    expect(seen).toEqual([
      'connecting.opening -> reconnecting.backoff: after connectTimeout',
      'reconnecting.backoff -> connecting.opening: done retryWait',
      'connecting.opening -> open: SOCKET.OPEN',
      'open -> reconnecting.backoff: after heartbeatTimeout',
      'reconnecting.backoff -> connecting.opening: error retryWait',
      'connecting.opening -> open: SOCKET.OPEN',
      'open -> closing: CLOSE',
      'closing -> closed: after closeTimeout',
    ]);
  });
});
