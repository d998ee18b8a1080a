/**
 * Bursts and steady rates: socketchart (default options unless a workload says otherwise) against a bare `ws`
 * client, in paired rounds within one run, on the paths `npm run bench` does not cover:
 *
 *   inbound-100k / inbound-1m   the server pushes 100,000 / 1,000,000 64-byte text messages at once (pre-framed,
 *                               written onto TCP in 1 MB chunks, so the client is the bottleneck); the client sends
 *                               nothing (one control message asks for the push). Client CPU per received message,
 *                               and the heap's peak above its level before (sampled every 4,096 messages).
 *   inbound-bin-100k            the same with 64-byte binary messages (Buffer, the default binaryType on Node).
 *   preopen-100k                a fresh connection; 100,000 messages sent while it connects (socketchart with
 *                               queue.maxMessages/maxBytes raised to hold them; bare ws has no queue, so its
 *                               baseline sends them in its `open` handler), flushed on open, all echoes awaited.
 *   postopen-100k               the same fresh connection, but the 100,000 are sent from the `open` handler in both:
 *                               the flush above divided by this is what queueing costs.
 *   overflow-100k               default options, a fresh connection, 100,000 sent while connecting: the queue holds
 *                               1,000, 99,000 are dropped (drop-oldest), one `drop` event each (counted). Compared
 *                               with the same connection sending the 100,000 after open (per message sent).
 *   bin-ab-100k / bin-buf-100k  100,000 64-byte ArrayBuffers / Buffers sent at once and echoed (binaryType
 *                               'arraybuffer' / 'nodebuffer' on both clients).
 *   mixed-2k                    2,000 messages of 16 B .. 64 KiB (sizes cycle through 16, 256, 4 KiB, 64 KiB), text,
 *                               sent at once and echoed.
 *   json-100k                   100,000 small objects sent at once and echoed: socketchart with jsonCodec(), bare ws
 *                               with JSON.stringify / JSON.parse by hand.
 *   backpressure-5k             5,000 16 KiB messages at once (80 MB: the socket's bufferedAmount goes far past any
 *                               sane high-water mark) with default options, all echoes awaited.
 *   steady-10k                  10,000 msg/s for STEADY_SECONDS (a 1 ms timer sends what the rate owes), 64-byte
 *                               echoes; CPU per message and round-trip p50 / p99 / max.
 *   storm                       1,000 connections in one fresh client process; the server destroys every TCP socket
 *                               at once, STORM_ROUNDS times, each round waiting for all to reopen. Client CPU per
 *                               reconnect and the heap after (gc) minus before. Baseline: bare ws with the minimal
 *                               reconnect (a new WebSocket after a random 0..1 s delay on close).
 *
 *   node --import tsx bench/bursts.ts [--quick] [--runs=N] [--only=inbound-100k,storm] [--no-pin] [--tsx]
 *
 * Layout: the server (an echo `ws` server that also pushes on request and drops every socket on command) is a
 * child process of its own, pinned to the last core; each client kind is one long-lived child (fresh children for
 * the storm) pinned to the first core, run one at a time, order alternating every round. CPU is the client
 * process's process.cpuUsage() (user + system) around the workload; ratios are per round (socketchart / ws) and
 * the medians of those are reported. Children run as an esbuild bundle of this file (like bench/run.ts) unless
 * --tsx. Nothing here asserts a speed: it prints figures.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import WebSocket, { WebSocketServer } from 'ws';
import { jsonCodec } from '../src/messages/codec.js';
import { createConnection } from '../src/node.js';

type Kind = 'ws' | 'socketchart';
const KINDS: readonly Kind[] = ['ws', 'socketchart'];

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string) => argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = flag('quick');

const WORKLOADS = [
  'inbound-100k', 'inbound-1m', 'inbound-bin-100k', 'preopen-100k', 'postopen-100k', 'overflow-100k',
  'bin-ab-100k', 'bin-buf-100k', 'mixed-2k', 'json-100k', 'backpressure-5k', 'steady-10k', 'storm',
] as const;
type Workload = (typeof WORKLOADS)[number];

const scale = quick ? 0.1 : 1;
const N = (n: number) => Math.max(1, Math.round(n * scale));
const STEADY_SECONDS = quick ? 2 : Number(value('steady-seconds') ?? 10);
const STORM_CONNECTIONS = quick ? 200 : 1_000;
const STORM_ROUNDS = quick ? 2 : 5;

const PAYLOAD = 'socketchart-bench-payload-0123456789abcdefghijklmnopqrstuvwxyz!?'.slice(0, 64);
const MIXED_SIZES = [16, 256, 4096, 65536];

// ---- shared ---------------------------------------------------------------------------------------------------------

function send(message: unknown): void {
  if (process.connected) process.send?.(message as never, undefined, undefined, () => undefined);
}

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}
const median = (values: readonly number[]) => quantile(values, 0.5);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Result {
  /** client CPU, µs, per unit (message received, message sent, reconnect) */
  cpuPerUnitUs: number;
  units: number;
  wallMs: number;
  /** heap above its level before the workload: peak (sampled) and after gc, bytes */
  heapPeak?: number;
  heapAfter?: number;
  drops?: number;
  p50Us?: number;
  p99Us?: number;
  maxUs?: number;
}

// ---- server role ----------------------------------------------------------------------------------------------------

async function serverMain(): Promise<void> {
  const sockets = new Set<Socket>();
  const http = createServer((_req, res) => res.writeHead(404).end());
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  const text64 = PAYLOAD;
  const bin64 = Buffer.from(PAYLOAD);
  if (PAYLOAD.length > 125) throw new Error('push frames use the 7-bit length');
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary && data.length < 40 && data.toString().startsWith('push:')) {
        const [, count, binary] = data.toString().split(':');
        push(ws, Number(count), binary === 'bin' ? bin64 : text64);
        return;
      }
      ws.send(data, { binary: isBinary });
    });
  });
  /**
   * Writes `count` frames straight onto the TCP socket, pre-framed (a server frame is unmasked: 2 header bytes and
   * the payload), in 1 MB chunks as fast as the socket takes them. So the burst arrives as fast as the client can
   * read it: the client is the bottleneck, as in a real burst, not the server's per-frame ws.send().
   */
  function push(ws: WebSocket, count: number, payload: string | Buffer): void {
    const body = Buffer.from(payload);
    const frame = Buffer.concat([Buffer.from([typeof payload === 'string' ? 0x81 : 0x82, body.length]), body]);
    const perChunk = Math.floor((1 << 20) / frame.length);
    const chunk = Buffer.concat(Array.from({ length: perChunk }, () => frame));
    const socket = (ws as unknown as { _socket: Socket })._socket;
    let left = count;
    const step = () => {
      while (left > 0 && !socket.destroyed) {
        const frames = Math.min(left, perChunk);
        left -= frames;
        if (!socket.write(frames === perChunk ? chunk : chunk.subarray(0, frames * frame.length))) {
          socket.once('drain', step);
          return;
        }
      }
    };
    step();
  }
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  process.on('message', (message: { type: string }) => {
    if (message.type === 'drop') {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      send({ type: 'dropped', sockets: count });
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'listening', port });
}

// ---- client role ----------------------------------------------------------------------------------------------------

/** One client behind the same small surface for both kinds. */
interface Client {
  send(data: unknown): void;
  close(): void;
  onMessage: (data: unknown) => void;
  drops: number;
}

interface OpenOptions {
  binaryType?: 'arraybuffer' | 'nodebuffer';
  json?: boolean;
  /** socketchart: queue options; ws: none */
  bigQueue?: boolean;
  /** called once open (both kinds) */
  onOpen?: (client: Client) => void;
}

function openClient(kind: Kind, url: string, options: OpenOptions = {}): Client {
  const client: Client = { send: () => {}, close: () => {}, onMessage: () => {}, drops: 0 };
  if (kind === 'ws') {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    if (options.binaryType) ws.binaryType = options.binaryType;
    const json = options.json === true;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const value = isBinary ? data : data.toString();
      client.onMessage(json ? JSON.parse(value as string) : value);
    });
    ws.on('error', () => {});
    client.send = json ? (data) => ws.send(JSON.stringify(data)) : (data) => ws.send(data as string);
    client.close = () => ws.terminate();
    ws.on('open', () => options.onOpen?.(client));
    return client;
  }
  const connection = createConnection<unknown>(url, {
    ...(options.json ? { codec: jsonCodec() } : {}),
    ...(options.binaryType ? { binaryType: options.binaryType } : {}),
    ...(options.bigQueue ? { queue: { maxMessages: 10_000_000, maxBytes: 1 << 30 } } : {}),
  });
  connection.onmessage = (event) => client.onMessage(event.data);
  connection.addEventListener('drop', () => void client.drops++);
  connection.onerror = () => {};
  connection.onopen = () => options.onOpen?.(client);
  client.send = (data) => connection.send(data as string);
  client.close = () => connection.close();
  return client;
}

function heapUsed(): number {
  return v8.getHeapStatistics().used_heap_size;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) for (let i = 0; i < 3; i++) g();
}

/** Awaits `count` messages on `client`; samples the heap every 4,096. */
function receive(client: Client, count: number, check?: (data: unknown) => void): Promise<{ peak: number }> {
  return new Promise((resolve) => {
    let received = 0;
    let peak = 0;
    client.onMessage = (data) => {
      check?.(data);
      received++;
      if ((received & 4095) === 0) {
        const heap = heapUsed();
        if (heap > peak) peak = heap;
      }
      if (received === count) {
        client.onMessage = () => {};
        resolve({ peak });
      }
    };
  });
}

function openAndWait(kind: Kind, url: string, options: OpenOptions = {}): Promise<Client> {
  return new Promise((resolve) => {
    openClient(kind, url, { ...options, onOpen: (client) => resolve(client) });
  });
}

function cpuNow(): number {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
}

async function clientMain(kind: Kind, url: string): Promise<void> {
  /** The long-lived connections, one per option set. */
  const kept = new Map<string, Client>();
  const keptClient = async (key: string, options: OpenOptions = {}) => {
    let client = kept.get(key);
    if (!client) kept.set(key, (client = await openAndWait(kind, url, options)));
    return client;
  };

  async function echoBurst(client: Client, messages: unknown[]): Promise<Result> {
    gc();
    const before = heapUsed();
    const done = receive(client, messages.length);
    const start = cpuNow();
    const wall = performance.now();
    for (const message of messages) client.send(message);
    const { peak } = await done;
    const cpu = cpuNow() - start;
    const wallMs = performance.now() - wall;
    gc();
    return { cpuPerUnitUs: cpu / messages.length, units: messages.length, wallMs, heapPeak: Math.max(0, peak - before), heapAfter: heapUsed() - before };
  }

  async function inbound(client: Client, count: number, binary: boolean): Promise<Result> {
    gc();
    const before = heapUsed();
    const done = receive(client, count);
    const start = cpuNow();
    const wall = performance.now();
    client.send(`push:${count}:${binary ? 'bin' : 'text'}`);
    const { peak } = await done;
    const cpu = cpuNow() - start;
    const wallMs = performance.now() - wall;
    gc();
    return { cpuPerUnitUs: cpu / count, units: count, wallMs, heapPeak: Math.max(0, peak - before), heapAfter: heapUsed() - before };
  }

  /** A fresh connection; `count` sent before open (socketchart) or from `open` (ws, and `afterOpen`). */
  async function fresh(count: number, mode: 'preopen' | 'postopen' | 'overflow'): Promise<Result> {
    gc();
    const before = heapUsed();
    const start = cpuNow();
    const wall = performance.now();
    const sendAll = (client: Client) => {
      for (let i = 0; i < count; i++) client.send(PAYLOAD);
    };
    const early = kind === 'socketchart' && mode !== 'postopen';
    let opened!: (client: Client) => void;
    const open = new Promise<Client>((resolve) => (opened = resolve));
    const client = openClient(kind, url, {
      bigQueue: mode === 'preopen',
      onOpen: (c) => {
        if (!early) sendAll(c);
        opened(c);
      },
    });
    // socketchart: the queue holds 1,000 under default options (overflow), everything when raised (preopen).
    const expected = mode === 'overflow' && kind === 'socketchart' ? 1_000 : count;
    const done = receive(client, expected);
    if (early) sendAll(client);
    await open;
    const { peak } = await done;
    const cpu = cpuNow() - start;
    const wallMs = performance.now() - wall;
    const drops = client.drops;
    client.close();
    await sleep(50);
    gc();
    return { cpuPerUnitUs: cpu / count, units: count, wallMs, drops, heapPeak: Math.max(0, peak - before), heapAfter: heapUsed() - before };
  }

  async function steady(client: Client, rate: number, seconds: number): Promise<Result> {
    const total = rate * seconds;
    const sentAt = new Float64Array(total);
    const rtts = new Float64Array(total);
    let sent = 0;
    let received = 0;
    const done = new Promise<void>((resolve) => {
      client.onMessage = () => {
        rtts[received] = performance.now() - (sentAt[received] as number);
        received++;
        if (received === total) resolve();
      };
    });
    const start = cpuNow();
    const wall = performance.now();
    const timer = setInterval(() => {
      const owed = Math.min(total, Math.floor(((performance.now() - wall) * rate) / 1000));
      while (sent < owed) {
        sentAt[sent++] = performance.now();
        client.send(PAYLOAD);
      }
      if (sent === total) clearInterval(timer);
    }, 1);
    await done;
    const cpu = cpuNow() - start;
    const list = Array.from(rtts, (ms) => ms * 1000);
    client.onMessage = () => {};
    return {
      cpuPerUnitUs: cpu / total, units: total, wallMs: performance.now() - wall,
      p50Us: quantile(list, 0.5), p99Us: quantile(list, 0.99), maxUs: Math.max(...list),
    };
  }

  const run = async (workload: Workload): Promise<Result> => {
    switch (workload) {
      case 'inbound-100k':
        return inbound(await keptClient('text'), N(100_000), false);
      case 'inbound-1m':
        return inbound(await keptClient('text'), N(1_000_000), false);
      case 'inbound-bin-100k':
        return inbound(await keptClient('text'), N(100_000), true);
      case 'preopen-100k':
        return fresh(N(100_000), 'preopen');
      case 'postopen-100k':
        return fresh(N(100_000), 'postopen');
      case 'overflow-100k':
        return fresh(N(100_000), 'overflow');
      case 'bin-ab-100k': {
        const client = await keptClient('ab', { binaryType: 'arraybuffer' });
        return echoBurst(client, Array.from({ length: N(100_000) }, () => new ArrayBuffer(64)));
      }
      case 'bin-buf-100k': {
        const client = await keptClient('text');
        return echoBurst(client, Array.from({ length: N(100_000) }, () => Buffer.from(PAYLOAD)));
      }
      case 'mixed-2k': {
        const strings = MIXED_SIZES.map((size) => 'x'.repeat(size));
        return echoBurst(await keptClient('text'), Array.from({ length: N(2_000) }, (_, i) => strings[i % strings.length]));
      }
      case 'json-100k': {
        const client = await keptClient('json', { json: true });
        return echoBurst(client, Array.from({ length: N(100_000) }, (_, i) => ({ type: 'tick', i, payload: 'abcdefghijklmnop' })));
      }
      case 'backpressure-5k': {
        const big = 'y'.repeat(16 * 1024);
        return echoBurst(await keptClient('text'), Array.from({ length: N(5_000) }, () => big));
      }
      case 'steady-10k':
        return steady(await keptClient('text'), 10_000, STEADY_SECONDS);
      default:
        throw new Error(`client: no workload ${workload}`);
    }
  };

  // Warm both sides' code paths before any measured run.
  const warm = await keptClient('text');
  await echoBurst(warm, Array.from({ length: N(20_000) }, () => PAYLOAD));
  await inbound(warm, N(20_000), false);

  process.on('message', (message: { type: string; workload: Workload }) => {
    if (message.type !== 'run') return;
    run(message.workload).then(
      (result) => send({ type: 'result', result }),
      (error: unknown) => send({ type: 'error', message: String((error as Error).stack ?? error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

/** The storm: a fresh process, `connections` connections, the server drops them all `rounds` times. */
async function stormMain(kind: Kind, url: string, connections: number): Promise<void> {
  let opens = 0;
  let onOpen = () => {};
  const clients: unknown[] = [];
  for (let i = 0; i < connections; i++) {
    if (kind === 'ws') {
      const connect = () => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.on('error', () => {});
        ws.on('open', () => {
          opens++;
          onOpen();
        });
        ws.on('close', () => setTimeout(connect, Math.random() * 1_000));
        ws.on('message', () => {});
        clients[i] = ws;
      };
      connect();
    } else {
      const connection = createConnection<string>(url);
      connection.onerror = () => {};
      connection.onopen = () => {
        opens++;
        onOpen();
      };
      connection.onmessage = () => {};
      clients[i] = connection;
    }
  }
  const allOpen = (target: number) => new Promise<void>((resolve) => {
    if (opens >= target) return resolve();
    onOpen = () => {
      if (opens >= target) resolve();
    };
  });
  await allOpen(connections);
  await sleep(200);
  gc();
  const before = heapUsed();
  send({ type: 'ready' });
  process.on('message', async (message: { type: string; target: number }) => {
    if (message.type === 'await') {
      await allOpen(message.target);
      send({ type: 'reopened', opens });
    } else if (message.type === 'cpu') {
      gc();
      send({ type: 'cpu', cpu: cpuNow(), heap: heapUsed() - before });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- parent -----------------------------------------------------------------------------------------------------------

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const pinning = process.platform === 'linux' && os.cpus().length >= 2 && !flag('no-pin') && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const SERVER_CPU = String(os.cpus().length - 1);

class Child {
  readonly process: ChildProcess;
  readonly #inbox: unknown[] = [];
  readonly #waiters: Array<(message: unknown) => void> = [];
  constructor(readonly name: string, args: string[], cpu: string) {
    const node = [process.execPath, '--expose-gc', ...args];
    const [command, rest] = pinning ? ['taskset', ['-c', cpu, ...node]] : [node[0] as string, node.slice(1)];
    this.process = spawn(command, rest, { cwd: here('..'), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (message) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(message);
      else this.#inbox.push(message);
    });
    this.process.on('exit', (code) => {
      for (const waiter of this.#waiters.splice(0)) waiter({ type: 'error', message: `${name} exited (${code})` });
    });
  }
  async next<T>(timeoutMs = 600_000): Promise<T> {
    const message = this.#inbox.length > 0 ? this.#inbox.shift() : await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push((m) => (clearTimeout(timer), resolve(m)));
    });
    const m = message as { type: string; message?: string };
    if (m.type === 'error') throw new Error(`${this.name}: ${m.message}`);
    return message as T;
  }
  send(message: unknown): void {
    if (this.process.connected) this.process.send(message as never);
  }
  stop(): void {
    if (this.process.connected) this.process.disconnect();
    setTimeout(() => this.process.kill('SIGKILL'), 3_000).unref();
  }
}

async function parentMain(): Promise<void> {
  const runs = Number(value('runs') ?? (quick ? 2 : 5));
  const only = value('only')?.split(',') as Workload[] | undefined;
  for (const w of only ?? []) if (!WORKLOADS.includes(w)) throw new Error(`--only: unknown workload ${w} (${WORKLOADS.join(', ')})`);
  const workloads = WORKLOADS.filter((w) => !only || only.includes(w));

  let entry: string[];
  // Not bench/.build: bench/run.ts deletes that when its run ends, and other engineers run it at the same time; one
  // file per run (pid) for the same reason.
  // Under node_modules so the bundle's bare imports resolve (packages stay external).
  const outdir = here('../node_modules/.cache/socketchart-bursts');
  if (flag('tsx')) entry = ['--import', import.meta.resolve('tsx'), here('./bursts.ts')];
  else {
    const { build } = await import('esbuild');
    await build({
      entryPoints: { bursts: here('./bursts.ts') }, outdir, outExtension: { '.js': `.${process.pid}.bundle.js` }, bundle: true,
      packages: 'external', platform: 'node', format: 'esm', target: 'es2022', logLevel: 'warning',
    });
    entry = [`${outdir}/bursts.${process.pid}.bundle.js`];
  }
  const server = new Child('server', [...entry, '--role=server'], SERVER_CPU);
  const { port } = await server.next<{ port: number }>(30_000);
  const url = `ws://127.0.0.1:${port}/`;
  console.log(`bursts: ${runs} paired rounds, ${quick ? 'quick' : 'full'}, pinning ${pinning ? 'on' : 'off'}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const rows: string[] = [];
  const fmt = (n: number | undefined, digits = 2) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));
  const mb = (n: number | undefined) => (n === undefined ? '-' : (n / 1048576).toFixed(1));
  const report = (workload: string, unit: string, results: Record<Kind, Result[]>) => {
    const ratios = results.ws.map((w, i) => (results.socketchart[i] as Result).cpuPerUnitUs / w.cpuPerUnitUs);
    const m = (kind: Kind, key: keyof Result) => median(results[kind].map((r) => r[key] as number).filter((x) => x !== undefined));
    const line =
      `${workload.padEnd(17)} ${unit.padEnd(10)} ws ${fmt(m('ws', 'cpuPerUnitUs')).padStart(7)} µs  sc ${fmt(m('socketchart', 'cpuPerUnitUs')).padStart(7)} µs  ` +
      `ratio ${fmt(median(ratios), 3)} [${ratios.map((r) => r.toFixed(2)).join(' ')}]  ` +
      `heap peak MB ws ${mb(m('ws', 'heapPeak'))} sc ${mb(m('socketchart', 'heapPeak'))}  after MB ws ${mb(m('ws', 'heapAfter'))} sc ${mb(m('socketchart', 'heapAfter'))}` +
      (results.socketchart[0]?.drops !== undefined ? `  drops sc ${m('socketchart', 'drops')}` : '') +
      (results.ws[0]?.p50Us !== undefined
        ? `  rtt p50/p99/max µs ws ${fmt(m('ws', 'p50Us'), 0)}/${fmt(m('ws', 'p99Us'), 0)}/${fmt(m('ws', 'maxUs'), 0)} sc ${fmt(m('socketchart', 'p50Us'), 0)}/${fmt(m('socketchart', 'p99Us'), 0)}/${fmt(m('socketchart', 'maxUs'), 0)}`
        : '');
    console.log(line);
    rows.push(line);
  };

  const steadyWorkloads = workloads.filter((w) => w !== 'storm');
  if (steadyWorkloads.length > 0) {
    const clients = Object.fromEntries(KINDS.map((kind) => [kind, new Child(kind, [...entry, '--role=client', `--kind=${kind}`, `--url=${url}`], '0')])) as Record<Kind, Child>;
    for (const kind of KINDS) await clients[kind].next(120_000);
    for (const workload of steadyWorkloads) {
      const results: Record<Kind, Result[]> = { ws: [], socketchart: [] };
      for (let round = 0; round < runs; round++) {
        const order = round % 2 === 0 ? KINDS : [...KINDS].reverse();
        for (const kind of order) {
          clients[kind].send({ type: 'run', workload });
          results[kind].push((await clients[kind].next<{ result: Result }>()).result);
          await sleep(100);
        }
      }
      const unit = workload.startsWith('inbound') ? 'per recv' : workload === 'overflow-100k' ? 'per sent' : 'per echo';
      report(workload, unit, results);
    }
    for (const kind of KINDS) clients[kind].stop();
  }

  if (workloads.includes('storm')) {
    const results: Record<Kind, Result[]> = { ws: [], socketchart: [] };
    for (let round = 0; round < Math.max(1, Math.ceil(runs / 2)); round++) {
      const order = round % 2 === 0 ? KINDS : [...KINDS].reverse();
      for (const kind of order) {
        const child = new Child(`storm-${kind}`, [...entry, '--role=storm', `--kind=${kind}`, `--url=${url}`, `--connections=${STORM_CONNECTIONS}`], '0');
        await child.next(120_000);
        child.send({ type: 'cpu' });
        const start = await child.next<{ cpu: number }>();
        const wall = performance.now();
        for (let i = 1; i <= STORM_ROUNDS; i++) {
          server.send({ type: 'drop' });
          await server.next();
          child.send({ type: 'await', target: STORM_CONNECTIONS * (i + 1) });
          await child.next(120_000);
        }
        child.send({ type: 'cpu' });
        const end = await child.next<{ cpu: number; heap: number }>();
        const reconnects = STORM_CONNECTIONS * STORM_ROUNDS;
        results[kind].push({ cpuPerUnitUs: (end.cpu - start.cpu) / reconnects, units: reconnects, wallMs: performance.now() - wall, heapAfter: end.heap });
        child.stop();
        await sleep(500);
      }
    }
    report(`storm-${STORM_CONNECTIONS}x${STORM_ROUNDS}`, 'per reconn', results);
  }
  server.stop();
  if (!flag('tsx')) rmSync(`${outdir}/bursts.${process.pid}.bundle.js`, { force: true });
  console.log('\nsummary\n' + rows.join('\n'));
}

const role = value('role');
const kindArg = value('kind') as Kind | undefined;
const urlArg = value('url');
const main =
  role === 'server' ? serverMain()
  : role === 'client' ? clientMain(kindArg as Kind, urlArg as string)
  : role === 'storm' ? stormMain(kindArg as Kind, urlArg as string, Number(value('connections')))
  : parentMain();
main.catch((error: unknown) => {
  send({ type: 'error', message: String((error as Error).stack ?? error) });
  console.error(error);
  // The parent: its children go with it (they exit when their IPC channel closes).
  process.exit(1);
});
