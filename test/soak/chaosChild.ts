/**
 * The chaos soak, run as its own process (`node --expose-gc --import tsx test/soak/chaosChild.ts`) so that the
 * heap can be measured after a real gc and so that "the process exits by itself" can be observed.
 *
 * CHAOS_CONNECTIONS (default 1000), CHAOS_MS (ms of faults, default 8000), CHAOS_SEED (default 1).
 *
 * Prints one JSON line (the report) and then must exit on its own: no process.exit().
 */
import type { WebSocket } from 'ws';
import type { Connection } from '../../src/index.js';
import { createConnection } from '../../src/node.js';
import { readyStateOf } from '../../src/statePath.js';
import { createTestServer } from '../../src/testing/index.js';

const CONNECTIONS = Number(process.env.CHAOS_CONNECTIONS ?? 1000);
const CHAOS_MS = Number(process.env.CHAOS_MS ?? 8000);
const SEED = Number(process.env.CHAOS_SEED ?? 1);

let uncaught = 0;
let unhandled = 0;
const firstErrors: string[] = [];
process.on('uncaughtException', (error) => {
  uncaught++;
  if (firstErrors.length < 5) firstErrors.push(`uncaught: ${error?.stack ?? String(error)}`);
});
process.on('unhandledRejection', (reason) => {
  unhandled++;
  if (firstErrors.length < 5) firstErrors.push(`unhandled: ${(reason as Error)?.stack ?? String(reason)}`);
});

/** mulberry32: a seeded PRNG, so a failing run can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const gc = (globalThis as { gc?: () => void }).gc;
async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}

// Close codes a server may send, one or more per class, and what the client's default table makes of them.
const CLOSE_CODES = {
  retry: [1000, 1001, 1011, 1012, 1014, 4000, 4500, 4999],
  'retry-later': [1013],
  fatal: [1002, 1003, 1007, 1008, 1009, 1010, 3000, 3003],
} as const;

type FaultKind =
  | 'drop'
  | 'close'
  | 'refuse-503'
  | 'slow-handshake'
  | 'malformed-frame'
  | 'blackhole'
  | 'server-restart'
  | 'client-send'
  | 'client-reconnect'
  | 'client-close-open'
  | 'revive-closed';

interface Tracker {
  opens: number;
  socketCloses: number;
  finalCloses: number;
  openWithoutClose: boolean;
  closedByUs: boolean;
  eventsAfterFinal: number;
}

const violations: string[] = [];
function violation(text: string): void {
  if (violations.length < 20) violations.push(text);
}

function watch(conn: Connection, index: number): Tracker {
  const t: Tracker = { opens: 0, socketCloses: 0, finalCloses: 0, openWithoutClose: false, closedByUs: false, eventsAfterFinal: 0 };
  const check = (what: string) => {
    // The facade's readyState, the state path and the chart's own tags all agree.
    const byPath = conn.state === 'open' ? 1 : conn.state === 'closing' ? 2 : conn.state === 'closed' ? 3 : 0;
    const byChart = readyStateOf(conn.actor.getSnapshot());
    if (conn.readyState !== byPath || conn.readyState !== byChart) {
      violation(`#${index} ${what}: readyState ${conn.readyState}, state ${conn.state}, chart says ${byChart}`);
    }
    if (t.closedByUs && t.finalCloses > 0 && what !== 'final-close') t.eventsAfterFinal++;
  };
  conn.addEventListener('statechange', () => check('statechange'));
  conn.addEventListener('open', () => {
    check('open');
    if (t.openWithoutClose) violation(`#${index}: open after open without a close`);
    t.openWithoutClose = true;
    t.opens++;
  });
  conn.addEventListener('close', (event) => {
    if (event.closedBy === undefined) {
      check('close');
      if (!t.openWithoutClose) violation(`#${index}: a socket close without an open`);
      t.socketCloses++;
    } else {
      check('final-close');
      if (t.closedByUs) t.finalCloses++;
    }
    t.openWithoutClose = false;
  });
  for (const type of ['error', 'reconnecting', 'drop', 'giveup', 'message'] as const) conn.addEventListener(type, () => check(type));
  return t;
}

async function main(): Promise<void> {
  // Warm up (module loading, JIT, ws internals) before the baseline.
  {
    const warm = await createTestServer();
    const conns = Array.from({ length: 20 }, () => createConnection(warm.url(), { random }));
    await Promise.all(conns.map((c) => c.opened()));
    for (const c of conns) c.close();
    await Promise.all(conns.map((c) => new Promise((r) => (c.state === 'closed' ? r(null) : c.addEventListener('close', r, { once: true })))));
    await warm.close();
  }
  const heapBefore = await heapAfterGc();
  const started = performance.now();

  let server = await createTestServer();
  const faults: Record<string, number> = {};
  const count = (name: string) => (faults[name] = (faults[name] ?? 0) + 1);
  let conns: Connection[] | null = Array.from({ length: CONNECTIONS }, () =>
    createConnection(server.url(), {
      random,
      connectTimeout: 1000,
      closeTimeout: 1000,
      backoff: { initialDelay: 50, maxDelay: 1000, tryAgainLaterDelay: 300 },
      heartbeat: { interval: 500, timeout: 500 },
      queue: { maxMessages: 50 },
    }),
  );
  let trackers: Tracker[] | null = conns.map((c, i) => watch(c, i));
  // Every client message is accounted for: it reached the server, or the client reported it (a `drop` event).
  let nextMessage = 0;
  const sent: string[] = [];
  const reported = new Set<string>();
  for (const c of conns) c.addEventListener('drop', (e) => reported.add(String(e.data)));
  const live = () => [...server.sockets];
  const some = <T>(list: readonly T[], share: number): T[] => list.filter(() => random() < share);

  // Everyone opens first (the server accepts 1,000 handshakes), then the chaos.
  await Promise.all(conns.map((c) => c.opened({ timeout: 20_000 })));
  const openedAll = Math.round(performance.now() - started);
  const heapOpen = await heapAfterGc();

  const until = performance.now() + CHAOS_MS;
  let restarting: Promise<void> | null = null;
  let blackholeUntil = 0;
  // Weighted kinds of fault. Every kind runs once early on (in a seeded order), so a short run still covers each one
  // whatever the seed; after that each round rolls the weights.
  const weights: Array<[FaultKind, number]> = [
    ['drop', 0.15],
    ['close', 0.2],
    ['refuse-503', 0.1],
    ['slow-handshake', 0.07],
    ['malformed-frame', 0.08],
    ['blackhole', 0.03],
    ['server-restart', 0.02],
    ['client-send', 0.15],
    ['client-reconnect', 0.05],
    ['client-close-open', 0.05],
    ['revive-closed', 0.1],
  ];
  const closeClasses = Object.keys(CLOSE_CODES) as Array<keyof typeof CLOSE_CODES>;
  const firstPass: Array<FaultKind | `close-${keyof typeof CLOSE_CODES}`> = [
    ...weights.map(([kind]) => kind).filter((kind) => kind !== 'close'),
    ...closeClasses.map((cls) => `close-${cls}` as const),
  ].sort(() => random() - 0.5);
  const allowed = (kind: string) =>
    kind === 'blackhole' ? !blackholeUntil : kind === 'server-restart' ? !restarting && !blackholeUntil : true;
  const roll = (): string => {
    const forced = firstPass.findIndex(allowed);
    if (forced >= 0) return firstPass.splice(forced, 1)[0] as string;
    let r = random();
    for (const [kind, weight] of weights) {
      if (r < weight) return allowed(kind) ? kind : 'client-send';
      r -= weight;
    }
    return 'client-send';
  };
  while (performance.now() < until) {
    if (blackholeUntil && performance.now() > blackholeUntil) {
      server.blackhole(false);
      blackholeUntil = 0;
    }
    let kind = roll();
    if (kind === 'close') kind = `close-${pick(closeClasses)}`;
    count(kind);
    if (kind === 'drop') {
      for (const ws of some(live(), 0.1)) ws.terminate();
    } else if (kind.startsWith('close-')) {
      const cls = kind.slice('close-'.length) as keyof typeof CLOSE_CODES;
      const code = pick(CLOSE_CODES[cls]);
      for (const ws of some(live(), cls === 'fatal' ? 0.02 : 0.08)) ws.close(code, `chaos ${code}`);
    } else if (kind === 'refuse-503') {
      server.refuseNext(503, 1 + Math.floor(random() * 30));
    } else if (kind === 'slow-handshake') {
      // Some under connectTimeout (1000 ms), some over it.
      server.delayNext(pick([200, 600, 1500]), 1 + Math.floor(random() * 20));
    } else if (kind === 'malformed-frame') {
      for (const ws of some(live(), 0.03)) server.sendMalformedFrame(ws as WebSocket);
    } else if (kind === 'blackhole') {
      server.blackhole(true);
      blackholeUntil = performance.now() + 1200; // longer than heartbeat interval + timeout
    } else if (kind === 'server-restart') {
      restarting = server
        .stop()
        .then(() => sleep(200))
        .then(() => server.restart())
        .finally(() => (restarting = null));
    } else if (kind === 'client-send') {
      for (const c of some(conns, 0.2)) {
        if (c.readyState >= 2) continue;
        const message = `m${nextMessage++}`;
        sent.push(message);
        c.send(message);
      }
    } else if (kind === 'client-reconnect') {
      for (const c of some(conns, 0.02)) c.reconnect();
    } else if (kind === 'client-close-open') {
      for (const c of some(conns, 0.01)) {
        c.close(4000, 'chaos');
        setTimeout(() => c.open(), Math.floor(random() * 300)).unref();
      }
    } else {
      // Sessions that a fatal code closed come back.
      for (const c of conns) if (c.state === 'closed' && random() < 0.5) c.reconnect();
    }
    await sleep(20 + Math.floor(random() * 40));
  }
  await restarting;
  server.blackhole(false);
  await sleep(1300); // let the revive timers above fire before the final close

  // The end: close() everything, as an app shutting down does.
  const closing = performance.now();
  const alreadyClosed = conns.map((c) => c.state === 'closed');
  for (const t of trackers) t.closedByUs = true;
  for (const c of conns) c.close(1000, 'soak over');
  const deadline = performance.now() + 15_000;
  while (conns.some((c) => c.state !== 'closed') && performance.now() < deadline) await sleep(20);
  const closeMs = Math.round(performance.now() - closing);
  const notClosed = conns.filter((c) => c.state !== 'closed' || c.readyState !== 3).length;
  const finalCloses = trackers.map((t) => t.finalCloses);
  const totals = trackers.reduce(
    (sum, t) => ({ opens: sum.opens + t.opens, socketCloses: sum.socketCloses + t.socketCloses, eventsAfterFinal: sum.eventsAfterFinal + t.eventsAfterFinal }),
    { opens: 0, socketCloses: 0, eventsAfterFinal: 0 },
  );
  const accepted = server.accepted;
  const receivedByServer = server.received.length;
  const arrived = new Set(server.received.map(String));
  const silentlyLost = sent.filter((m) => !arrived.has(m) && !reported.has(m));
  const messages = {
    messagesSent: sent.length,
    messagesReported: reported.size,
    reportedButArrived: [...reported].filter((m) => arrived.has(m)).length,
    silentlyLost: silentlyLost.length,
    firstSilentlyLost: silentlyLost.slice(0, 5),
  };
  // The harness's own bookkeeping (a string per message: ~100,000 in the long soak, megabytes) goes before the heap
  // is measured, so what is left is what the connections left.
  sent.length = 0;
  reported.clear();
  arrived.clear();
  await server.close();
  await sleep(50);
  server = null as never;
  // Let go of every connection before measuring the heap (the point of the assignments).
  // eslint-disable-next-line no-useless-assignment
  conns = null;
  // eslint-disable-next-line no-useless-assignment
  trackers = null;
  const heapAfter = await heapAfterGc();

  const resources = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
  const report = {
    connections: CONNECTIONS,
    chaosMs: CHAOS_MS,
    seed: SEED,
    gc: gc !== undefined,
    openedAllMs: openedAll,
    closeMs,
    accepted,
    receivedByServer,
    ...messages,
    faults,
    ...totals,
    notClosed,
    alreadyClosed: alreadyClosed.filter(Boolean).length,
    missingFinalClose: finalCloses.filter((n, i) => n === 0 && !alreadyClosed[i]).length,
    extraFinalClose: finalCloses.filter((n) => n > 1).length,
    violations,
    uncaught,
    unhandled,
    firstErrors,
    heapBeforeMB: +(heapBefore / 1048576).toFixed(2),
    heapOpenMB: +(heapOpen / 1048576).toFixed(2),
    heapAfterMB: +(heapAfter / 1048576).toFixed(2),
    heapDeltaMB: +((heapAfter - heapBefore) / 1048576).toFixed(2),
    resources,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

await main();
// Nothing else: if a socket, timer or listener were left behind, the process would not exit.
