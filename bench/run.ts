/**
 * `npm run bench`: what socketchart costs over a bare `ws` client, in client CPU per echoed message and in heap per
 * open connection. Results go to stdout as a table and to bench/results.json.
 *
 *   npm run bench              full run (about a minute or two on 2 cores)
 *   npm run bench -- --quick   smoke run with small counts
 *   npm run bench -- --tsx     run the clients' TypeScript under tsx instead of a bundle (see below)
 *
 * The clients run as esbuild bundles (bench/.build/*.bundle.js, packages left external, removed after the run; the
 * `.bundle.js` suffix is one the repo's ESLint config ignores), built like the published dist
 * (tsup: esbuild, es2022, no keepNames). Under tsx every named function is wrapped in `__name()` (keepNames), which
 * gives each such closure its own property store: a few hundred bytes per closure the library allocates per
 * connection, which users of the built package never pay.
 *
 * Layout (every part in its own process, so nothing is measured against anything else):
 *   - echo-server.mjs: a `ws` echo server on 127.0.0.1, port 0. Its CPU is never counted.
 *   - cpu-client.ts, one child per client kind, each with one connection kept open for the whole benchmark. The
 *     parent asks them for runs in turn (ws, socketchart, ws, socketchart, ...), so slow drifts of the machine hit
 *     both alike; only one client works at a time. A run reads process.cpuUsage() (user + system) around a sliding
 *     window of echoes in that child. Two workloads:
 *       pipelined: 64 messages in flight (every echo sends the next); throughput-bound, the least syscall
 *                  overhead per message, so library overhead shows most. The primary figure.
 *       ping-pong: 1 message in flight; latency-bound, each message pays a full event-loop turn and syscalls.
 *   - heap-client.ts, a fresh child per measurement with --expose-gc: gc, heapUsed, open N connections, wait for all
 *     to open, one echo on each, gc (several times), heapUsed; (after - before) / N.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import {
  CLIENT_KINDS,
  type ClientKind,
  type CpuCommand,
  type CpuReply,
  type HeapKind,
  type HeapReply,
} from './common.js';

// ---- configuration ------------------------------------------------------------------------------------------------

const quick = process.argv.includes('--quick');
const underTsx = process.argv.includes('--tsx');

interface Workload {
  name: 'pipelined' | 'ping-pong';
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
        { name: 'ping-pong', window: 1, messages: 1_000 },
      ] as Workload[],
      heapConnections: 100,
      heapRepeats: 1,
    }
  : {
      mode: 'full',
      runs: 7,
      warmupMessages: 30_000,
      workloads: [
        { name: 'pipelined', window: 64, messages: 50_000 },
        { name: 'ping-pong', window: 1, messages: 20_000 },
      ] as Workload[],
      heapConnections: 1_000,
      heapRepeats: 3,
    };

const HEAP_KINDS: readonly HeapKind[] = ['ws', 'socketchart', 'socketchart-nosocket', 'actor'];
const TARGET_CPU_RATIO = 1.1;
const TARGET_HEAP_PER_CONNECTION = 8 * 1024;

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
/** Where the client bundles go for the run (git-ignored by bench/.gitignore, deleted afterwards). */
const outdir = here('./.build');

/** Bundles the client entries (unless --tsx) and returns the node arguments that run one. */
async function prepareClients(): Promise<(entry: 'cpu-client' | 'heap-client') => string[]> {
  if (underTsx) {
    const tsxLoader = import.meta.resolve('tsx');
    return (entry) => ['--import', tsxLoader, here(`./${entry}.ts`)];
  }
  await build({
    entryPoints: { 'cpu-client': here('./cpu-client.ts'), 'heap-client': here('./heap-client.ts') },
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

let clientArgs: (entry: 'cpu-client' | 'heap-client') => string[];

/**
 * On Linux with 2+ cores, the echo server is pinned to the last core and the clients to the first (taskset), so a
 * client never shares its core with the server and ping-pong does not flip between "same core" and "other core".
 */
const pinning = process.platform === 'linux' && os.cpus().length >= 2 && !process.argv.includes('--no-pin') &&
  spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const SERVER_CPU = String(os.cpus().length - 1);
const CLIENT_CPU = '0';

// ---- child processes ----------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

/** A child with an IPC channel whose messages can be awaited one at a time. */
class Child<In> {
  readonly process: ChildProcess;
  readonly #inbox: In[] = [];
  readonly #waiters: Array<{ resolve(message: In): void; reject(error: Error): void }> = [];
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
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(message);
      else this.#inbox.push(message);
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        children.delete(child);
        for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(`${name} exited (code ${code})`));
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

  send(message: unknown): void {
    this.process.send(message as never);
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

async function startEchoServer(): Promise<{ server: Child<{ type: 'listening'; port: number }>; url: string }> {
  const server = new Child<{ type: 'listening'; port: number }>('echo server', [here('./echo-server.mjs')], SERVER_CPU);
  const { port } = await server.next(30_000);
  return { server, url: `ws://127.0.0.1:${port}/` };
}

// ---- statistics ---------------------------------------------------------------------------------------------------

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** (max - min) / median, as a percentage: how far apart the runs were. */
function spread(values: number[]): number {
  return ((Math.max(...values) - Math.min(...values)) / median(values)) * 100;
}

// ---- CPU ----------------------------------------------------------------------------------------------------------

interface CpuRun {
  nsPerMessage: number;
  userNsPerMessage: number;
  systemNsPerMessage: number;
  messagesPerSecond: number;
}

interface CpuResult {
  workload: string;
  window: number;
  messages: number;
  runs: number;
  perKind: Record<ClientKind, { medianNsPerMessage: number; medianUserNsPerMessage: number; spreadPercent: number; runs: CpuRun[] }>;
  /** median(socketchart) / median(ws), user + system */
  ratio: number;
  /** The same for user time only: where library code runs (system time is the kernel's socket work). */
  userRatio: number;
  /** The ratio of each ws/socketchart pair of consecutive runs, and their median. */
  pairRatios: number[];
  medianPairRatio: number;
}

async function measureCpu(url: string): Promise<CpuResult[]> {
  const clients = {} as Record<ClientKind, Child<CpuReply>>;
  try {
    for (const kind of CLIENT_KINDS) {
      const child = new Child<CpuReply>(`cpu client ${kind}`, [
        ...clientArgs('cpu-client'),
        kind,
        url,
        String(config.warmupMessages),
      ], CLIENT_CPU);
      clients[kind] = child;
      expectOk(await child.next(), child.name);
      log(`  ${kind} client ready (warmed up)`);
    }

    const results: CpuResult[] = [];
    for (const workload of config.workloads) {
      const runs: Record<ClientKind, CpuRun[]> = { ws: [], socketchart: [] };
      for (let r = 0; r < config.runs; r++) {
        for (const kind of CLIENT_KINDS) {
          const child = clients[kind];
          const command: CpuCommand = { type: 'run', messages: workload.messages, window: workload.window };
          child.send(command);
          const reply = expectOk(await child.next(), child.name);
          if (reply.type !== 'result') throw new Error(`${child.name}: unexpected ${reply.type}`);
          const total = (reply.userUs + reply.systemUs) * 1000;
          runs[kind].push({
            nsPerMessage: total / reply.messages,
            userNsPerMessage: (reply.userUs * 1000) / reply.messages,
            systemNsPerMessage: (reply.systemUs * 1000) / reply.messages,
            messagesPerSecond: reply.messages / (reply.wallMs / 1000),
          });
        }
        const last = (kind: ClientKind) => (runs[kind].at(-1) as CpuRun).nsPerMessage;
        log(`  ${workload.name} run ${r + 1}/${config.runs}: ws ${last('ws').toFixed(0)} ns/msg, socketchart ${last('socketchart').toFixed(0)} ns/msg`);
      }
      const perKind = {} as CpuResult['perKind'];
      for (const kind of CLIENT_KINDS) {
        const ns = runs[kind].map((run) => run.nsPerMessage);
        perKind[kind] = {
          medianNsPerMessage: median(ns),
          medianUserNsPerMessage: median(runs[kind].map((run) => run.userNsPerMessage)),
          spreadPercent: spread(ns),
          runs: runs[kind],
        };
      }
      const pairRatios = runs.ws.map((ws, i) => (runs.socketchart[i] as CpuRun).nsPerMessage / ws.nsPerMessage);
      results.push({
        workload: workload.name,
        window: workload.window,
        messages: workload.messages,
        runs: config.runs,
        perKind,
        ratio: perKind.socketchart.medianNsPerMessage / perKind.ws.medianNsPerMessage,
        userRatio: perKind.socketchart.medianUserNsPerMessage / perKind.ws.medianUserNsPerMessage,
        pairRatios,
        medianPairRatio: median(pairRatios),
      });
    }

    for (const kind of CLIENT_KINDS) {
      clients[kind].send({ type: 'stop' } satisfies CpuCommand);
      const reply = await clients[kind].next(10_000).catch(() => null);
      if (reply && reply.type !== 'stopped') expectOk(reply, clients[kind].name);
    }
    return results;
  } finally {
    await Promise.all(Object.values(clients).map((child) => child.stop()));
  }
}

// ---- heap ---------------------------------------------------------------------------------------------------------

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

async function measureHeap(url: string): Promise<HeapResult[]> {
  const samples = new Map<HeapKind, Array<Extract<HeapReply, { type: 'result' }>>>();
  for (let r = 0; r < config.heapRepeats; r++) {
    for (const kind of HEAP_KINDS) {
      const child = new Child<HeapReply>(`heap client ${kind}`, [
        '--expose-gc',
        ...clientArgs('heap-client'),
        kind,
        url,
        String(config.heapConnections),
      ], CLIENT_CPU);
      try {
        const reply = expectOk(await child.next(120_000), child.name);
        if (reply.type !== 'result') throw new Error(`${child.name}: unexpected ${reply.type}`);
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

// ---- output -------------------------------------------------------------------------------------------------------

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function table(rows: string[][]): string {
  const widths = (rows[0] as string[]).map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  const line = (row: string[]) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] as number) : cell.padStart(widths[col] as number))).join('  ');
  return [line(rows[0] as string[]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const verdict = (ok: boolean) => (ok ? 'ok' : 'OVER TARGET');

function report(environment: Record<string, unknown>, cpu: CpuResult[], heap: HeapResult[]): string {
  const out: string[] = [];
  out.push(`socketchart benchmark (${config.mode})`);
  for (const [key, value] of Object.entries(environment)) out.push(`  ${key.padEnd(10)} ${String(value)}`);
  out.push('');
  out.push(`Client CPU per echoed 64-byte text message (user+system, median of ${config.runs} alternating runs per client)`);
  const cpuRows = [['workload', 'in flight', 'msgs/run', 'ws ns/msg', 'spread', 'socketchart ns/msg', 'spread', 'ratio', 'pair ratio', 'user-only ratio', 'target']];
  for (const r of cpu) {
    cpuRows.push([
      r.workload,
      String(r.window),
      String(r.messages),
      r.perKind.ws.medianNsPerMessage.toFixed(0),
      `±${(r.perKind.ws.spreadPercent / 2).toFixed(1)}%`,
      r.perKind.socketchart.medianNsPerMessage.toFixed(0),
      `±${(r.perKind.socketchart.spreadPercent / 2).toFixed(1)}%`,
      `${r.ratio.toFixed(3)}x`,
      `${r.medianPairRatio.toFixed(3)}x`,
      `${r.userRatio.toFixed(3)}x (${r.perKind.ws.medianUserNsPerMessage.toFixed(0)} vs ${r.perKind.socketchart.medianUserNsPerMessage.toFixed(0)} ns)`,
      `<= ${TARGET_CPU_RATIO.toFixed(2)}x ${verdict(r.ratio <= TARGET_CPU_RATIO)}`,
    ]);
  }
  out.push(table(cpuRows));
  out.push('  spread: half of (max - min) / median over the runs; pair ratio: median of per-pair socketchart/ws ratios;');
  out.push('  user-only: user CPU alone (library code runs there; system time is the kernel doing the socket I/O)');
  out.push('');
  out.push(`Heap per open connection (${config.heapConnections} connections, after one echo each and gc; median of ${config.heapRepeats})`);
  const heapRows = [['client', 'heapUsed/conn', 'runs', 'external/conn', 'open all (ms)', 'target']];
  for (const h of heap) {
    heapRows.push([
      h.kind,
      kb(h.medianBytesPerConnection),
      h.bytesPerConnection.map((b) => (b / 1024).toFixed(2)).join(' / '),
      kb(h.medianExternalPerConnection),
      h.medianOpenMs.toFixed(0),
      h.kind === 'socketchart' ? `<= ${kb(TARGET_HEAP_PER_CONNECTION)} ${verdict(h.medianBytesPerConnection <= TARGET_HEAP_PER_CONNECTION)}` : '',
    ]);
  }
  out.push(table(heapRows));
  out.push('  socketchart-nosocket: a whole Connection over an in-memory transport (no ws socket);');
  out.push('  actor: createActor(connectionMachine) alone, started and driven to open with a stub host.');
  return out.join('\n');
}

// ---- main ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const cpus = os.cpus();
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus[0]?.model ?? 'unknown'} x ${cpus.length}`,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    pinning: pinning ? `server on cpu ${SERVER_CPU}, clients on cpu ${CLIENT_CPU} (taskset)` : 'none',
    clients: underTsx ? 'TypeScript under tsx (keepNames)' : 'esbuild bundle (es2022, no keepNames)',
  };
  clientArgs = await prepareClients();
  log(`socketchart bench (${config.mode}, clients ${underTsx ? 'under tsx' : 'bundled'}): starting echo server`);
  const { server, url } = await startEchoServer();
  try {
    log(`echo server at ${url}; CPU runs`);
    const cpu = await measureCpu(url);
    log('heap runs');
    const heap = await measureHeap(url);
    const text = report(environment, cpu, heap);
    process.stdout.write(`\n${text}\n`);
    const results = { ...environment, mode: config.mode, config, cpu, heap, targets: { cpuRatio: TARGET_CPU_RATIO, heapBytesPerConnection: TARGET_HEAP_PER_CONNECTION } };
    const file = here('./results.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    log(`\nwrote ${file}`);
  } finally {
    server.send({ type: 'stop' });
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
