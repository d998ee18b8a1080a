/**
 * Heap child: opens N connections of one kind and reports heapUsed before and after (run with --expose-gc).
 *
 *   node --expose-gc --import tsx bench/heap-client.ts <kind> <url> <connections>
 *
 * Kinds `ws` and `socketchart` talk to the echo server. `socketchart-nosocket` and `actor` never touch the network:
 * they split socketchart's own cost from the `ws` socket's (see `HeapKind`).
 *
 * With BENCH_HEAP_SNAPSHOT=<prefix> it also writes <prefix>-before.heapsnapshot and <prefix>-after.heapsnapshot
 * (open them in Chrome DevTools, Memory tab, "Comparison" view, to see which objects each connection adds).
 */
import { writeHeapSnapshot } from 'node:v8';
import WebSocket from 'ws';
import { createActor } from 'xstate';
import { type ConnectionHost, connectionMachine } from '../machines/connection.js';
import { createConnection } from '../src/node.js';
import { DEFAULTS } from '../src/options.js';
import type { OpenRequest, SocketSink, Transport, TransportSocket } from '../src/transports/types.js';
import { type HeapKind, PAYLOAD, errorMessage, send, sleep } from './common.js';

const [kindArg, url, countArg] = process.argv.slice(2);
const kind = kindArg as HeapKind;
const count = Number(countArg ?? 1000);
const BATCH = 100;

const gc = globalThis.gc;
if (!gc) throw new Error('run with --expose-gc');

/** A socket that is a plain object: opens on the next microtask and echoes what it is sent. */
class FakeSocket implements TransportSocket {
  readonly bufferedAmount = 0;
  binaryType: 'nodebuffer' | 'arraybuffer' | 'blob';
  readonly #sink: SocketSink;

  constructor(request: OpenRequest, sink: SocketSink) {
    this.binaryType = request.binaryType;
    this.#sink = sink;
    queueMicrotask(() => sink.onOpen({ protocol: '', extensions: '' }));
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): boolean {
    queueMicrotask(() => this.#sink.onMessage(data));
    return true;
  }

  close(code = 1000, reason = ''): void {
    queueMicrotask(() => this.#sink.onClose({ code, reason, wasClean: true }));
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

/** Settles the heap: several full collections with turns of the event loop between them (weak callbacks, timers). */
async function settledHeap(): Promise<{ heap: number; external: number }> {
  for (let i = 0; i < 6; i++) {
    gc?.();
    await sleep(10);
  }
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, external: usage.external };
}

interface Opened {
  /** Resolves when open. */
  ready: Promise<void>;
  /** Sends one payload and resolves with its echo. */
  echo(): Promise<void>;
  close(): Promise<void>;
}

function openWs(): Opened {
  const ws = new WebSocket(url as string, { perMessageDeflate: false });
  let pending: (() => void) | null = null;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const text = isBinary ? data : data.toString();
    if (text.length === 64) pending?.();
  });
  return {
    ready: new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    echo: () =>
      new Promise((resolve) => {
        pending = resolve;
        ws.send(PAYLOAD);
      }),
    close: () =>
      new Promise((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
      }),
  };
}

function openSocketchart(withSocket: boolean): Opened {
  const connection = createConnection<string>(url as string, withSocket ? {} : { transport: fakeTransport });
  let pending: (() => void) | null = null;
  connection.onmessage = (event) => {
    if (event.data.length === 64) pending?.();
  };
  return {
    ready: connection.opened({ timeout: 30_000 }),
    echo: () =>
      new Promise((resolve) => {
        pending = resolve;
        connection.send(PAYLOAD);
      }),
    close: () =>
      new Promise((resolve) => {
        connection.addEventListener('close', (event) => {
          if (event.closedBy) resolve();
        });
        connection.close(1000);
      }),
  };
}

/** The machine alone: a stub host that the runtime would otherwise be, shared by every actor. */
const stubHost: ConnectionHost = {
  transport: fakeTransport,
  policy: {
    backoff: DEFAULTS.backoff,
    closeCodes: undefined,
    shouldReconnect: undefined,
    connectTimeout: DEFAULTS.connectTimeout,
    closeTimeout: DEFAULTS.closeTimeout,
    waitsForRetryHook: false,
    random: Math.random,
  },
  isOnline: () => true,
  openRequest: () => ({ url: url ?? 'ws://127.0.0.1/', protocols: [], binaryType: 'nodebuffer' }),
  attach() {},
  detach() {},
  deliver() {},
  opened() {},
  leftOpen() {},
  disconnected() {},
  retrying() {},
  closed() {},
  failed() {},
};

function openActor(): Opened {
  const actor = createActor(connectionMachine, { input: { host: stubHost } });
  actor.start();
  actor.send({ type: 'CONNECT' });
  const whenTag = (tag: 'OPEN' | 'CLOSED') =>
    new Promise<void>((resolve) => {
      if (actor.getSnapshot().hasTag(tag)) return resolve();
      const subscription = actor.subscribe((snapshot) => {
        if (snapshot.hasTag(tag)) {
          subscription.unsubscribe();
          resolve();
        }
      });
    });
  return {
    ready: whenTag('OPEN'),
    echo: () => Promise.resolve(),
    close: () => {
      actor.send({ type: 'CLOSE', code: 1000, reason: '' });
      return whenTag('CLOSED');
    },
  };
}

function openOne(): Opened {
  switch (kind) {
    case 'ws':
      return openWs();
    case 'socketchart':
      return openSocketchart(true);
    case 'socketchart-nosocket':
      return openSocketchart(false);
    case 'actor':
      return openActor();
    default:
      throw new Error(`unknown kind ${String(kind)}`);
  }
}

async function main(): Promise<void> {
  // One connection first, opened, used and closed: loads and warms every lazily initialized module and cache.
  const warm = openOne();
  await warm.ready;
  await warm.echo();
  await warm.close();

  const snapshotPrefix = process.env.BENCH_HEAP_SNAPSHOT;
  const before = await settledHeap();
  if (snapshotPrefix) writeHeapSnapshot(`${snapshotPrefix}-before.heapsnapshot`);
  const started = performance.now();
  const connections: Opened[] = [];
  for (let i = 0; i < count; i += BATCH) {
    const batch: Opened[] = [];
    for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push(openOne());
    await Promise.all(batch.map((c) => c.ready));
    connections.push(...batch);
  }
  const openMs = performance.now() - started;
  await Promise.all(connections.map((c) => c.echo()));
  const after = await settledHeap();
  if (snapshotPrefix) writeHeapSnapshot(`${snapshotPrefix}-after.heapsnapshot`);

  send({
    type: 'result',
    kind,
    connections: connections.length,
    heapBefore: before.heap,
    heapAfter: after.heap,
    externalBefore: before.external,
    externalAfter: after.external,
    openMs,
  });

  await Promise.all(connections.map((c) => c.close()));
  process.disconnect?.();
}

main().catch((error: unknown) => {
  send({ type: 'error', message: errorMessage(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
