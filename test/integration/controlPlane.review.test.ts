/**
 * Review of the control-plane refactor over a real `ws` server on 127.0.0.1 (port 0): what reaches an app that
 * embeds a connection with `connectionLogic`, and a pool as one parent actor. No sleeps: each step awaits an event
 * or a state.
 *
 * A defect the review found has its test here (it failed before the fix that followed the review);
 * plain `it` guards a behaviour the review checked and found to hold.
 */
import { type InspectionEvent, assign, createActor, sendTo, setup, waitFor } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { type Connection, type ConnectionLogicEvent, createManualEnvironment, statePathOf } from '../../src/index.js';
import { connectionLogic, connectionOf, createPool } from '../../src/node.js';
import type { EnvironmentSource } from '../../src/policies/environment.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function server(): Promise<TestServer> {
  const s = await createTestServer();
  cleanup.push(() => s.close());
  return s;
}

/** Resolves once `conn` is in `state` (checked on each of its chart's snapshots). */
function reaches(conn: Connection, state: string): Promise<unknown> {
  return waitFor(conn.actor, (snapshot) => statePathOf(snapshot) === state);
}

/**
 * An app that starts the session again as soon as the connection says it ended: it reacts to the child's
 * `socketchart.statechange` into `closed` with `RECONNECT`, as an app's own machine naturally would.
 */
const restartingApp = setup({
  types: {
    context: {} as { restarts: number; url: string; environment: EnvironmentSource },
    input: {} as { url: string; environment: EnvironmentSource },
    events: {} as ConnectionLogicEvent,
  },
  actors: { connection: connectionLogic },
}).createMachine({
  id: 'app',
  context: ({ input }) => ({ restarts: 0, ...input }),
  invoke: {
    id: 'conn',
    src: 'connection',
    input: ({ context }) => ({ url: context.url, environment: context.environment, retryWait: () => Promise.resolve(), heartbeat: false }),
  },
  on: {
    'socketchart.statechange': {
      guard: ({ context, event }) => event.to === 'closed' && context.restarts === 0,
      actions: [assign({ restarts: ({ context }) => context.restarts + 1 }), sendTo('conn', { type: 'RECONNECT' })],
    },
  },
});

describe('connectionLogic inside an app machine (real ws server)', () => {
  // Correct: the session the app restarts watches the network like the first one. Before the fix, the parent's RECONNECT
  // reaches the connection inside its statechange listener, before the host's closed() stops watching the
  // environment (runtime.ts #heard fires statechange first), so the restarted session never hears `offline` and
  // stays `open` on a dead network. Passed before a7745e3 (the host's part ran inside the transition).
  it('an app that restarts the session on statechange into closed keeps the network watch', async () => {
    const s = await server();
    const env = createManualEnvironment(true);
    const app = createActor(restartingApp, { input: { url: s.url(), environment: env.source } });
    cleanup.push(() => app.stop());
    app.start();
    const conn = connectionOf(app.getSnapshot().children.conn)!;
    await reaches(conn, 'open');
    s.closeAll(1008, 'policy'); // fatal: the session ends, and the app starts it again
    await waitFor(app, (snapshot) => snapshot.context.restarts === 1);
    await reaches(conn, 'open');
    env.setOnline(false);
    expect(conn.state).toBe('reconnecting.waitingForNetwork');
  });

  it('the restarted session is a new one: closedBy stays the last close until it closes again', async () => {
    const s = await server();
    const env = createManualEnvironment(true);
    const app = createActor(restartingApp, { input: { url: s.url(), environment: env.source } });
    cleanup.push(() => app.stop());
    app.start();
    const conn = connectionOf(app.getSnapshot().children.conn)!;
    await reaches(conn, 'open');
    s.closeAll(1008, 'policy');
    await waitFor(app, (snapshot) => snapshot.context.restarts === 1);
    await reaches(conn, 'open');
    expect(conn.closedBy).toMatchObject({ kind: 'fatal', code: 1008, reason: 'policy' });
    const closed = conn.closed();
    conn.close(4000, 'bye');
    expect(await closed).toEqual({ kind: 'user', code: 4000, reason: 'bye', wasClean: true });
  });
});

describe('a pool as one parent actor (real ws server)', () => {
  it("one inspect sees every connection's chart; each connection's actor is a child of pool.actor", async () => {
    const s = await server();
    const opened = new Set<unknown>();
    const pool = createPool(s.url(), {
      size: 3,
      heartbeat: false,
      inspect: (event: InspectionEvent) => {
        if (event.type === '@xstate.snapshot' && (event.snapshot as { hasTag?: (tag: string) => boolean }).hasTag?.('OPEN')) opened.add(event.actorRef);
      },
    });
    cleanup.push(() => pool.close());
    await pool.opened(3);
    const children = Object.values(pool.actor.getSnapshot().children);
    for (const conn of pool.connections) {
      expect(children).toContain(conn.actor);
      expect(opened.has(conn.actor)).toBe(true);
    }
    pool.close(4000, 'bye');
    await Promise.all(pool.connections.map((conn) => conn.closed()));
    expect(pool.connections.map((conn) => conn.closedBy?.kind)).toEqual(['user', 'user', 'user']);
    expect(pool.state).toBe('down');
  });
});
