/**
 * Review of the control-plane refactor (a7745e3: context as data, emit() for the chart's announcements, derived
 * readyState/state/closedBy; 84f7d60: pools as one parent actor). Memory transport and SimulatedClock: every step
 * is synchronous and no time passes unless the test moves the clock.
 *
 * Each defect the review found has its test here ("Correct: ..." says the behaviour, "Before the fix" what went
 * wrong); they failed before the fixes that followed the review. The rest guard behaviours the review found to hold.
 */
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { atLeastOnce } from '../../src/delivery/index.js';
import { type Connection, createConnection, createManualEnvironment, createPool } from '../../src/index.js';
import type { EnvironmentSource } from '../../src/policies/environment.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

type Options = Parameters<typeof createConnection>[1];

function setup(options: Options = {}) {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/socket', { transport: memory.transport, clock, random: () => 0.5, ...options });
  return { memory, clock, conn };
}

/** Lets promise callbacks (providers, retryWait) run; no time passes on the SimulatedClock. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Every event the connection fires, as one line each, in firing order. */
function record(conn: Connection): string[] {
  const log: string[] = [];
  conn.addEventListener('statechange', (e) => log.push(`statechange ${e.from} -> ${e.to} (${e.event.type})`));
  conn.addEventListener('open', () => log.push('open'));
  conn.addEventListener('close', (e) => log.push(`close ${e.code}${e.closedBy ? ` ${e.closedBy.kind}` : ''}`));
  conn.addEventListener('error', (e) => log.push(`error ${(e.error as { code?: string }).code ?? (e.error as Error).message}`));
  conn.addEventListener('drop', (e) => log.push(`drop ${e.reason} ${String(e.message)}`));
  conn.addEventListener('reconnecting', (e) => log.push(`reconnecting ${e.attempt}`));
  return log;
}

/**
 * An environment of the app's own whose `isOnline` throws once `explode` is set: a user callback the chart calls
 * in its `isOffline` guard without a guard of its own, so a throw fails the chart (the runtime's backstop).
 */
function explodingEnvironment(): { source: EnvironmentSource; explode(): void } {
  const manual = createManualEnvironment(true);
  let explode = false;
  return {
    source: {
      isOnline: () => {
        if (explode) throw new Error('isOnline exploded');
        return true;
      },
      subscribe: (listener) => manual.source.subscribe(listener),
    },
    explode: () => {
      explode = true;
    },
  };
}

describe('defects found in review', () => {
  // Correct: the session started from inside a `statechange` listener watches the network like any other. Before the fix,
  // the host's part of entering `closed` (closed(): stop watching the environment) runs after the statechange
  // listeners (runtime.ts #heard calls settled() first), so reconnect()'s #watchEnvironment() is a no-op and the
  // watch is then stopped: the new session never hears `offline`. Passed before a7745e3.
  it('reconnect() from a statechange listener into closed keeps watching the network', () => {
    const env = createManualEnvironment(true);
    const { memory, conn } = setup({ environment: env.source });
    memory.last!.accept();
    let restarted = false;
    conn.addEventListener('statechange', (e) => {
      if (e.to === 'closed' && !restarted) {
        restarted = true;
        conn.reconnect();
      }
    });
    memory.last!.close(1008, 'policy');
    expect(conn.state).toBe('connecting.opening');
    memory.last!.accept();
    env.setOnline(false);
    expect(conn.state).toBe('reconnecting.waitingForNetwork');
  });

  // Correct: the same for the README's `conn.actor.on('closed', ...)`. XState calls type-specific emit listeners
  // before '*' ones, so an app's handler always runs before the runtime's '*' handler (#heard) and its closed().
  it("reconnect() from conn.actor.on('closed') keeps watching the network", () => {
    const env = createManualEnvironment(true);
    const { memory, conn } = setup({ environment: env.source });
    memory.last!.accept();
    let restarted = false;
    conn.actor.on('closed', () => {
      if (!restarted) {
        restarted = true;
        conn.reconnect();
      }
    });
    memory.last!.close(1008, 'policy');
    memory.last!.accept();
    expect(conn.state).toBe('open');
    env.setOnline(false);
    expect(conn.state).toBe('reconnecting.waitingForNetwork');
  });

  // Correct: a message sent while readyState is CONNECTING waits in the queue for the next socket. Before the fix, the
  // statechange out of `open` fires before the host's leftOpen() clears liveSocket, so the send is written to the
  // socket the chart just abandoned (terminated right after) and reported as an 'unconfirmed' drop (lost without
  // a word with `unconfirmed: false`). Passed before a7745e3.
  it('a send from a statechange listener as the chart leaves open goes to the next socket', () => {
    const { memory, conn } = setup();
    const log = record(conn);
    memory.last!.accept();
    const first = memory.last!;
    conn.addEventListener('statechange', (e) => {
      if (e.from === 'open') conn.send(`sent in ${e.to} (readyState ${conn.readyState})`);
    });
    conn.reconnect();
    const second = memory.last!;
    expect(second).not.toBe(first);
    second.accept();
    expect(first.sent).toEqual([]);
    expect(second.sent).toEqual(['sent in connecting.opening (readyState 0)']);
    expect(log.filter((line) => line.startsWith('drop'))).toEqual([]);
  });

  // Correct: after close() (readyState CLOSING) a send is reported as a 'closed' drop, as README and the
  // connectionLogic docs say. Before the fix,, from a statechange listener into `closing`, it is written to the socket ahead
  // of the close frame. Passed before a7745e3.
  it('a send from a statechange listener into closing is a closed drop, not a write', () => {
    const { memory, conn } = setup();
    const log = record(conn);
    memory.last!.accept();
    conn.addEventListener('statechange', (e) => {
      if (e.to === 'closing') conn.send('after close()');
    });
    conn.close(1000, 'bye');
    expect(memory.last!.sent).toEqual([]);
    expect(log).toContain('drop closed after close()');
  });

  // Correct: a connection whose chart failed reports every later send as a drop. Before the fix,, when the chart fails in a
  // later microstep of a transition (here the raised CONNECT.TIMEOUT's isOffline guard), the `#cause` noted at the
  // first microstep is never cleared (no snapshot is committed, settled() never runs), so every later emit() only
  // queues: the drop is never fired. Passed before a7745e3.
  it('after the chart fails mid-transition, a send is still reported as a drop', () => {
    const env = explodingEnvironment();
    const { conn, clock } = setup({ environment: env.source, connectTimeout: 1_000 });
    const log = record(conn);
    env.explode();
    clock.increment(1_000);
    expect(conn.readyState).toBe(3);
    expect(log.at(-1)).toBe('close 1006 error');
    conn.send('after the failure');
    expect(log.at(-1)).toBe('drop closed after the failure');
  });

  // Correct: every failed attempt fires its `error` (README "When open, close and error fire"), also when the
  // chart then fails in the same transition. Before the fix, the connect timeout's `failed` is an emit() deferred to the
  // commit, which never comes, so only the internal error is reported. Passed before a7745e3.
  it("the connect timeout's own error is reported when the chart fails later in the same transition", () => {
    const env = explodingEnvironment();
    const { conn, clock } = setup({ environment: env.source, connectTimeout: 1_000 });
    const log = record(conn);
    env.explode();
    clock.increment(1_000);
    expect(log.filter((line) => line.startsWith('error'))).toEqual(['error ERR_CONNECT_TIMEOUT', expect.stringContaining('isOnline exploded')]);
  });

  // Correct: the context is data in every state, whatever the app's callbacks throw. Before the fix, a provider's rejection
  // is stored verbatim (recordError: context.lastError is the app's own Error object), so an app error whose
  // `cause` holds a function makes structuredClone throw DataCloneError.
  it("structuredClone(context) holds when a provider rejects with an app error that is not data", async () => {
    const memory = createMemoryTransport();
    const failing = createConnection(
      () => Promise.reject(new Error('token service refused', { cause: { retry: () => 'later' } })),
      { transport: memory.transport, clock: new SimulatedClock(), random: () => 0.5 },
    );
    await settle();
    expect(failing.state).toBe('reconnecting.backoff');
    expect(() => structuredClone(failing.actor.getSnapshot().context)).not.toThrow();
  });

  // Correct: `conn.actor` is a genuine actor; stopping it ends the connection visibly like every other end: a
  // `close` with `closedBy`, and what was queued reported as drops ("nothing is dropped silently"). Before the fix, the
  // queued message vanishes and no `close` fires.
  it('conn.actor.stop() ends the connection visibly and reports what was queued', () => {
    const { conn } = setup();
    const log = record(conn);
    conn.send('queued');
    conn.actor.stop();
    expect(conn.readyState).toBe(3);
    expect(log).toContain('drop closed queued');
    expect(log.some((line) => line.startsWith('close '))).toBe(true);
    expect(conn.closedBy).not.toBeNull();
  });

  // By design (issue 10: a pool is one parent actor): a pooled connection's actor is a child of the pool's actor,
  // and XState refuses to stop a child directly. The README says so; close() ends a pooled connection.
  it("a pooled connection's actor is the pool's child: stopping it directly is XState's error, close() ends it", () => {
    const memory = createMemoryTransport();
    const pool = createPool('ws://example.test/socket', { size: 2, transport: memory.transport, clock: new SimulatedClock() });
    const conn = pool.connections[0]!;
    expect(() => conn.actor.stop()).toThrow('A non-root actor cannot be stopped directly.');
    conn.close(1000, 'done');
    expect(conn.readyState).toBe(3);
    expect(pool.connections[1]!.readyState).toBe(0);
  });
});

describe('behaviours the review checked and found to hold', () => {
  it("statechange's event is the transition's cause, named as the diagram names timers and actors", async () => {
    const env = createManualEnvironment(true);
    let waits = 0;
    const { memory, clock, conn } = setup({
      environment: env.source,
      connectTimeout: 1_000,
      backoff: { initialDelay: 100, resetAfter: 60_000 },
      // Resolves on the second wait only: the first is ended by the page becoming visible.
      retryWait: () => (++waits === 2 ? Promise.resolve() : new Promise(() => {})),
    });
    const causes: string[] = [];
    conn.addEventListener('statechange', (e) => causes.push(`${e.to} <- ${e.event.type}`));
    clock.increment(1_000); // connect timeout: the timer, not the CONNECT.TIMEOUT it raises
    env.becameVisible();
    memory.last!.refuse();
    await settle(); // the second wait's hook resolves
    memory.last!.accept();
    conn.reconnect();
    memory.last!.accept();
    conn.close(4000, 'bye');
    memory.last!.completeClose();
    expect(causes).toEqual([
      'reconnecting.backoff <- after connectTimeout',
      'connecting.opening <- PAGE.VISIBLE',
      'reconnecting.backoff <- SOCKET.CLOSE',
      'connecting.opening <- done retryWait',
      'open <- SOCKET.OPEN',
      'connecting.opening <- RECONNECT',
      'open <- SOCKET.OPEN',
      'closing <- CLOSE',
      'closed <- SOCKET.CLOSE',
    ]);
    expect(conn.closedBy).toEqual({ kind: 'user', code: 4000, reason: 'bye', wasClean: true });
  });

  it('close() and reconnect() called from inside event listeners are processed after the current transition, each statechange before its events', () => {
    const { memory, conn } = setup();
    const log = record(conn);
    conn.addEventListener('open', () => conn.close(4000, 'from open'), { once: true });
    conn.addEventListener(
      'close',
      (e) => {
        if (e.closedBy) conn.reconnect();
      },
      { once: true },
    );
    memory.last!.accept();
    expect(conn.state).toBe('closing');
    memory.last!.completeClose();
    expect(conn.state).toBe('connecting.opening');
    expect(log).toEqual([
      'statechange connecting.opening -> open (SOCKET.OPEN)',
      'open',
      'statechange open -> closing (CLOSE)',
      'statechange closing -> closed (SOCKET.CLOSE)',
      'close 4000 user',
      'statechange closed -> connecting.opening (RECONNECT)',
    ]);
  });

  it("reconnect() from a DOM close listener keeps watching the network (the host's part ran before it)", () => {
    const env = createManualEnvironment(true);
    const { memory, conn } = setup({ environment: env.source });
    memory.last!.accept();
    conn.addEventListener('close', (e) => e.closedBy && conn.reconnect(), { once: true });
    memory.last!.close(1008, 'policy');
    memory.last!.accept();
    env.setOnline(false);
    expect(conn.state).toBe('reconnecting.waitingForNetwork');
  });

  it('a send from a statechange listener while connecting is queued and goes out on open, after nothing is lost', () => {
    const { memory, conn } = setup();
    const log = record(conn);
    conn.addEventListener('statechange', (e) => {
      if (e.to === 'reconnecting.backoff') conn.send('queued while retrying');
    });
    memory.last!.accept();
    memory.last!.close(1012, 'restart');
    expect(conn.state).toBe('reconnecting.backoff');
    expect(conn.metrics.queueLength).toBe(1);
    conn.reconnect();
    memory.last!.accept();
    expect(memory.last!.sent).toEqual(['queued while retrying']);
    expect(log.filter((line) => line.startsWith('drop'))).toEqual([]);
  });

  it('structuredClone(context) holds in every state with every option that shapes the chart', async () => {
    const env = createManualEnvironment(true);
    const states = new Set<string>();
    const clones: unknown[] = [];
    const snap = (conn: Connection) => {
      states.add(conn.state);
      clones.push(structuredClone(conn.actor.getSnapshot().context));
    };
    const { memory, clock, conn } = setup({
      environment: env.source,
      startClosed: true,
      shouldReconnect: () => true,
      closeCodes: (code) => (code === 4999 ? 'fatal' : 'retry'),
      retryWait: () => new Promise(() => {}),
      random: () => 0.25,
      closeTimeout: 1_000,
      delivery: atLeastOnce(),
      auth: { token: () => 'secret-token', mode: 'message', message: (t) => JSON.stringify({ auth: t }) },
      heartbeat: { interval: 1_000, timeout: 500, mode: 'message', ping: () => 'ping', isPong: (d) => d === 'pong' },
    });
    snap(conn); // idle
    conn.open();
    await settle();
    snap(conn); // connecting.opening
    memory.last!.accept(memory.last!.request.protocols[0]);
    snap(conn); // connecting.authenticating
    memory.last!.message('{"type":"auth_ok"}');
    snap(conn); // open
    clock.increment(1_000);
    snap(conn); // open, probing
    memory.last!.close(1012, 'restart');
    snap(conn); // reconnecting.backoff
    env.setOnline(false);
    snap(conn); // reconnecting.waitingForNetwork
    env.setOnline(true);
    await settle();
    memory.last!.accept(memory.last!.request.protocols[0]);
    memory.last!.message('{"type":"auth_ok"}');
    conn.close(4000, 'done');
    snap(conn); // closing
    clock.increment(1_000);
    snap(conn); // closed
    expect([...states]).toEqual([
      'idle',
      'connecting.opening',
      'connecting.authenticating',
      'open',
      'reconnecting.backoff',
      'reconnecting.waitingForNetwork',
      'closing',
      'closed',
    ]);
    for (const clone of clones) expect(JSON.stringify(clone)).not.toContain('secret-token');
    expect(clones.at(-1)).toMatchObject({ closedBy: { kind: 'user', code: 4000, wasClean: false } });
  });

  it('a pool is one actor system: one inspect and one clock for every connection, and a failing chart ends only its connection', () => {
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    const inspected = new Set<unknown>();
    let calls = 0;
    const manual = createManualEnvironment(true);
    // Throws on its first call only: the first connection whose attempt is lost fails its chart.
    const environment: EnvironmentSource = {
      isOnline: () => {
        if (++calls === 1) throw new Error('isOnline exploded');
        return true;
      },
      subscribe: (listener) => manual.source.subscribe(listener),
    };
    const pool = createPool('ws://example.test/socket', {
      size: 3,
      transport: memory.transport,
      clock,
      environment,
      connectTimeout: 1_000,
      backoff: { initialDelay: 100 },
      random: () => 0.5,
      inspect: (event) => inspected.add(event.actorRef),
    });
    const [a, b, c] = pool.connections as [Connection, Connection, Connection];
    for (const conn of [a, b, c]) {
      expect(conn.actor.system).toBe(pool.actor.system);
      expect(inspected.has(conn.actor)).toBe(true);
    }
    const logA = record(a);
    memory.peers[0]!.refuse();
    expect(a.readyState).toBe(3);
    expect(logA.slice(-2)).toEqual([expect.stringContaining('isOnline exploded'), 'close 1006 error']);
    expect(pool.actor.getSnapshot().status).toBe('active');
    // The pool's clock drives the other charts' timers: their connect timeouts, then their retries.
    clock.increment(1_000);
    expect([b.state, c.state]).toEqual(['reconnecting.backoff', 'reconnecting.backoff']);
    clock.increment(1_000);
    for (const peer of memory.peers.slice(3)) peer.accept();
    expect([b.state, c.state]).toEqual(['open', 'open']);
    expect(pool.state).toBe('degraded');
  });
});
