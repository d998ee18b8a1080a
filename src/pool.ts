import { type Actor, type InspectionEvent, createActor, setup, spawnChild, stopChild } from 'xstate';
import type { ConnectionInput, ConnectionMachine } from '../machines/connection.js';
import { Connection } from './connection.js';
import type { SendData } from './data.js';
import { SocketchartError, describe } from './errors.js';
import { SocketchartEvent } from './events.js';
import { type ChartHome, type ChartWatcher, type InspectOption, inspectWith } from './host/chartHome.js';
import { hostedConnectionMachine } from './host/hostedChart.js';
import { CONNECTION_OPTION_KEYS, type ConnectionClock, type ConnectionOptions, type PerAttempt, checkTransport } from './options.js';
import type { Transport } from './transports/types.js';
import { knownKeys } from './validate.js';

/** Adds a connection's chart to the pool: spawned as a child with the connection's host and policy. */
type PoolAdd = { type: 'CONNECTION.ADD'; id: string; input: ConnectionInput };
/** Stops a connection's chart (its host failed). */
type PoolRemove = { type: 'CONNECTION.REMOVE'; id: string };

/**
 * The pool's own actor: its connections' charts are its children, so they share one actor system (one clock, one
 * `inspect` for all) instead of a system each.
 */
export const poolMachine = setup({
  types: {} as {
    events: PoolAdd | PoolRemove | { type: `xstate.error.actor.${string}`; error: unknown };
  },
  actors: { connection: hostedConnectionMachine },
}).createMachine({
  id: 'pool',
  on: {
    'CONNECTION.ADD': {
      actions: spawnChild('connection', {
        id: ({ event }) => (event as PoolAdd).id,
        input: ({ event }) => (event as PoolAdd).input,
      }),
    },
    'CONNECTION.REMOVE': { actions: stopChild(({ event }) => (event as PoolRemove).id) },
    // A connection whose chart fails ends itself visibly (an error, a final close); the pool lets the child go and
    // goes on with the others.
    'xstate.error.actor.*': { actions: stopChild(({ event }) => event.type.slice('xstate.error.actor.'.length)) },
  },
});

export type PoolMachine = typeof poolMachine;

/** Hosts each connection's chart as a child of the pool's actor, and hands each its own inspection events. */
class PoolHome implements ChartHome {
  readonly actor: Actor<PoolMachine>;
  readonly #watchers = new Map<unknown, ChartWatcher>();
  /** Children ever adopted: ids are never reused. */
  #adopted = 0;

  constructor(clock: ConnectionClock | undefined, inspect: InspectOption) {
    this.actor = createActor(poolMachine, {
      ...(clock ? { clock } : {}),
      inspect: (event: InspectionEvent) => {
        this.#watchers.get(event.actorRef)?.chartInspected(event);
        inspectWith(inspect, event);
      },
    });
    this.actor.start();
  }

  /** The pool's clock and inspect apply to every child: the connection's own (the same options) are not used again. */
  adopt(input: ConnectionInput, watcher: ChartWatcher): Actor<ConnectionMachine> {
    const id = `connection-${++this.#adopted}`;
    this.actor.send({ type: 'CONNECTION.ADD', id, input });
    const child = this.actor.getSnapshot().children[id] as unknown as Actor<ConnectionMachine>;
    this.#watchers.set(child, watcher);
    return child;
  }

  release(actor: Actor<ConnectionMachine>): void {
    this.actor.send({ type: 'CONNECTION.REMOVE', id: actor.id });
    this.#watchers.delete(actor);
  }
}

/** `open`: every connection is open. `degraded`: some are. `down`: none is. */
export type PoolState = 'open' | 'degraded' | 'down';

export class PoolStateEvent extends SocketchartEvent<'statechange'> {
  readonly from: PoolState;
  readonly to: PoolState;
  readonly open: number;

  constructor(from: PoolState, to: PoolState, open: number, timeStamp: number) {
    super('statechange', timeStamp);
    this.from = from;
    this.to = to;
    this.open = open;
  }
}

export interface PoolOptions<In, Out> extends ConnectionOptions<In, Out> {
  /**
   * How many connections the pool keeps.
   * @default 3
   */
  size?: number;
}

/**
 * Several connections to one URL, each its own statechart. `send` goes round-robin to the next open connection
 * (or, when none is open, to the next one's queue, so nothing is lost), `broadcast` to all of them.
 */
export class ConnectionPool<In = unknown, Out = SendData> {
  readonly connections: ReadonlyArray<Connection<In, Out>>;
  /**
   * The pool's actor: each connection's `actor` is one of its children (`pool.actor.getSnapshot().children`), all in
   * one actor system, all seen by the pool's `inspect` option.
   */
  readonly actor: Actor<PoolMachine>;
  #next = 0;
  #state: PoolState;
  #listeners = new Set<(event: PoolStateEvent) => void>();

  /** @internal use `createPool` */
  constructor(connections: Array<Connection<In, Out>>, actor: Actor<PoolMachine>) {
    this.connections = connections;
    this.actor = actor;
    this.#state = this.#computeState();
    for (const conn of connections) {
      conn.addEventListener('statechange', () => this.#update());
      // A connection whose chart failed closes without a statechange (its chart is gone).
      conn.addEventListener('close', () => this.#update());
    }
  }

  get state(): PoolState {
    return this.#state;
  }

  /** How many connections are open now. */
  get openCount(): number {
    return this.connections.filter((c) => c.readyState === 1).length;
  }

  /** Sends on the next open connection in turn; queues on the next one in turn when none is open. */
  send(message: Out): void {
    const n = this.connections.length;
    for (let i = 0; i < n; i++) {
      const conn = this.connections[(this.#next + i) % n] as Connection<In, Out>;
      if (conn.readyState === 1) {
        this.#next = (this.#next + i + 1) % n;
        conn.send(message);
        return;
      }
    }
    // None is open: queue on the next one that is still trying (a closed one would only report a drop).
    for (let i = 0; i < n; i++) {
      const conn = this.connections[(this.#next + i) % n] as Connection<In, Out>;
      if (conn.readyState === 0) {
        this.#next = (this.#next + i + 1) % n;
        conn.send(message);
        return;
      }
    }
    const conn = this.connections[this.#next] as Connection<In, Out>;
    this.#next = (this.#next + 1) % n;
    conn.send(message); // every connection is closing or closed: this reports the drop
  }

  /** Sends on every connection (queued on those not open). */
  broadcast(message: Out): void {
    for (const conn of this.connections) conn.send(message);
  }

  /** Resolves when at least `count` connections are open. */
  opened(count = 1): Promise<void> {
    if (!Number.isInteger(count) || count < 1 || count > this.connections.length) {
      return Promise.reject(
        new SocketchartError('ERR_INVALID_OPTION', `pool.opened(count) takes a whole number from 1 to the pool size (${this.connections.length}); got ${describe(count)}.`),
      );
    }
    if (this.openCount >= count) return Promise.resolve();
    const unreachable = () => this.connections.filter((c) => c.readyState !== 3).length < count;
    const closedError = () =>
      new SocketchartError('ERR_CONNECTION_CLOSED', `Only ${this.connections.filter((c) => c.readyState !== 3).length} of the pool's connections are not closed; ${count} can no longer open.`);
    if (unreachable()) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      const listener = () => {
        if (this.openCount >= count) {
          this.#listeners.delete(listener);
          resolve();
        } else if (unreachable()) {
          this.#listeners.delete(listener);
          reject(closedError());
        }
      };
      this.#listeners.add(listener);
    });
  }

  addEventListener(_type: 'statechange', listener: (event: PoolStateEvent) => void): void {
    if (listener == null) return;
    if (typeof listener !== 'function') {
      throw new SocketchartError('ERR_INVALID_OPTION', `pool.addEventListener takes a function; got ${describe(listener)}.`);
    }
    this.#listeners.add(listener);
  }

  removeEventListener(_type: 'statechange', listener: (event: PoolStateEvent) => void): void {
    this.#listeners.delete(listener);
  }

  close(code?: number, reason?: string): void {
    for (const conn of this.connections) conn.close(code, reason);
  }

  #computeState(): PoolState {
    const open = this.openCount;
    return open === this.connections.length ? 'open' : open === 0 ? 'down' : 'degraded';
  }

  #update(): void {
    const to = this.#computeState();
    const from = this.#state;
    this.#state = to;
    const event = new PoolStateEvent(from, to, this.openCount, Date.now());
    event.target = this;
    // Every change of a connection's state is reported, so `opened(count)` waiters see each step.
    for (const listener of [...this.#listeners]) listener(event);
  }
}

/** Far above any sane pool; below it a typo like 1e9 would try to open a billion sockets. */
const MAX_POOL_SIZE = 10_000;

/** Checked here, not only by each connection: the connection's list lacks `size`, so it could not name it for `sise`. */
const POOL_OPTION_KEYS = [...CONNECTION_OPTION_KEYS, 'size'];

/** Builds `createPool` for an entry point, from its default transport. */
export function poolFactory(defaultTransport: () => Transport) {
  return function createPool<In = unknown, Out = SendData>(
    url: PerAttempt<string | URL>,
    options: PoolOptions<In, Out> = {},
  ): ConnectionPool<In, Out> {
    if (typeof options !== 'object' || options === null) throw new SocketchartError('ERR_INVALID_OPTION', `createPool options must be an object; got ${describe(options)}.`);
    knownKeys('', options, POOL_OPTION_KEYS);
    const { size = 3, ...connectionOptions } = options;
    if (!Number.isInteger(size) || size < 1 || size > MAX_POOL_SIZE) {
      throw new SocketchartError('ERR_INVALID_OPTION', `Option \`size\` must be a whole number from 1 to ${MAX_POOL_SIZE}; got ${describe(size)}.`);
    }
    const transport = connectionOptions.transport ?? defaultTransport();
    checkTransport(transport);
    const home = new PoolHome(connectionOptions.clock, connectionOptions.inspect);
    const connections = Array.from({ length: size }, () => new Connection<In, Out>(url, connectionOptions, transport, home));
    return new ConnectionPool<In, Out>(connections, home.actor);
  };
}
