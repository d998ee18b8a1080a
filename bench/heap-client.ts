/**
 * Heap child: opens N connections of one kind and reports heapUsed before and after (run with --expose-gc).
 *
 *   node --expose-gc bench/.build/heap-client.bundle.js <kind> <url> <connections>   (bundled by run.ts)
 *
 * Kinds `ws`, `reconnecting-websocket`, `partysocket` and `socketchart` talk to the `ws` echo server, `socket.io` to
 * the socket.io one (a connection counts as open once upgraded from polling to WebSocket, socket.io's default path).
 * `socketchart-nosocket` and `actor` never touch the network: they split socketchart's own cost from the `ws`
 * socket's (see `HeapKind`). Nor do `xstate-trivial`, `xstate-trivial-child` and `xstate-shared-system`: the floors
 * XState sets for any per-connection actor, whatever its machine.
 *
 * The harness itself allocates nothing per connection beyond the client object in one array: every handler is a
 * shared module-level function and progress is counted, not awaited per connection, so the figure is the client's.
 *
 * With BENCH_HEAP_SNAPSHOT=<prefix> it also writes <prefix>-before.heapsnapshot and <prefix>-after.heapsnapshot
 * (open them in Chrome DevTools, Memory tab, "Comparison" view, or run scripts/heap-snapshot-diff.ts on them, to see
 * which objects each connection adds).
 */
import { writeHeapSnapshot } from 'node:v8';
import { type Socket as IoSocket, io } from 'socket.io-client';
import WebSocket from 'ws';
import { type Actor, type AnyActorRef, createActor, createMachine, fromCallback } from 'xstate';
import type { ConnectionEmitted, ConnectionHost, ConnectionInput } from '../machines/connection.js';
import { hostedConnectionMachine } from '../src/host/hostedChart.js';
import type { Connection } from '../src/connection.js';
import { createConnection, createPool } from '../src/node.js';
import type { OpenRequest, SocketSink, Transport, TransportSocket } from '../src/transports/types.js';
import { PartyWebSocket, ReconnectingWebSocket } from './clients.js';
import { type HeapKind, PAYLOAD, errorMessage, send, sleep } from './common.js';

const [kindArg, url = '', countArg] = process.argv.slice(2);
const kind = kindArg as HeapKind;
const count = Number(countArg ?? 1000);
const BATCH = 100;
/**
 * Connections opened, used and closed before the measurement. Enough for V8 to optimize the hot functions of
 * opening a connection (a few hundred calls): with only a handful, the optimized code (about 0.6 MB for socketchart,
 * 0.3 MB for ws, measured with heap snapshots) was compiled during the measured opens and counted as if each of the
 * 1,000 connections held a share of it.
 */
const WARM_UP = 300;

const gc = globalThis.gc;
if (!gc) throw new Error('run with --expose-gc');

// ---- progress counters, bumped by shared handlers -------------------------------------------------------------------

let opened = 0;
let echoed = 0;
let closed = 0;

function onOpen(): void {
  opened++;
}

function onEcho(data: unknown): void {
  if ((data as string).length === 64) echoed++;
}

function onError(error: unknown): void {
  process.stderr.write(`heap client ${kind}: ${errorMessage(error)}\n`);
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

// ---- an in-memory transport and a stub host, for the kinds without sockets -------------------------------------------

/** A socket that is a plain object: opens on the next microtask and echoes what it is sent. */
class FakeSocket implements TransportSocket {
  readonly bufferedAmount = 0;
  binaryType: 'nodebuffer' | 'arraybuffer' | 'blob';
  readonly sink: SocketSink;

  constructor(request: OpenRequest, sink: SocketSink) {
    this.binaryType = request.binaryType;
    this.sink = sink;
    queueMicrotask(this.opened.bind(this));
  }

  opened(): void {
    this.sink.onOpen({ protocol: '', extensions: '' });
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): boolean {
    this.sink.onMessage(data);
    return true;
  }

  close(code = 1000, reason = ''): void {
    this.sink.onClose({ code, reason, wasClean: true });
  }

  terminate(): void {}
}

const fakeTransport: Transport = {
  name: 'fake',
  defaultBinaryType: 'nodebuffer',
  binaryTypes: ['nodebuffer', 'arraybuffer', 'blob'],
  supportsHeaders: true,
  open: (request, sink) => new FakeSocket(request, sink),
};

/**
 * What the runtime would be to the machine, shared by every actor so that only the actor is counted. Its policy is
 * the one a default `Connection` resolves (so the chart runs with the same timers); every other host method is a
 * no-op, except the few whose answers the chart needs. A Proxy, so it keeps working as `ConnectionHost` grows.
 */
function makeStubInput(): ConnectionInput {
  const template = createConnection(url, { transport: fakeTransport, startClosed: true });
  const policy = template.actor.getSnapshot().context.policy;
  const methods: Record<string, unknown> = {
    transport: fakeTransport,
    openRequest: (): OpenRequest => ({ url, protocols: [], binaryType: 'nodebuffer' }),
    isOnline: () => true,
    inboundCount: () => 0,
    random: Math.random,
    closeCodes: undefined,
    shouldReconnect: undefined,
  };
  const host = new Proxy({} as ConnectionHost, { get: (_, name) => (name in methods ? methods[name as string] : noop) });
  return { host, policy };
}

/** What the chart emits, counted like the other kinds' events (one shared function: nothing per connection). */
function onEmitted(event: ConnectionEmitted): void {
  if (event.type === 'opened') onOpen();
  else if (event.type === 'closed') closed++;
  else if (event.type === 'failed') onError(event.error);
}

function noop(): void {}

// ---- the kinds --------------------------------------------------------------------------------------------------------

interface Driver<T> {
  open(): T;
  /** Counted as open only once this holds too (socket.io: upgraded to WebSocket). */
  ready?(client: T): boolean;
  /** Send one payload; `echoed` counts the answer. */
  echo(client: T): void;
  /** Start closing; `closed` counts the end. */
  close(client: T): void;
}

function onWsMessage(data: Buffer, isBinary: boolean): void {
  // What a WebSocket user gets: text as a string.
  onEcho(isBinary ? data : data.toString());
}

function onWsClose(): void {
  closed++;
}

const wsDriver: Driver<WebSocket> = {
  open() {
    // Same options as socketchart's node transport (permessage-deflate off; the server has it off anyway).
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('open', onOpen);
    ws.on('message', onWsMessage);
    ws.on('error', onError);
    ws.on('close', onWsClose);
    return ws;
  },
  echo: (ws) => ws.send(PAYLOAD),
  close: (ws) => ws.close(1000),
};

function onConnectionMessage(event: { data: unknown }): void {
  onEcho(event.data);
}

function onConnectionClose(event: { closedBy: unknown }): void {
  if (event.closedBy) closed++;
}

function connectionDriver(transport: Transport | undefined): Driver<Connection<string>> {
  return {
    open() {
      const connection = createConnection<string>(url, transport ? { transport } : {});
      connection.onopen = onOpen;
      connection.onmessage = onConnectionMessage;
      connection.onerror = onError;
      connection.onclose = onConnectionClose;
      return connection;
    },
    echo: (connection) => connection.send(PAYLOAD),
    close: (connection) => connection.close(1000),
  };
}

/**
 * Pooled connections: children of one pool actor, in one actor system. `open()` hands out the connections of a
 * pool of BATCH made when the last one ran out (so the pool's own actor is counted, shared by its BATCH connections).
 */
function pooledDriver(): Driver<Connection<string>> {
  let spare: Array<Connection<string>> = [];
  return {
    open() {
      if (spare.length === 0) spare = [...createPool<string>(url, { size: BATCH }).connections];
      const connection = spare.pop() as Connection<string>;
      connection.onopen = onOpen;
      connection.onmessage = onConnectionMessage;
      connection.onerror = onError;
      connection.onclose = onConnectionClose;
      return connection;
    },
    echo: (connection) => connection.send(PAYLOAD),
    close: (connection) => connection.close(1000),
  };
}

// reconnecting-websocket and partysocket: one shared options object (the libraries keep a reference to it).
const RWS_OPTIONS = { WebSocket };

function onRwsMessage(event: { data: unknown }): void {
  onEcho(event.data);
}

function rwsDriver(Class: typeof ReconnectingWebSocket | typeof PartyWebSocket): Driver<InstanceType<typeof ReconnectingWebSocket>> {
  return {
    open() {
      const rws = new Class(url, undefined, RWS_OPTIONS) as InstanceType<typeof ReconnectingWebSocket>;
      rws.addEventListener('open', onOpen);
      rws.addEventListener('message', onRwsMessage);
      rws.addEventListener('close', onWsClose);
      return rws;
    },
    echo: (rws) => rws.send(PAYLOAD),
    close: (rws) => rws.close(1000),
  };
}

const socketIoDriver: Driver<IoSocket> = {
  open() {
    const socket = io(url);
    socket.on('connect', onOpen);
    socket.on('echo', onEcho);
    socket.on('disconnect', onWsClose);
    return socket;
  },
  ready: (socket) => socket.io.engine?.transport?.name === 'websocket',
  echo: (socket) => void socket.emit('echo', PAYLOAD),
  close: (socket) => void socket.disconnect(),
};

let stubInput: ConnectionInput | undefined;

const actorDriver: Driver<Actor<typeof hostedConnectionMachine>> = {
  open() {
    stubInput ??= makeStubInput();
    const actor = createActor(hostedConnectionMachine, { input: stubInput });
    actor.on('*', onEmitted);
    actor.start();
    actor.send({ type: 'CONNECT' });
    return actor;
  },
  // Messages bypass the machine; count the echo so the flow is the same as the other kinds.
  echo: () => void echoed++,
  close: (actor) => actor.send({ type: 'CLOSE', code: 1000, reason: '' }),
};

// ---- XState's floors: trivial machines, one actor per "connection" --------------------------------------------------

/** The least machine there is: one state, no context, no transitions. */
const trivialMachine = createMachine({ initial: 'a', states: { a: {} } });

/**
 * The invoked child's logic: `fromCallback(() => () => {})` with the harness's counting in it. It counts the open
 * when XState starts the child and the close when XState runs its cleanup (on the parent's stop), so this kind only
 * completes if the child really ran. Module-level functions: the counting allocates nothing per connection.
 */
function childCleanup(): void {
  closed++;
}

function childCallback(): () => void {
  opened++;
  return childCleanup;
}

/** The trivial machine whose state `a` invokes one callback actor: the cost of one invoked child. */
const trivialChildMachine = createMachine({ initial: 'a', states: { a: { invoke: { src: fromCallback(childCallback) } } } });

type TrivialActor = Actor<typeof trivialMachine>;

/** `createActor(trivialMachine).start()`: counted open once started, closed once stopped (it never does anything). */
const trivialDriver: Driver<TrivialActor> = {
  open() {
    const actor = createActor(trivialMachine).start();
    opened++;
    return actor;
  },
  echo: () => void echoed++,
  close(actor) {
    actor.stop();
    closed++;
  },
};

/** The same with an invoked child; the child counts the open and the close (see `childCallback`). */
const trivialChildDriver: Driver<Actor<typeof trivialChildMachine>> = {
  open: () => createActor(trivialChildMachine).start(),
  echo: () => void echoed++,
  close: (actor) => void actor.stop(),
};

/** One root actor for every `xstate-shared-system` actor, created on the first open (so, during the warm-up). */
let sharedRoot: AnyActorRef | undefined;

/** Trivial actors created with `{ parent: root }`: they join the root's actor system instead of creating their own. */
const sharedSystemDriver: Driver<TrivialActor> = {
  open() {
    sharedRoot ??= createActor(trivialMachine).start();
    const actor = createActor(trivialMachine, { parent: sharedRoot }).start();
    opened++;
    return actor;
  },
  echo: () => void echoed++,
  close(actor) {
    stopChild(actor);
    closed++;
  },
};

/**
 * XState refuses `stop()` on an actor with a parent ("A non-root actor cannot be stopped directly"); a parent stops
 * its children with the internal `_stop()`, which also unregisters them from the system. The bench does the same,
 * only to close (after the measurement).
 */
function stopChild(actor: AnyActorRef): void {
  const internal = actor as unknown as { _stop?: () => void };
  if (typeof internal._stop !== 'function') throw new Error('xstate-shared-system: this xstate has no Actor._stop()');
  internal._stop();
}

function driverFor(kind: HeapKind): Driver<unknown> {
  switch (kind) {
    case 'ws':
      return wsDriver as Driver<unknown>;
    case 'reconnecting-websocket':
      return rwsDriver(ReconnectingWebSocket) as Driver<unknown>;
    case 'partysocket':
      return rwsDriver(PartyWebSocket) as Driver<unknown>;
    case 'socket.io':
      return socketIoDriver as Driver<unknown>;
    case 'socketchart':
      return connectionDriver(undefined) as Driver<unknown>;
    case 'socketchart-pooled':
      return pooledDriver() as Driver<unknown>;
    case 'socketchart-nosocket':
      return connectionDriver(fakeTransport) as Driver<unknown>;
    case 'actor':
      return actorDriver as Driver<unknown>;
    case 'xstate-trivial':
      return trivialDriver as Driver<unknown>;
    case 'xstate-trivial-child':
      return trivialChildDriver as Driver<unknown>;
    case 'xstate-shared-system':
      return sharedSystemDriver as Driver<unknown>;
    default:
      throw new Error(`unknown kind ${String(kind)}`);
  }
}

// ---- measurement ------------------------------------------------------------------------------------------------------

/** Settles the heap: several full collections with turns of the event loop between them (weak callbacks, timers). */
async function settledHeap(): Promise<{ heap: number; external: number }> {
  for (let i = 0; i < 6; i++) {
    gc?.();
    await sleep(10);
  }
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, external: usage.external };
}

/** Fill `into` with open clients, in batches, then echo once on each. */
async function openAll(driver: Driver<unknown>, into: unknown[]): Promise<void> {
  const n = into.length;
  for (let i = 0; i < n; i += BATCH) {
    const target = opened + Math.min(BATCH, n - i);
    for (let j = i; j < Math.min(n, i + BATCH); j++) into[j] = driver.open();
    await until(() => opened >= target, `${target} opens`);
  }
  const ready = driver.ready;
  if (ready) await until(() => into.every((client) => ready(client)), 'all connections ready');
  const target = echoed + into.length;
  for (const client of into) driver.echo(client);
  await until(() => echoed >= target, 'the echoes');
}

async function closeAll(driver: Driver<unknown>, clients: unknown[]): Promise<void> {
  const target = closed + clients.length;
  for (const client of clients) driver.close(client);
  await until(() => closed >= target, 'the closes', 20_000);
}

async function main(): Promise<void> {
  const driver = driverFor(kind);
  // A few connections first, opened, used and closed: loads and warms everything lazily initialized.
  const warm = new Array<unknown>(WARM_UP);
  await openAll(driver, warm);
  await closeAll(driver, warm);
  warm.fill(undefined);

  const snapshotPrefix = process.env.BENCH_HEAP_SNAPSHOT;
  const clients = new Array<unknown>(count); // preallocated: only the clients are counted
  const before = await settledHeap();
  if (snapshotPrefix) writeHeapSnapshot(`${snapshotPrefix}-before.heapsnapshot`);
  const started = performance.now();
  await openAll(driver, clients);
  const openMs = performance.now() - started;
  const after = await settledHeap();
  if (snapshotPrefix) writeHeapSnapshot(`${snapshotPrefix}-after.heapsnapshot`);

  send({
    type: 'result',
    kind,
    connections: clients.length,
    heapBefore: before.heap,
    heapAfter: after.heap,
    externalBefore: before.external,
    externalAfter: after.external,
    openMs,
  });

  await closeAll(driver, clients);
  process.disconnect?.();
}

main().catch((error: unknown) => {
  send({ type: 'error', message: errorMessage(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
