/**
 * `npm run bench`: socketchart against a bare `ws` client (the floor) and its peers (reconnecting-websocket,
 * partysocket, socket.io-client), all in one run against the same loopback servers, each library with its defaults.
 * Results go to stdout as tables, to bench/results.json, and (full runs) to bench/README-section.md.
 *
 *   npm run bench              full run (about 4 to 5 minutes on 2 cores)
 *   npm run bench -- --quick   smoke run with small counts (under a minute)
 *   npm run bench -- --tsx     run the children's TypeScript under tsx instead of a bundle (see below)
 *   npm run bench -- --no-pin  no taskset pinning
 *   npm run bench -- --only=kill,reconnect   only these phases (cpu, heap, reconnect, blackhole, kill, bundle, redis, shared);
 *                              prints the tables but writes no results
 *   npm run bench -- --only=cpu --kinds=socketchart   CPU (and heap) of these clients only (ws, the floor, always runs); with
 *                              --runs=N, N rounds instead of 7: for repeated before/after comparisons
 *   npm run bench -- --out=FILE   also write the results (every run's figures) as JSON to FILE, partial runs included
 *
 * Figures, per client where it makes sense:
 *   1. client CPU per echoed 64-byte message (user + system), pipelined (64 in flight), burst (100,000 sent at once)
 *      and ping-pong (1 in flight)
 *   2. median sequential round trip (ping-pong), µs
 *   3. heap per open connection (1,000 connections)
 *   4. reconnect time after a server-side drop: the server destroys all TCP sockets of 50 connections at once; ms
 *      from that to each client's next open, median and p10/p90 (are they back in one burst or spread out?)
 *   5. blackhole detection: connections through a relay that starts swallowing every byte both ways without
 *      closing anything; time until the client notices, bounded (clients without a heartbeat never do)
 *   6. messages lost while the server kills every TCP connection every second (client -> server, 5,000 messages
 *      at about 1 per ms); socketchart plain and with `delivery: atLeastOnce()` against `attachAckServer`
 *   7. browser bundle size, min + gzip (esbuild, platform browser)
 *   8. attachAckServer with sessions in Redis against the memory store (bench/redisStore.ts)
 *   9. createSharedConnection in headless Chromium: the echo round trip from the leader tab and from a follower tab
 *      (bench/shared.ts): what a follower pays for going through the leader
 * and the floors XState sets under figures 3 and 7 (a trivial started actor's heap, an invoked child's, xstate's
 * least bundle), measured in the same run, so the README can say how much of a target XState alone takes.
 *
 * The children run as esbuild bundles (bench/.build/*.bundle.js, packages left external, removed after the run; the
 * `.bundle.js` suffix is one the repo's ESLint config ignores), built like the published dist
 * (tsup: esbuild, es2022, no keepNames). Under tsx every named function is wrapped in `__name()` (keepNames), which
 * gives each such closure its own property store: a few hundred bytes per closure the library allocates per
 * connection, which users of the built package never pay.
 *
 * Layout (every part in its own process, so nothing is measured against anything else):
 *   - server.ts: every server (ws echo, socket.io echo, counting servers, the ack server) on 127.0.0.1, one port
 *     each, pinned to the last core. Its CPU is never counted.
 *   - cpu-client.ts, one child per client kind, each with one connection kept open for the whole CPU phase. The
 *     parent asks them for runs in turn (the order rotating every round), so slow drifts of the machine hit all
 *     alike; only one client works at a time. A run reads process.cpuUsage() around a sliding window of echoes.
 *       pipelined: 64 messages in flight (every echo sends the next); throughput-bound, the least syscall
 *                  overhead per message, so library overhead shows most. The primary figure.
 *       burst:     100,000 messages sent in one synchronous loop, then every echo awaited: the send path with
 *                  nothing coming back in between (a log or queue that grows per write shows here), then the
 *                  receive path in a long run.
 *       ping-pong: 1 message in flight; latency-bound; every round trip is timed too (figure 2).
 *   - heap-client.ts, a fresh child per measurement with --expose-gc: gc, heapUsed, open N connections, wait for all
 *     to open, one echo on each, gc (several times), heapUsed; (after - before) / N.
 *   - scenario-client.ts, children for figures 4 to 6 (see there). The blackhole children run in the background
 *     from the heap phase on (they only wait on timers); everything else runs one phase at a time.
 * Clients are pinned to the first core, the server to the last (taskset), so they never share a core.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type BundleSize, measureBundles } from './bundle-size.js';
import {
  CLIENT_KINDS,
  type ClientKind,
  type CpuCommand,
  type CpuReply,
  type HeapKind,
  type HeapReply,
  KILL_KINDS,
  type KillKind,
  RECONNECTING_KINDS,
  type ScenarioCommand,
  type ScenarioReply,
  median,
  protocolOf,
  quantile,
  urlFor,
  XSTATE_FLOOR_KINDS,
} from './common.js';
import type { ServerRequestBody, ServerResponse, ServerRole } from './server.js';
import type { SharedResult } from './shared.js';

// ---- configuration ------------------------------------------------------------------------------------------------

const quick = process.argv.includes('--quick');
const underTsx = process.argv.includes('--tsx');
const PHASES = ['cpu', 'heap', 'reconnect', 'blackhole', 'kill', 'bundle', 'redis', 'shared'] as const;
type Phase = (typeof PHASES)[number];
const onlyArg = process.argv.find((arg) => arg.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',')) : null;
if (only) for (const phase of only) if (!PHASES.includes(phase as Phase)) throw new Error(`--only: unknown phase ${phase} (${PHASES.join(', ')})`);
const phaseEnabled = (phase: Phase) => only === null || only.has(phase);

interface Workload {
  name: 'pipelined' | 'burst' | 'ping-pong';
  window: number;
  messages: number;
}

const config = quick
  ? {
      mode: 'quick',
      runs: 2,
      warmupMessages: 2_000,
      workloads: [
        { name: 'pipelined', window: 64, messages: 5_000 },
        { name: 'burst', window: 10_000, messages: 10_000 },
        { name: 'ping-pong', window: 1, messages: 1_000 },
      ] as Workload[],
      heapConnections: 100,
      heapRepeats: 1,
      reconnect: { connections: 20, rounds: 1, healthyMs: 5_500, timeoutMs: 12_000 },
      blackhole: { connections: 5, capMs: 20_000, settleMs: 1_000 },
      kill: { messages: 2_000, rate: 1, every: 1_000, drainMs: 12_000, runs: 1 },
    }
  : {
      mode: 'full',
      runs: 7,
      warmupMessages: 30_000,
      workloads: [
        { name: 'pipelined', window: 64, messages: 50_000 },
        { name: 'burst', window: 100_000, messages: 100_000 },
        { name: 'ping-pong', window: 1, messages: 20_000 },
      ] as Workload[],
      heapConnections: 1_000,
      heapRepeats: 3,
      reconnect: { connections: 50, rounds: 3, healthyMs: 5_500, timeoutMs: 15_000 },
      blackhole: { connections: 10, capMs: 50_000, settleMs: 1_000 },
      kill: { messages: 5_000, rate: 1, every: 1_000, drainMs: 15_000, runs: 3 },
    };

const runsArg = process.argv.find((arg) => arg.startsWith('--runs='));
if (runsArg) {
  const runs = Number(runsArg.slice('--runs='.length));
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: a whole number of rounds, at least 1; got ${runsArg}`);
  config.runs = runs;
}
const kindsArg = process.argv.find((arg) => arg.startsWith('--kinds='));
/** The CPU phase's clients: all, or those named (ws, the floor every ratio divides by, always runs). */
const CPU_KINDS: readonly ClientKind[] = kindsArg
  ? CLIENT_KINDS.filter((kind) => kind === 'ws' || kindsArg.slice('--kinds='.length).split(',').includes(kind))
  : CLIENT_KINDS;
if (kindsArg) {
  for (const kind of kindsArg.slice('--kinds='.length).split(',')) {
    if (!CLIENT_KINDS.includes(kind as ClientKind)) throw new Error(`--kinds: unknown client ${kind} (${CLIENT_KINDS.join(', ')})`);
  }
}

const ALL_HEAP_KINDS: readonly HeapKind[] = [...CLIENT_KINDS, 'socketchart-pooled', 'socketchart-nosocket', 'actor', ...XSTATE_FLOOR_KINDS];
/** With --kinds, the heap phase measures those kinds and ws (the floors and parts need the whole run). */
const HEAP_KINDS: readonly HeapKind[] = kindsArg ? ALL_HEAP_KINDS.filter((kind) => CPU_KINDS.includes(kind as ClientKind)) : ALL_HEAP_KINDS;
/** The targets of issue 10 (CPU both pipelined and in a burst; heap of a standalone connection). */
const TARGETS = {
  cpuRatio: 1.05,
  heapBytesPerConnection: 12 * 1024,
  pooledHeapBytesPerConnection: 10 * 1024,
  reconnectMedianMs: 250,
  blackholeDetectMs: 20_000,
  bundleGzipBytes: 20 * 1024,
  ackedLost: 0,
};

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
/** Where the bundles go for the run (git-ignored by bench/.gitignore, deleted afterwards). */
const outdir = here('./.build');

type Entry = 'server' | 'cpu-client' | 'heap-client' | 'scenario-client';
const ENTRIES: readonly Entry[] = ['server', 'cpu-client', 'heap-client', 'scenario-client'];

/** Bundles the child entries (unless --tsx) and returns the node arguments that run one. */
async function prepareChildren(): Promise<(entry: Entry) => string[]> {
  if (underTsx) {
    const tsxLoader = import.meta.resolve('tsx');
    return (entry) => ['--import', tsxLoader, here(`./${entry}.ts`)];
  }
  await build({
    entryPoints: Object.fromEntries(ENTRIES.map((entry) => [entry, here(`./${entry}.ts`)])),
    outdir,
    outExtension: { '.js': '.bundle.js' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    logLevel: 'warning',
  });
  return (entry) => [`${outdir}/${entry}.bundle.js`];
}

let childArgs: (entry: Entry) => string[];

/**
 * On Linux with 2+ cores, the server is pinned to the last core and the clients to the first (taskset), so a
 * client never shares its core with the server and ping-pong does not flip between "same core" and "other core".
 */
const pinning = process.platform === 'linux' && os.cpus().length >= 2 && !process.argv.includes('--no-pin') &&
  spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const SERVER_CPU = String(os.cpus().length - 1);
const CLIENT_CPU = '0';

// ---- child processes ----------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

/** A child with an IPC channel whose messages can be awaited one at a time, or answered by `rid` (requests). */
class Child<In> {
  readonly process: ChildProcess;
  readonly #inbox: In[] = [];
  readonly #waiters: Array<{ resolve(message: In): void; reject(error: Error): void }> = [];
  readonly #pending = new Map<number, { resolve(message: unknown): void; reject(error: Error): void }>();
  #rid = 0;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    args: string[],
    cpu: string,
  ) {
    const [command, argv] = pinning ? ['taskset', ['-c', cpu, process.execPath, ...args]] : [process.execPath, args];
    const child = spawn(command, argv, {
      cwd: here('..'),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.process = child;
    children.add(child);
    child.on('message', (message: In) => {
      const rid = (message as { rid?: unknown }).rid;
      const pending = typeof rid === 'number' ? this.#pending.get(rid) : undefined;
      if (pending) {
        this.#pending.delete(rid as number);
        const m = message as { type: string; message?: string };
        if (m.type === 'error') pending.reject(new Error(`${name}: ${m.message ?? ''}`));
        else pending.resolve(message);
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(message);
      else this.#inbox.push(message);
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        children.delete(child);
        const error = new Error(`${name} exited (code ${code})`);
        for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
        resolve(code);
      });
    });
  }

  /** The next message, or an error after `timeoutMs` / if the child exits first. */
  next(timeoutMs = 300_000): Promise<In> {
    const queued = this.#inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.process.exitCode !== null) return Promise.reject(new Error(`${this.name} has exited`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        resolve: (message) => (clearTimeout(timer), resolve(message)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
    });
  }

  /** Sends `message` with a fresh `rid` and resolves with the reply carrying the same `rid`. */
  request<R>(message: object, timeoutMs = 60_000): Promise<R> {
    const rid = ++this.#rid;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rid);
        reject(new Error(`${this.name}: no answer to ${JSON.stringify(message)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(rid, {
        resolve: (reply) => (clearTimeout(timer), resolve(reply as R)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.send({ ...message, rid });
    });
  }

  /** Sends if the channel is still open; a child that is already exiting just misses it. */
  send(message: unknown): void {
    if (this.process.connected) this.process.send(message as never, (error: Error | null) => void error);
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5_000);
    if (this.process.connected) this.process.disconnect();
    await this.exited;
    clearTimeout(timer);
  }
}

function expectOk<T extends { type: string }>(message: T, name: string): T {
  if (message.type === 'error') throw new Error(`${name}: ${(message as unknown as { message: string }).message}`);
  return message;
}

/** Narrow a child's reply to one type, or throw. */
function expectType<T extends { type: string }, K extends T['type']>(message: T, type: K, name: string): Extract<T, { type: K }> {
  expectOk(message, name);
  if (message.type !== type) throw new Error(`${name}: expected ${type}, got ${JSON.stringify(message)}`);
  return message as Extract<T, { type: K }>;
}

class BenchServer {
  constructor(readonly child: Child<{ type: string }>) {}

  static async start(): Promise<BenchServer> {
    const child = new Child<{ type: string }>('server', childArgs('server'), SERVER_CPU);
    expectType(await child.next(30_000), 'started', 'server');
    return new BenchServer(child);
  }

  request<T extends ServerResponse['type']>(request: ServerRequestBody, expect: T): Promise<Extract<ServerResponse, { type: T }>> {
    return this.child.request<ServerResponse>(request).then((reply) => expectType(reply, expect, 'server'));
  }

  async listen(id: string, role: ServerRole, protocol: 'ws' | 'io'): Promise<number> {
    return (await this.request({ type: 'listen', id, role, protocol }, 'listening')).port;
  }

  async stop(): Promise<void> {
    this.child.send({ type: 'stop' });
    await this.child.stop();
  }
}

// ---- statistics ---------------------------------------------------------------------------------------------------

/** (max - min) / median, as a percentage: how far apart the runs were. */
function spread(values: number[]): number {
  return ((Math.max(...values) - Math.min(...values)) / median(values)) * 100;
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = ((by % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

// ---- 1 + 2: CPU and RTT -------------------------------------------------------------------------------------------

interface CpuRun {
  nsPerMessage: number;
  userNsPerMessage: number;
  systemNsPerMessage: number;
  messagesPerSecond: number;
  rttMedianUs?: number;
  rttP99Us?: number;
}

interface CpuKindResult {
  medianNsPerMessage: number;
  medianUserNsPerMessage: number;
  spreadPercent: number;
  /** median(kind) / median(ws), user + system */
  ratio: number;
  /** the same for user time only: where library code runs (system time is the kernel's socket work) */
  userRatio: number;
  /** median of the per-round ratios kind / ws (each round runs every kind once) */
  medianPairRatio: number;
  /** ping-pong: median over the runs of each run's median round trip, and of its p99 */
  rttMedianUs?: number;
  rttP99Us?: number;
  runs: CpuRun[];
}

interface CpuResult {
  workload: string;
  window: number;
  messages: number;
  runs: number;
  /** The kinds that ran (all, or --kinds and ws). */
  perKind: Partial<Record<ClientKind, CpuKindResult>>;
}

async function measureCpu(urls: Record<'ws' | 'io', string>): Promise<CpuResult[]> {
  const clients = {} as Record<ClientKind, Child<CpuReply>>;
  try {
    for (const kind of CPU_KINDS) {
      const child = new Child<CpuReply>(`cpu client ${kind}`, [
        ...childArgs('cpu-client'),
        kind,
        urls[protocolOf(kind) === 'io' ? 'io' : 'ws'],
        String(config.warmupMessages),
      ], CLIENT_CPU);
      clients[kind] = child;
      expectOk(await child.next(), child.name);
      log(`  ${kind} client ready (warmed up)`);
    }

    const results: CpuResult[] = [];
    for (const workload of config.workloads) {
      const runs = Object.fromEntries(CLIENT_KINDS.map((kind) => [kind, [] as CpuRun[]])) as Record<ClientKind, CpuRun[]>;
      for (let r = 0; r < config.runs; r++) {
        for (const kind of rotate(CPU_KINDS, r)) {
          const child = clients[kind];
          const command: CpuCommand = { type: 'run', messages: workload.messages, window: workload.window };
          child.send(command);
          const reply = expectType(await child.next(), 'result', child.name);
          const total = (reply.userUs + reply.systemUs) * 1000;
          runs[kind].push({
            nsPerMessage: total / reply.messages,
            userNsPerMessage: (reply.userUs * 1000) / reply.messages,
            systemNsPerMessage: (reply.systemUs * 1000) / reply.messages,
            messagesPerSecond: reply.messages / (reply.wallMs / 1000),
            ...(reply.rttMedianUs !== undefined ? { rttMedianUs: reply.rttMedianUs, rttP99Us: reply.rttP99Us as number } : {}),
          });
        }
        const last = (kind: ClientKind) => (runs[kind].at(-1) as CpuRun).nsPerMessage.toFixed(0);
        log(`  ${workload.name} run ${r + 1}/${config.runs}: ${CPU_KINDS.map((kind) => `${kind} ${last(kind)}`).join(', ')} ns/msg`);
      }
      const wsMedian = median(runs.ws.map((run) => run.nsPerMessage));
      const wsUserMedian = median(runs.ws.map((run) => run.userNsPerMessage));
      const perKind = {} as CpuResult['perKind'];
      for (const kind of CPU_KINDS) {
        const ns = runs[kind].map((run) => run.nsPerMessage);
        const user = median(runs[kind].map((run) => run.userNsPerMessage));
        const rtts = runs[kind].flatMap((run) => (run.rttMedianUs === undefined ? [] : [run.rttMedianUs]));
        const p99s = runs[kind].flatMap((run) => (run.rttP99Us === undefined ? [] : [run.rttP99Us]));
        perKind[kind] = {
          medianNsPerMessage: median(ns),
          medianUserNsPerMessage: user,
          spreadPercent: spread(ns),
          ratio: median(ns) / wsMedian,
          userRatio: user / wsUserMedian,
          medianPairRatio: median(runs[kind].map((run, i) => run.nsPerMessage / (runs.ws[i] as CpuRun).nsPerMessage)),
          ...(rtts.length > 0 ? { rttMedianUs: median(rtts), rttP99Us: median(p99s) } : {}),
          runs: runs[kind],
        };
      }
      results.push({ workload: workload.name, window: workload.window, messages: workload.messages, runs: config.runs, perKind });
    }

    for (const kind of CPU_KINDS) {
      clients[kind].send({ type: 'stop' } satisfies CpuCommand);
      const reply = await clients[kind].next(10_000).catch(() => null);
      if (reply && reply.type !== 'stopped') expectOk(reply, clients[kind].name);
    }
    return results;
  } finally {
    await Promise.all(Object.values(clients).map((child) => child.stop()));
  }
}

// ---- 3: heap ------------------------------------------------------------------------------------------------------

interface HeapResult {
  kind: HeapKind;
  connections: number;
  /** heapUsed growth per connection, per repeat */
  bytesPerConnection: number[];
  medianBytesPerConnection: number;
  /** `external` growth (Buffers, outside the JS heap) per connection, median */
  medianExternalPerConnection: number;
  medianOpenMs: number;
}

async function measureHeap(urls: Record<'ws' | 'io', string>): Promise<HeapResult[]> {
  const samples = new Map<HeapKind, Array<Extract<HeapReply, { type: 'result' }>>>();
  for (let r = 0; r < config.heapRepeats; r++) {
    for (const kind of rotate(HEAP_KINDS, r)) {
      const child = new Child<HeapReply>(`heap client ${kind}`, [
        '--expose-gc',
        ...childArgs('heap-client'),
        kind,
        kind === 'socket.io' ? urls.io : urls.ws,
        String(config.heapConnections),
      ], CLIENT_CPU);
      try {
        const reply = expectType(await child.next(120_000), 'result', child.name);
        samples.set(kind, [...(samples.get(kind) ?? []), reply]);
        const per = (reply.heapAfter - reply.heapBefore) / reply.connections;
        log(`  heap ${kind} (${r + 1}/${config.heapRepeats}): ${(per / 1024).toFixed(2)} KB per connection`);
        // The child closes its connections and exits; give it a moment before killing it.
        await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
      } finally {
        await child.stop();
      }
    }
  }
  return HEAP_KINDS.map((kind) => {
    const list = samples.get(kind) ?? [];
    const bytes = list.map((s) => (s.heapAfter - s.heapBefore) / s.connections);
    return {
      kind,
      connections: config.heapConnections,
      bytesPerConnection: bytes,
      medianBytesPerConnection: median(bytes),
      medianExternalPerConnection: median(list.map((s) => (s.externalAfter - s.externalBefore) / s.connections)),
      medianOpenMs: median(list.map((s) => s.openMs)),
    };
  });
}

// ---- 4: reconnect after a server-side drop ------------------------------------------------------------------------

interface ReconnectResult {
  kind: ClientKind;
  connections: number;
  rounds: number;
  /** over every reconnect of every round */
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  maxMs: number;
  /** per round (one drop of all connections at once): median, p10, p90 */
  perRound: Array<{ medianMs: number; p10Ms: number; p90Ms: number; notReopened: number }>;
  /** median over rounds of (p90 - p10) within a round: how spread out one drop's reconnects are */
  withinRoundSpreadMs: number;
  /** median over rounds of the round's p10 and p90 */
  withinRoundP10Ms: number;
  withinRoundP90Ms: number;
  /** connections not open again within the timeout, all rounds */
  notReopened: number;
  /** median ms from the server's drop to the client's close event (the shared clock's sanity check) */
  medianNoticeMs: number;
}

async function measureReconnect(server: BenchServer): Promise<ReconnectResult[]> {
  const { connections, rounds, healthyMs, timeoutMs } = config.reconnect;
  const samples = new Map<ClientKind, { all: number[]; notice: number[]; perRound: ReconnectResult['perRound'] }>(
    RECONNECTING_KINDS.map((kind) => [kind, { all: [], notice: [], perRound: [] }]),
  );
  for (let round = 0; round < rounds; round++) {
    // Fresh processes every round: reconnecting-websocket draws its default delay once per process.
    const setups = await Promise.all(
      RECONNECTING_KINDS.map(async (kind) => {
        const id = `drop-${kind}-${round}`;
        const port = await server.listen(id, 'echo', protocolOf(kind) === 'io' ? 'io' : 'ws');
        const child = new Child<ScenarioReply>(`reconnect client ${kind}`, [
          ...childArgs('scenario-client'),
          'reconnect',
          kind,
          urlFor(kind, port),
          String(connections),
        ], CLIENT_CPU);
        return { kind, id, child };
      }),
    );
    try {
      for (const { child } of setups) expectType(await child.next(60_000), 'ready', child.name);
      // Let every connection count as healthy (socketchart's backoff.resetAfter and the others' minUptime: 5 s).
      await new Promise((resolve) => setTimeout(resolve, healthyMs));
      for (const { kind, id, child } of rotate(setups, round)) {
        const { at, sockets } = await server.request({ type: 'drop', ids: [id] }, 'dropped');
        child.send({ type: 'measure', at, timeoutMs } satisfies ScenarioCommand);
        const reply = expectType(await child.next(timeoutMs + 30_000), 'reconnected', child.name);
        const reopened = reply.reopenMs.filter((ms): ms is number => ms !== null);
        const entry = samples.get(kind) as NonNullable<ReturnType<typeof samples.get>>;
        entry.all.push(...reopened);
        entry.notice.push(...reply.noticeMs.filter((ms): ms is number => ms !== null));
        entry.perRound.push({
          medianMs: median(reopened),
          p10Ms: quantile(reopened, 0.1),
          p90Ms: quantile(reopened, 0.9),
          notReopened: reply.reopenMs.length - reopened.length,
        });
        log(`  reconnect ${kind} (round ${round + 1}/${rounds}, ${sockets} sockets dropped): median ${median(reopened).toFixed(0)} ms, p10 ${quantile(reopened, 0.1).toFixed(0)}, p90 ${quantile(reopened, 0.9).toFixed(0)}${reopened.length < connections ? `, ${connections - reopened.length} not back within ${timeoutMs} ms` : ''}`);
      }
    } finally {
      for (const { child } of setups) child.send({ type: 'stop' } satisfies ScenarioCommand);
      await Promise.all(setups.map(({ child }) => child.stop()));
      await server.request({ type: 'close', ids: setups.map(({ id }) => id) }, 'ok');
    }
  }
  return RECONNECTING_KINDS.map((kind) => {
    const { all, notice, perRound } = samples.get(kind) as NonNullable<ReturnType<typeof samples.get>>;
    return {
      kind,
      connections,
      rounds,
      medianMs: median(all),
      p10Ms: quantile(all, 0.1),
      p90Ms: quantile(all, 0.9),
      maxMs: Math.max(...all),
      perRound,
      withinRoundSpreadMs: median(perRound.map((r) => r.p90Ms - r.p10Ms)),
      withinRoundP10Ms: median(perRound.map((r) => r.p10Ms)),
      withinRoundP90Ms: median(perRound.map((r) => r.p90Ms)),
      notReopened: perRound.reduce((sum, r) => sum + r.notReopened, 0),
      medianNoticeMs: median(notice),
    };
  });
}

// ---- 5: blackhole detection ---------------------------------------------------------------------------------------

interface BlackholeResult {
  kind: ClientKind;
  connections: number;
  capMs: number;
  detected: number;
  /** of the connections that noticed */
  medianMs: number | null;
  maxMs: number | null;
}

/** Starts every kind's blackhole child at once; resolves when all have reported (they run in the background). */
function startBlackhole(ports: Record<'ws' | 'io', number>): Promise<BlackholeResult[]> {
  const { connections, capMs, settleMs } = config.blackhole;
  return Promise.all(
    CLIENT_KINDS.map(async (kind): Promise<BlackholeResult> => {
      const child = new Child<ScenarioReply>(`blackhole client ${kind}`, [
        ...childArgs('scenario-client'),
        'blackhole',
        kind,
        String(ports[protocolOf(kind) === 'io' ? 'io' : 'ws']),
        String(connections),
        String(capMs),
        String(settleMs),
      ], CLIENT_CPU);
      try {
        expectType(await child.next(60_000), 'ready', child.name);
        const reply = expectType(await child.next(settleMs + capMs + 30_000), 'blackhole', child.name);
        const detected = reply.detectMs.filter((ms): ms is number => ms !== null);
        log(`  blackhole ${kind}: ${detected.length}/${connections} noticed${detected.length ? `, median ${(median(detected) / 1000).toFixed(1)} s` : ''} (waited up to ${capMs / 1000} s)`);
        return {
          kind,
          connections,
          capMs,
          detected: detected.length,
          medianMs: detected.length > 0 ? median(detected) : null,
          maxMs: detected.length > 0 ? Math.max(...detected) : null,
        };
      } finally {
        await child.stop();
      }
    }),
  );
}

// ---- 6: messages lost under kill-every-second ---------------------------------------------------------------------

interface KillRun {
  sent: number;
  delivered: number;
  duplicates: number;
  /** messages the client reported as not delivered (socketchart `drop` events) */
  reported: number;
  /** of those, the ones that arrived after all (plain mode's `unconfirmed`: "may not have arrived") */
  reportedButDelivered: number;
  /** neither delivered nor reported: gone without any signal (matched message by message) */
  silentlyLost: number;
  /** the reported ones by `drop` reason */
  dropReasons: Record<string, number>;
  opens: number;
}

interface KillResult {
  kind: KillKind;
  messages: number;
  runs: KillRun[];
  kills: number[];
  medianSilentlyLost: number;
  maxSilentlyLost: number;
  medianReported: number;
  medianDuplicates: number;
  medianUndelivered: number;
}

async function measureKill(server: BenchServer): Promise<KillResult[]> {
  const { messages, rate, every, drainMs, runs } = config.kill;
  const perKind = new Map<KillKind, KillRun[]>(KILL_KINDS.map((kind) => [kind, []]));
  const kills: number[] = [];
  for (let run = 0; run < runs; run++) {
    const setups = await Promise.all(
      KILL_KINDS.map(async (kind) => {
        const id = `kill-${kind}-${run}`;
        const protocol = protocolOf(kind);
        const port = await server.listen(id, protocol === 'ack' ? 'ack-count' : 'count', protocol === 'io' ? 'io' : 'ws');
        const child = new Child<ScenarioReply>(`kill client ${kind}`, [
          ...childArgs('scenario-client'),
          'kill',
          kind,
          urlFor(kind, port),
          String(messages),
          String(rate),
        ], CLIENT_CPU);
        return { kind, id, child };
      }),
    );
    const ids = setups.map(({ id }) => id);
    try {
      for (const { child } of setups) expectType(await child.next(60_000), 'ready', child.name);
      await server.request({ type: 'killer', ids, every }, 'ok');
      for (const { child } of setups) child.send({ type: 'go' } satisfies ScenarioCommand);
      for (const { child } of setups) expectType(await child.next(messages / rate + 60_000), 'sent', child.name);
      const { kills: killCount = 0 } = await server.request({ type: 'killer-off' }, 'ok');
      kills.push(killCount);
      // Drain: until every message arrived or was reported, or drainMs.
      const deadline = Date.now() + drainMs;
      while (Date.now() < deadline) {
        const { tallies } = await server.request({ type: 'tally', ids, withSeen: true }, 'tally');
        let done = true;
        for (const { id, child } of setups) {
          child.send({ type: 'drops' } satisfies ScenarioCommand);
          const { droppedIds } = expectType(await child.next(10_000), 'drops', child.name);
          // Accounted for: arrived or reported (a message can be both: plain mode reports what it could not confirm).
          if (new Set([...(tallies[id]?.seen ?? []), ...droppedIds]).size < messages) done = false;
        }
        if (done) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const opens = new Map<string, number>();
      const states = new Map<string, string>();
      for (const { id, child } of setups) {
        child.send({ type: 'drops' } satisfies ScenarioCommand);
        const reply = expectType(await child.next(10_000), 'drops', child.name);
        opens.set(id, reply.opens);
        states.set(id, reply.state);
      }
      const { tallies } = await server.request({ type: 'tally', ids, withSeen: true }, 'tally');
      for (const { kind, id, child } of setups) {
        // Closing reports what is still queued (socketchart plain); the others drop their queue silently.
        child.send({ type: 'stop' } satisfies ScenarioCommand);
        const { drops, dropReasons, droppedIds } = expectType(await child.next(15_000), 'stopped', child.name);
        const tally = tallies[id] ?? { distinct: 0, duplicates: 0, seen: [] };
        const arrived = new Set(tally.seen);
        const reportedIds = new Set(droppedIds);
        let silentlyLost = 0;
        for (let i = 0; i < messages; i++) if (!arrived.has(i) && !reportedIds.has(i)) silentlyLost++;
        const result: KillRun = {
          sent: messages,
          delivered: tally.distinct,
          duplicates: tally.duplicates,
          reported: drops,
          reportedButDelivered: [...reportedIds].filter((i) => arrived.has(i)).length,
          silentlyLost,
          dropReasons,
          opens: opens.get(id) ?? 0,
        };
        perKind.get(kind)?.push(result);
        log(`  kill ${kind} (run ${run + 1}/${runs}, ${killCount} kills): delivered ${result.delivered}/${messages}, reported ${result.reported}${result.reported ? ` ${JSON.stringify(dropReasons)}, ${result.reportedButDelivered} of them arrived` : ''}, silently lost ${result.silentlyLost}, duplicates ${result.duplicates}, opens ${result.opens}` +
          (result.silentlyLost > 0 ? ` [at the end: ${states.get(id)}]` : ''));
      }
    } finally {
      await server.request({ type: 'killer-off' }, 'ok').catch(() => undefined);
      for (const { child } of setups) child.send({ type: 'stop' } satisfies ScenarioCommand);
      await Promise.all(setups.map(({ child }) => child.stop()));
      await server.request({ type: 'close', ids }, 'ok');
    }
  }
  return KILL_KINDS.map((kind) => {
    const list = perKind.get(kind) ?? [];
    return {
      kind,
      messages,
      runs: list,
      kills,
      medianSilentlyLost: median(list.map((r) => r.silentlyLost)),
      maxSilentlyLost: Math.max(...list.map((r) => r.silentlyLost)),
      medianReported: median(list.map((r) => r.reported)),
      medianDuplicates: median(list.map((r) => r.duplicates)),
      medianUndelivered: median(list.map((r) => r.sent - r.delivered)),
    };
  });
}

// ---- output -------------------------------------------------------------------------------------------------------

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function table(rows: string[][]): string {
  const widths = (rows[0] as string[]).map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  const line = (row: string[]) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] as number) : cell.padStart(widths[col] as number))).join('  ');
  return [line(rows[0] as string[]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function markdownTable(rows: string[][]): string {
  const line = (row: string[]) => `| ${row.join(' | ')} |`;
  const header = rows[0] as string[];
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.slice(1).map(line)].join('\n');
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const kb1 = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Results {
  environment: Record<string, string>;
  cpu: CpuResult[];
  heap: HeapResult[];
  reconnect: ReconnectResult[];
  blackhole: BlackholeResult[];
  kill: KillResult[];
  bundles: BundleSize[];
  /** bench/redisStore.ts: the server with its sessions in Redis against the memory store (null: no redis-server). */
  redisStore: RedisStoreResult | null;
  /** bench/shared.ts: a shared connection's echo round trip, leader tab vs follower tab (null: no Chromium, or not run). */
  shared: SharedResult | null;
}

interface RedisStoreRow {
  store: 'memory' | 'redis';
  resumeMedianMs: number;
  resumeP99Ms: number;
  inboundUsPerMsgWall: number;
  outboundUsPerMsgWall: number;
}

interface RedisStoreResult {
  resumes: number;
  held: number;
  messages: number;
  rows: RedisStoreRow[];
}

/** Runs bench/redisStore.ts (it starts its own redis-server on a free port) when redis-server is installed. */
function measureRedisStore(): RedisStoreResult | null {
  const binary = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
  if (spawnSync(binary, ['--version']).status !== 0) {
    log(`redis store: skipped (no ${binary})`);
    return null;
  }
  const run = spawnSync(process.execPath, ['--import', 'tsx', here('./redisStore.ts'), '--json'], { encoding: 'utf8', timeout: 300_000 });
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.status !== 0 || !last.startsWith('{')) throw new Error(`bench/redisStore.ts failed (${run.status}): ${run.stderr.slice(-500)}`);
  return JSON.parse(last) as RedisStoreResult;
}

/** Runs bench/shared.ts (headless Chromium, its own echo server) when Chromium is installed. */
function measureSharedTabs(): SharedResult | null {
  const binary = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (spawnSync(binary, ['--version']).status !== 0) {
    log(`shared connection: skipped (no ${binary})`);
    return null;
  }
  const env = quick ? { ...process.env, RUNS: '2', ECHOES: '100', WARMUP: '20' } : process.env;
  const run = spawnSync(process.execPath, ['--import', 'tsx', here('./shared.ts'), '--json'], { encoding: 'utf8', timeout: 300_000, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.status !== 0 || !last.startsWith('{')) throw new Error(`bench/shared.ts failed (${run.status}): ${run.stdout.slice(-500)}`);
  return JSON.parse(last) as SharedResult;
}

type SummaryRow = 'ws' | 'reconnecting-websocket' | 'partysocket' | 'socket.io' | 'socketchart' | 'socketchart + atLeastOnce';
const SUMMARY_ROWS: readonly SummaryRow[] = [...CLIENT_KINDS, 'socketchart + atLeastOnce'];

/**
 * What XState costs before any connection logic, from this run's figures (a part is missing if its phase did not
 * run). Heap: the trivial actor kinds against the bare `ws` client; bundle: the `xstate floor` row against the target.
 */
interface Floors {
  heap?: {
    /** a bare `ws` client */
    wsBytes: number;
    /** `createActor(trivial machine).start()`, with its own actor system */
    trivialActorBytes: number;
    /** what invoking one `fromCallback` child adds to it */
    invokedChildBytes: number;
    /** the trivial actor when it joins one shared actor system (`{ parent: root }`) */
    sharedSystemActorBytes: number;
    /** ws + trivial actor + invoked child: the least a socket-per-actor-with-child design can cost */
    connectionFloorBytes: number;
    /** the same with a shared system (ws + shared-system actor + child; a sum of measured parts, not measured whole) */
    sharedConnectionFloorBytes: number;
    targetBytes: number;
    /** socketchart's measured heap per connection, if it ran */
    socketchartBytes?: number;
  };
  bundle?: {
    /** `setup` + `createActor` + `fromCallback`, min+gzip */
    xstateGzipBytes: number;
    /** the connection machine alone, min+gzip (with the xstate it uses) */
    connectionMachineGzipBytes?: number;
    targetGzipBytes: number;
    socketchartGzipBytes?: number;
  };
}

function floorsOf(r: Results): Floors {
  const floors: Floors = {};
  const heapOf = (kind: HeapKind) => {
    const bytes = r.heap.find((h) => h.kind === kind)?.medianBytesPerConnection;
    return bytes !== undefined && Number.isFinite(bytes) ? bytes : undefined;
  };
  const ws = heapOf('ws');
  const trivial = heapOf('xstate-trivial');
  const withChild = heapOf('xstate-trivial-child');
  const shared = heapOf('xstate-shared-system');
  if (ws !== undefined && trivial !== undefined && withChild !== undefined && shared !== undefined) {
    const child = withChild - trivial;
    const socketchart = heapOf('socketchart');
    floors.heap = {
      wsBytes: ws,
      trivialActorBytes: trivial,
      invokedChildBytes: child,
      sharedSystemActorBytes: shared,
      connectionFloorBytes: ws + withChild,
      sharedConnectionFloorBytes: ws + shared + child,
      targetBytes: TARGETS.heapBytesPerConnection,
      ...(socketchart !== undefined ? { socketchartBytes: socketchart } : {}),
    };
  }
  const gzipOf = (client: BundleSize['client']) => r.bundles.find((b) => b.client === client)?.gzipBytes;
  const xstate = gzipOf('xstate floor');
  if (xstate !== undefined) {
    const machine = gzipOf('connection machine');
    const socketchart = gzipOf('socketchart');
    floors.bundle = {
      xstateGzipBytes: xstate,
      ...(machine !== undefined ? { connectionMachineGzipBytes: machine } : {}),
      targetGzipBytes: TARGETS.bundleGzipBytes,
      ...(socketchart !== undefined ? { socketchartGzipBytes: socketchart } : {}),
    };
  }
  return floors;
}

/** The floors as sentences, one per line (plain text; the README section makes a list of them). */
function floorLines(floors: Floors): string[] {
  const lines: string[] = [];
  const h = floors.heap;
  if (h) {
    const rest = h.targetBytes - h.connectionFloorBytes;
    lines.push(
      `XState floor (heap/conn): a started trivial actor ${kb(h.trivialActorBytes)} (+${kb(h.invokedChildBytes)} for an invoked child; ` +
        `${kb(h.sharedSystemActorBytes)} under a shared system, ${kb(h.trivialActorBytes - h.sharedSystemActorBytes)} less); ` +
        `bare ws socket ${kb(h.wsBytes)} -> floor for a connection = ws + trivial actor + child = ${kb(h.connectionFloorBytes)} ` +
        `before any connection logic: ${((h.connectionFloorBytes / h.targetBytes) * 100).toFixed(0)}% of the ${kb(h.targetBytes)} target, ` +
        (rest >= 0 ? `leaving ${kb(rest)} for everything else` : `${kb(-rest)} over it already`) +
        ` (with a shared system: ${kb(h.sharedConnectionFloorBytes)})` +
        (h.socketchartBytes !== undefined ? `; socketchart measures ${kb(h.socketchartBytes)}, ${kb(h.socketchartBytes - h.connectionFloorBytes)} above the floor.` : '.'),
    );
  }
  const b = floors.bundle;
  if (b) {
    const rest = b.targetGzipBytes - b.xstateGzipBytes;
    lines.push(
      `XState floor (bundle): xstate (setup + createActor + fromCallback) ${kb(b.xstateGzipBytes)} min+gzip, ` +
        `${((b.xstateGzipBytes / b.targetGzipBytes) * 100).toFixed(0)}% of the ${kb(b.targetGzipBytes)} target, ` +
        (rest >= 0 ? `leaving ${kb(rest)} for the client itself` : `${kb(-rest)} over it already`) +
        (b.connectionMachineGzipBytes !== undefined ? `; the connection machine alone (with its xstate) ${kb(b.connectionMachineGzipBytes)}` : '') +
        (b.socketchartGzipBytes !== undefined ? `; socketchart ${kb(b.socketchartGzipBytes)}.` : '.'),
    );
  }
  return lines;
}

/** The one-table view: a row per client, a column per figure. */
function summaryRows(r: Results): string[][] {
  const pipelined = r.cpu.find((c) => c.workload === 'pipelined');
  const pingPong = r.cpu.find((c) => c.workload === 'ping-pong');
  const rows: string[][] = [[
    'client',
    'CPU/msg (vs ws)',
    'RTT median',
    'heap/conn',
    'reconnect median',
    'one drop: p10-p90',
    'blackhole detected',
    `silently lost of ${config.kill.messages.toLocaleString('en-US')}: median (max)`,
    'reported drops',
    'bundle min+gz',
  ]];
  for (const row of SUMMARY_ROWS) {
    const kind = row === 'socketchart + atLeastOnce' ? null : row;
    const cpu = kind && pipelined ? pipelined.perKind[kind] : undefined;
    const rtt = kind && pingPong ? pingPong.perKind[kind]?.rttMedianUs : undefined;
    const heap = kind ? r.heap.find((h) => h.kind === kind) : undefined;
    const reconnect = kind ? r.reconnect.find((x) => x.kind === kind) : undefined;
    const blackhole = kind ? r.blackhole.find((x) => x.kind === kind) : undefined;
    const killKind: KillKind | null = row === 'socketchart + atLeastOnce' ? 'socketchart-acked' : row === 'ws' ? null : row;
    const kill = killKind ? r.kill.find((x) => x.kind === killKind) : undefined;
    const bundle = r.bundles.find((b) => b.client === row);
    rows.push([
      row,
      cpu ? `${(cpu.medianNsPerMessage / 1000).toFixed(2)} µs (${cpu.ratio.toFixed(2)}x)` : '–',
      rtt !== undefined ? `${rtt.toFixed(0)} µs` : '–',
      heap ? kb1(heap.medianBytesPerConnection) : '–',
      reconnect
        ? `${reconnect.medianMs.toFixed(0)} ms${reconnect.notReopened ? ` (${reconnect.notReopened} never)` : ''}`
        : kind === 'ws'
          ? 'no reconnect'
          : '–',
      reconnect
        ? `${reconnect.withinRoundP10Ms.toFixed(0)}-${reconnect.withinRoundP90Ms.toFixed(0)} ms${reconnect.withinRoundSpreadMs < 50 ? ' (one burst)' : ''}`
        : '–',
      blackhole
        ? blackhole.detected === blackhole.connections && blackhole.medianMs !== null
          ? seconds(blackhole.medianMs)
          : blackhole.detected === 0
            ? `never (> ${blackhole.capMs / 1000} s)`
            : `${blackhole.detected}/${blackhole.connections}, ${seconds(blackhole.medianMs as number)}`
        : '–',
      kill ? `${kill.medianSilentlyLost} (${kill.maxSilentlyLost})` : kind === 'ws' ? 'no reconnect' : '–',
      kill ? (row.startsWith('socketchart') ? `${kill.medianReported} (${Math.max(...kill.runs.map((x) => x.reported))})` : 'none (no API)') : '–',
      bundle ? (bundle.gzipBytes === 0 ? '0 (native)' : kb1(bundle.gzipBytes)) : '–',
    ]);
  }
  return rows;
}

function targetRows(r: Results): string[][] {
  const pipelined = r.cpu.find((c) => c.workload === 'pipelined')?.perKind.socketchart;
  const burst = r.cpu.find((c) => c.workload === 'burst');
  const burstSc = burst?.perKind.socketchart;
  const heap = r.heap.find((h) => h.kind === 'socketchart');
  const pooledHeap = r.heap.find((h) => h.kind === 'socketchart-pooled');
  const reconnect = r.reconnect.find((x) => x.kind === 'socketchart');
  const blackhole = r.blackhole.find((x) => x.kind === 'socketchart');
  const acked = r.kill.find((x) => x.kind === 'socketchart-acked');
  const bundle = r.bundles.find((b) => b.client === 'socketchart');
  const blackholeOk = blackhole !== undefined && blackhole.detected === blackhole.connections && (blackhole.maxMs ?? Infinity) <= TARGETS.blackholeDetectMs;
  return [
    ['socketchart target', 'measured', 'verdict'],
    [
      `CPU per message <= ${TARGETS.cpuRatio.toFixed(2)}x bare ws, ${config.workloads[0]?.window} in flight`,
      // The verdict is on the ratio of the medians; the paired figure (median of per-round ratios) cancels slow drifts.
      pipelined ? `${pipelined.ratio.toFixed(3)}x pipelined (paired per round: ${pipelined.medianPairRatio.toFixed(3)}x)` : '–',
      verdict(!!pipelined && pipelined.ratio <= TARGETS.cpuRatio),
    ],
    [
      `CPU per message <= ${TARGETS.cpuRatio.toFixed(2)}x bare ws, ${burst?.messages.toLocaleString('en-US') ?? '?'} sent at once`,
      burstSc ? `${burstSc.ratio.toFixed(3)}x burst (paired per round: ${burstSc.medianPairRatio.toFixed(3)}x)` : '–',
      verdict(!!burstSc && burstSc.ratio <= TARGETS.cpuRatio),
    ],
    [`heap per connection <= ${TARGETS.heapBytesPerConnection / 1024} KB`, heap ? kb(heap.medianBytesPerConnection) : '–', verdict(!!heap && heap.medianBytesPerConnection <= TARGETS.heapBytesPerConnection)],
    [
      `heap per pooled connection <= ${TARGETS.pooledHeapBytesPerConnection / 1024} KB`,
      pooledHeap ? kb(pooledHeap.medianBytesPerConnection) : '–',
      verdict(!!pooledHeap && pooledHeap.medianBytesPerConnection <= TARGETS.pooledHeapBytesPerConnection),
    ],
    ['median reconnect <= 250 ms', reconnect ? `${reconnect.medianMs.toFixed(0)} ms` : '–', verdict(!!reconnect && reconnect.medianMs <= TARGETS.reconnectMedianMs)],
    [
      'blackhole detected <= 20 s (defaults)',
      blackhole?.medianMs != null ? `${seconds(blackhole.medianMs)} median, ${seconds(blackhole.maxMs as number)} max` : 'never',
      verdict(blackholeOk),
    ],
    [`bundle <= ${TARGETS.bundleGzipBytes / 1024} KB min+gzip`, bundle ? kb(bundle.gzipBytes) : '–', verdict(!!bundle && bundle.gzipBytes <= TARGETS.bundleGzipBytes)],
    [
      '0 lost in acked mode',
      acked ? `${acked.runs.map((x) => x.sent - x.delivered).join(' / ')} undelivered, ${acked.runs.map((x) => x.duplicates).join(' / ')} duplicates` : '–',
      verdict(!!acked && acked.runs.every((x) => x.delivered === x.sent)),
    ],
  ];
}

function report(r: Results): string {
  const out: string[] = [];
  out.push(`socketchart benchmark (${config.mode})`);
  for (const [key, value] of Object.entries(r.environment)) out.push(`  ${key.padEnd(10)} ${value}`);
  out.push('');
  out.push('Summary (each library with its defaults; details below)');
  out.push(table(summaryRows(r)));
  out.push('');
  out.push(table(targetRows(r)));
  out.push('');
  const floors = floorLines(floorsOf(r));
  if (floors.length > 0) {
    out.push('Floors (what XState alone costs, measured in this run)');
    for (const line of floors) out.push(`  ${line}`);
    out.push('');
  }

  out.push(`1+2. Client CPU per echoed 64-byte message (user+system, median of ${config.runs} runs per client, clients taking turns)`);
  const cpuRows = [['workload', 'client', 'ns/msg', 'spread', 'ratio vs ws', 'round ratio', 'user ns/msg', 'user ratio', 'msgs/s', 'RTT median', 'RTT p99']];
  for (const c of r.cpu) {
    for (const kind of CLIENT_KINDS) {
      const k = c.perKind[kind];
      if (!k) continue;
      cpuRows.push([
        `${c.workload} (${c.window} in flight)`,
        kind,
        k.medianNsPerMessage.toFixed(0),
        `±${(k.spreadPercent / 2).toFixed(1)}%`,
        `${k.ratio.toFixed(3)}x`,
        `${k.medianPairRatio.toFixed(3)}x`,
        k.medianUserNsPerMessage.toFixed(0),
        `${k.userRatio.toFixed(3)}x`,
        median(k.runs.map((run) => run.messagesPerSecond)).toFixed(0),
        k.rttMedianUs !== undefined ? `${k.rttMedianUs.toFixed(1)} µs` : '',
        k.rttP99Us !== undefined ? `${k.rttP99Us.toFixed(1)} µs` : '',
      ]);
    }
  }
  out.push(table(cpuRows));
  out.push('  spread: half of (max - min) / median over the runs; round ratio: median of the per-round ratios to ws;');
  out.push('  user: user CPU alone (library code runs there; system time is the kernel doing the socket I/O).');
  out.push('  socket.io sends socket.io packets (42["echo","..."]) over its upgraded WebSocket.');
  out.push('');

  out.push(`3. Heap per open connection (${config.heapConnections} connections, after a warm-up of 300 opened and closed, one echo each and gc; median of ${config.heapRepeats})`);
  const heapRows = [['client', 'heapUsed/conn', 'runs (KB)', 'external/conn', 'open all (ms)']];
  for (const h of r.heap) {
    heapRows.push([h.kind, kb(h.medianBytesPerConnection), h.bytesPerConnection.map((b) => (b / 1024).toFixed(2)).join(' / '), kb(h.medianExternalPerConnection), h.medianOpenMs.toFixed(0)]);
  }
  out.push(table(heapRows));
  out.push('  socketchart-pooled: the same connections made by createPool (pools of 100: children of one pool actor);');
  out.push('  socketchart-nosocket: a whole Connection over an in-memory transport (no ws socket);');
  out.push('  actor: createActor(connectionMachine) alone, started and driven to open with a stub host.');
  out.push("  xstate-trivial: createActor(createMachine({ initial: 'a', states: { a: {} } })).start(), no socket;");
  out.push('  xstate-trivial-child: the same, state a invoking fromCallback(() => () => {}); xstate-shared-system: the');
  out.push('  trivial actor created with { parent: root } under one shared root actor (no actor system of its own).');
  out.push('');

  out.push(`4. Reconnect after the server destroys all ${config.reconnect.connections} connections' TCP sockets at once (defaults; ${config.reconnect.rounds} drop(s) per client, fresh processes each)`);
  const reconnectRows = [['client', 'median', 'p10', 'p90', 'max', 'p90-p10 within one drop', 'per-drop medians', 'not back', 'drop -> close noticed']];
  for (const x of r.reconnect) {
    reconnectRows.push([
      x.kind,
      `${x.medianMs.toFixed(0)} ms`,
      `${x.p10Ms.toFixed(0)} ms`,
      `${x.p90Ms.toFixed(0)} ms`,
      `${x.maxMs.toFixed(0)} ms`,
      `${x.withinRoundSpreadMs.toFixed(0)} ms`,
      x.perRound.map((p) => p.medianMs.toFixed(0)).join(' / '),
      String(x.notReopened),
      `${x.medianNoticeMs.toFixed(1)} ms`,
    ]);
  }
  out.push(table(reconnectRows));
  out.push('  ms from the drop (server side) to each client\'s next open event (socket.io: connect). A small p90-p10 within');
  out.push('  one drop means every client comes back in the same burst.');
  out.push('');

  out.push(`5. Blackhole detection (${config.blackhole.connections} connections per client through a relay that swallows all bytes both ways, from ${config.blackhole.settleMs / 1000} s after open; waited up to ${config.blackhole.capMs / 1000} s)`);
  const blackholeRows = [['client', 'noticed', 'median', 'max']];
  for (const x of r.blackhole) {
    blackholeRows.push([x.kind, `${x.detected}/${x.connections}`, x.medianMs !== null ? seconds(x.medianMs) : `never (> ${x.capMs / 1000} s)`, x.maxMs !== null ? seconds(x.maxMs) : '']);
  }
  out.push(table(blackholeRows));
  out.push('  noticed: the socket closed (socket.io: disconnect). socketchart on Node pings by default (10 s, 5 s timeout; off in browsers);');
  out.push('  socket.io relies on the server\'s pings (25 s interval + 20 s timeout).');
  out.push('');

  out.push(`6. Kill every ${config.kill.every / 1000} s: ${config.kill.messages} messages client -> server at ~${config.kill.rate}/ms while the server destroys every TCP connection each second (${config.kill.runs} run(s), median)`);
  const killRows = [['client', 'silently lost', 'reported (drop events)', 'duplicates', 'per run: delivered / reported', 'opens', 'kills']];
  for (const x of r.kill) {
    killRows.push([
      x.kind,
      String(x.medianSilentlyLost),
      String(x.medianReported),
      String(x.medianDuplicates),
      x.runs.map((run) => `${run.delivered}/${run.reported}${run.reportedButDelivered ? ` (${run.reportedButDelivered} arrived)` : ''}`).join(', '),
      x.runs.map((run) => run.opens).join(', '),
      x.kills.join(', '),
    ]);
  }
  out.push(table(killRows));
  out.push('  silently lost: neither delivered nor reported, matched message by message. reported: drop events; socketchart plain reports');
  out.push("  what it wrote but could not confirm ('unconfirmed'), so some reported messages arrived after all (in parentheses).");
  out.push(`  After the sends the kills stop and the clients get up to ${config.kill.drainMs / 1000} s to deliver`);
  out.push('  what they queued. socketchart-acked: `delivery: atLeastOnce()` against `attachAckServer` (server dedupes).');
  out.push('');

  out.push('7. Browser bundle (esbuild, platform browser, ESM, minified, then gzip -9)');
  const bundleRows = [['client', 'entry', 'min', 'min+gzip', 'of which xstate (min)']];
  for (const b of r.bundles) bundleRows.push([b.client, b.entry, kb(b.minBytes), kb(b.gzipBytes), b.xstateMinBytes ? kb(b.xstateMinBytes) : '']);
  out.push(table(bundleRows));
  out.push('  xstate floor: the least any XState-based client ships; connection machine: socketchart\'s chart alone, with its xstate.');
  if (r.redisStore) {
    const { resumes, held, messages, rows } = r.redisStore;
    out.push('');
    out.push(`8. Server sessions in Redis vs in memory (bench/redisStore.ts: ${resumes} resumes holding ${held} messages each; ${messages} messages each way, on loopback)`);
    const redisRows = [['store', 'resume median', 'resume p99', 'client -> server per msg (wall)', 'server -> client per msg (wall)']];
    for (const row of rows) {
      redisRows.push([row.store, `${row.resumeMedianMs.toFixed(2)} ms`, `${row.resumeP99Ms.toFixed(2)} ms`, `${row.inboundUsPerMsgWall.toFixed(1)} us`, `${row.outboundUsPerMsgWall.toFixed(1)} us`]);
    }
    out.push(table(redisRows));
  }
  if (r.shared) {
    const x = r.shared;
    const ms = (values: number[]) => values.map((v) => v.toFixed(2)).join(', ');
    out.push('');
    out.push(`9. Shared connection (bench/shared.ts: headless Chromium, 2 tabs, 1 socket; ${x.runs} runs of ${x.echoes} sequential echoes per tab)`);
    const sharedRows = [['tab', 'round trip median', 'mean', 'per run: medians', 'per run: means']];
    sharedRows.push(['leader', `${x.leaderMedianMs.toFixed(2)} ms`, `${x.leaderMeanMs.toFixed(2)} ms`, ms(x.leader.medianMs), ms(x.leader.meanMs)]);
    sharedRows.push(['follower', `${x.followerMedianMs.toFixed(2)} ms`, `${x.followerMeanMs.toFixed(2)} ms`, ms(x.follower.medianMs), ms(x.follower.meanMs)]);
    out.push(table(sharedRows));
    out.push(`  follower - leader, mean in the same run, median over runs: ${x.addedMeanMs.toFixed(2)} ms.${x.fineTimers ? '' : ' Page timers are coarsened to 0.1 ms, so medians come in 0.1 ms steps (means do not).'}`);
  }
  return out.join('\n');
}

/** The floors as a Markdown list (nothing if neither the heap nor the bundle phase ran). */
function floorsSection(floors: Floors): string[] {
  const lines = floorLines(floors);
  if (lines.length === 0) return [];
  return [
    'What XState alone costs, measured in the same run (trivial machines, no socket; bundles as above):',
    '',
    ...lines.map((line) => `- ${line}`),
    '',
  ];
}

/** The README section: date, machine, the summary table and the targets (written by full runs only). */
function readmeSection(r: Results): string {
  const e = r.environment;
  return [
    '## Benchmark against the peers',
    '',
    `\`npm run bench\` on ${e.date?.slice(0, 10)}: ${e.cpu}, ${e.platform}, Node ${e.node}; clients pinned to one core and the`,
    'servers to another. Every library with its defaults (reconnecting-websocket and partysocket given `WebSocket: ws`),',
    'all against the same loopback servers in one run, clients taking turns; medians of several runs. Full details in',
    '`bench/results.json`.',
    '',
    markdownTable(summaryRows(r)),
    '',
    `- **CPU/msg**: client CPU (user + system) per echoed 64-byte message, ${config.workloads[0]?.window} in flight, median of ${config.runs} runs; in parentheses the ratio to a bare \`ws\` client. The targets below also give the ratio for a burst (${config.workloads.find((w) => w.name === 'burst')?.messages.toLocaleString('en-US')} messages sent at once, then all echoes awaited).`,
    `- **RTT**: median sequential round trip (one message in flight) over loopback.`,
    `- **heap/conn**: heapUsed growth per open connection, ${config.heapConnections.toLocaleString('en-US')} connections, after a warm-up of 300 (opened, used, closed: the optimizing compiler has run), one echo each and gc.`,
    `- **reconnect**: the server destroys the TCP sockets of ${config.reconnect.connections} connections at once (${config.reconnect.rounds} times, fresh processes each); median time to each client's next open over all drops. **one drop**: p10-p90 within a single drop (median over the drops); close together means all clients come back in one burst (reconnecting-websocket draws its random delay once per process, partysocket's is a fixed 3 s).`,
    `- **blackhole**: a relay starts swallowing every byte both ways without closing; time until the client notices (socketchart on Node: protocol pings every 10 s, 5 s timeout; off by default in browsers). Waited up to ${config.blackhole.capMs / 1000} s.`,
    `- **silently lost**: ${config.kill.messages.toLocaleString('en-US')} messages client -> server at ~1/ms while the server kills every TCP connection each second (${config.kill.runs} runs): messages that never arrived and were not reported. **reported drops**: messages socketchart reported through \`drop\` events, median (max): in plain mode mostly \`unconfirmed\` (written to a socket that died before a pong confirmed them; most of those arrived, see bench/results.json \`reportedButDelivered\`); the others have no such signal. socketchart + atLeastOnce runs against \`attachAckServer\`.`,
    '- **bundle**: esbuild, platform browser, minified, gzip -9, including dependencies (xstate for socketchart).',
    '',
    markdownTable(targetRows(r)),
    '',
    ...floorsSection(floorsOf(r)),
    ...redisSection(r.redisStore),
    ...sharedSection(r.shared),
  ].join('\n');
}

/** A shared connection's follower tab against its leader tab, for the README's "One connection for all tabs". */
function sharedSection(result: SharedResult | null): string[] {
  if (result === null) return [];
  const rows = [['tab', 'echo round trip (median)', 'mean']];
  rows.push(['leader (its own socket)', `${result.leaderMedianMs.toFixed(2)} ms`, `${result.leaderMeanMs.toFixed(2)} ms`]);
  rows.push(['follower (through the leader)', `${result.followerMedianMs.toFixed(2)} ms`, `${result.followerMeanMs.toFixed(2)} ms`]);
  return [
    '',
    `A shared connection's cost (bench/shared.ts: \`createSharedConnection\` in headless Chromium, 2 tabs of one context sharing 1 socket to a \`ws\` echo server on loopback; ${result.runs} runs of ${result.echoes} sequential echoes per tab, median over the runs; a follower's send and its echo each cross BroadcastChannel; follower - leader in the same run: ${result.addedMeanMs.toFixed(2)} ms):`,
    '',
    markdownTable(rows),
  ];
}

/** The server with sessions in Redis against the memory store, for the README's multi-node section. */
function redisSection(result: RedisStoreResult | null): string[] {
  if (result === null) return [];
  const rows = [['store', 'resume median', 'resume p99', 'client -> server per message', 'server -> client per message']];
  for (const row of result.rows) {
    rows.push([row.store, `${row.resumeMedianMs.toFixed(2)} ms`, `${row.resumeP99Ms.toFixed(2)} ms`, `${row.inboundUsPerMsgWall.toFixed(1)} µs`, `${row.outboundUsPerMsgWall.toFixed(1)} µs`]);
  }
  return ['', `Server sessions in Redis vs in memory (bench/redisStore.ts, loopback: ${result.resumes} resumes holding ${result.held} messages each, ${result.messages} messages each way; wall time per message):`, '', markdownTable(rows)];
}

// ---- main ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const cpus = os.cpus();
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus[0]?.model ?? 'unknown'} x ${cpus.length}`,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    pinning: pinning ? `server on cpu ${SERVER_CPU}, clients on cpu ${CLIENT_CPU} (taskset)` : 'none',
    clients: underTsx ? 'TypeScript under tsx (keepNames)' : 'esbuild bundle (es2022, no keepNames)',
  };
  childArgs = await prepareChildren();
  log(`socketchart bench (${config.mode}, clients ${underTsx ? 'under tsx' : 'bundled'}): starting the server`);
  const server = await BenchServer.start();
  let blackhole: Promise<BlackholeResult[]> | undefined;
  try {
    log('browser bundles');
    const bundles = phaseEnabled('bundle') ? await measureBundles() : [];
    const echoPorts = { ws: await server.listen('echo-ws', 'echo', 'ws'), io: await server.listen('echo-io', 'echo', 'io') };
    const echoUrls = { ws: `ws://127.0.0.1:${echoPorts.ws}/`, io: `http://127.0.0.1:${echoPorts.io}/` };
    log(`echo servers at ${echoUrls.ws} (ws) and ${echoUrls.io} (socket.io); CPU runs`);
    const cpu = phaseEnabled('cpu') ? await measureCpu(echoUrls) : [];
    log('blackhole runs started in the background; heap runs');
    blackhole = phaseEnabled('blackhole') ? startBlackhole(echoPorts) : Promise.resolve([]);
    // An unhandled rejection before it is awaited would end the process: it is awaited below.
    blackhole.catch(() => undefined);
    const heap = phaseEnabled('heap') ? await measureHeap(echoUrls) : [];
    log('reconnect runs');
    const reconnect = phaseEnabled('reconnect') ? await measureReconnect(server) : [];
    log('kill-every-second runs');
    const kill = phaseEnabled('kill') ? await measureKill(server) : [];
    log('redis store runs');
    const redisStore = phaseEnabled('redis') ? measureRedisStore() : null;
    log('shared connection runs (headless Chromium)');
    const shared = phaseEnabled('shared') ? measureSharedTabs() : null;
    log('waiting for the blackhole runs');
    const results: Results = { environment, cpu, heap, reconnect, blackhole: await blackhole, kill, bundles, redisStore, shared };
    const text = report(results);
    process.stdout.write(`\n${text}\n`);
    const outArg = process.argv.find((arg) => arg.startsWith('--out='));
    if (outArg) {
      writeFileSync(outArg.slice('--out='.length), `${JSON.stringify({ ...environment, mode: config.mode, config, only: only ? [...only] : null, targets: TARGETS, ...results, floors: floorsOf(results), environment: undefined }, null, 2)}\n`);
    }
    if (only) return; // partial run: nothing written to the repo
    const file = here('./results.json');
    writeFileSync(file, `${JSON.stringify({ ...environment, mode: config.mode, config, targets: TARGETS, ...results, floors: floorsOf(results), environment: undefined }, null, 2)}\n`);
    log(`\nwrote ${file}`);
    if (!quick) {
      const section = here('./README-section.md');
      writeFileSync(section, readmeSection(results));
      log(`wrote ${section}`);
    }
    log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await server.stop();
    rmSync(outdir, { recursive: true, force: true });
  }
}

main()
  .catch((error: unknown) => {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGKILL');
  });
