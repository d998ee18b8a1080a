/**
 * attachAckServer with the Redis store vs the memory store, on loopback (issue 13):
 *   - resume latency: `hello` sent -> `welcome` received, for a session holding `HELD` unacknowledged messages
 *     (the replay itself is not waited for), median and p99 over RESUMES resumes;
 *   - per-message server overhead, both directions: MESSAGES client messages acknowledged (each marked in the
 *     store before its ack), and MESSAGES `session.send()` calls delivered (each stored before it is written);
 *     reported as wall time and CPU per message of this process (server and a bare ws client share it) and of
 *     redis-server (INFO cpu).
 * Run: `npx tsx bench/redisStore.ts` (needs redis-server; REDIS_SERVER overrides /usr/bin/redis-server). Prints
 * a table and, with --json, one JSON line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import WebSocket, { WebSocketServer } from 'ws';
import { ACK_PROTOCOL, helloFrame } from '../src/delivery/protocol.js';
import { type AckSession, type AckServerOptions, attachAckServer } from '../src/server/index.js';
import { redisSessionStore } from '../src/server/redis.js';

const RESUMES = Number(process.env.RESUMES ?? 300);
const HELD = Number(process.env.HELD ?? 100);
const MESSAGES = Number(process.env.MESSAGES ?? 20_000);

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function startRedis(): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'socketchart-bench-redis-'));
  const port = await freePort();
  const child = spawn(process.env.REDIS_SERVER ?? '/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const probe = createClient({ url, socket: { reconnectStrategy: false } });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.close();
      return { url, child, dir };
    } catch {
      probe.destroy();
      if (i > 500) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function client(url: string) {
  const ws = new WebSocket(url, [ACK_PROTOCOL]);
  const waiters: Array<{ test: (frame: string) => boolean; resolve: () => void; reject: (error: Error) => void }> = [];
  ws.on('message', (data) => {
    const frame = data.toString();
    for (let i = 0; i < waiters.length; i++) {
      if (waiters[i]!.test(frame)) {
        waiters.splice(i, 1)[0]!.resolve();
        i--;
      }
    }
  });
  // A socket the server closes fails what waits on it (a bench that hangs says nothing).
  let closed: Error | null = null;
  ws.on('close', (code, reason) => {
    closed = new Error(`the server closed the socket: ${code} ${String(reason)}`);
    for (const waiter of waiters.splice(0)) waiter.reject(closed);
  });
  const until = (test: (frame: string) => boolean) =>
    new Promise<void>((resolve, reject) => (closed ? reject(closed) : waiters.push({ test, resolve, reject })));
  return { ws, until, opened: once(ws, 'open') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!;

async function measure(name: string, store: AckServerOptions['store'], redisCpu: () => Promise<number>) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  const sessions = new Map<string, AckSession>();
  // The raw client below writes all MESSAGES at once (a socketchart client holds at most its window of unacknowledged
  // messages): the backlog bound is raised so that it measures the store's cost per message, not the bound (at the
  // default 1 MiB, 20,000 frames waiting for Redis are closed with 1013, each counting 64 bytes: WAITING_FRAME_BYTES).
  const server = attachAckServer(wss, {
    store,
    onMessage: () => {},
    onSession: (s) => sessions.set(s.id, s),
    onError: () => {},
    sessionTtl: 600_000,
    maxUnacked: Infinity,
    maxUnackedBytes: Infinity,
    maxBacklogBytes: 256 * 1024 * 1024,
  });
  // A node with a shared store takes sessions once it listens to its notices.
  await server.ready();

  // Resume latency.
  const resumeMs: number[] = [];
  for (let r = 0; r < RESUMES; r++) {
    const sid = `bench-resume-${name}-${String(r).padStart(6, '0')}`;
    const first = client(url);
    await first.opened;
    first.ws.send(helloFrame(sid, 0, 1));
    await first.until((f) => f.startsWith('{"type":"welcome"'));
    const session = sessions.get(sid)!;
    for (let i = 0; i < HELD; i++) session.send(`held-${i}`);
    await first.until((f) => f.startsWith(`${HELD}:`));
    first.ws.terminate();
    while (session.connected) await new Promise((resolve) => setImmediate(resolve));
    const second = client(url);
    await second.opened;
    const t0 = performance.now();
    second.ws.send(helloFrame(sid, 0, 1));
    await second.until((f) => f.startsWith('{"type":"welcome"'));
    resumeMs.push(performance.now() - t0);
    second.ws.terminate();
  }

  // Per message, client -> server (processed, marked, acknowledged) and server -> client (stored, written).
  const c = client(url);
  await c.opened;
  const sid = `bench-throughput-${name}-000001`;
  c.ws.send(helloFrame(sid, 0, 1));
  await c.until((f) => f.startsWith('{"type":"welcome"'));
  const session = sessions.get(sid)!;
  const cpu0 = process.cpuUsage();
  const redis0 = await redisCpu();
  let t0 = performance.now();
  const acked = c.until((f) => f === `{"type":"ack","ack":${MESSAGES}}`);
  for (let i = 1; i <= MESSAGES; i++) c.ws.send(`${i}:m${i}`);
  await acked;
  const inMs = performance.now() - t0;
  const cpu1 = process.cpuUsage(cpu0);
  const redis1 = await redisCpu();
  t0 = performance.now();
  const delivered = c.until((f) => f.startsWith(`${MESSAGES}:`));
  for (let i = 1; i <= MESSAGES; i++) session.send(`s${i}`);
  await delivered;
  const outMs = performance.now() - t0;
  const cpu2 = process.cpuUsage(cpu0);
  const redis2 = await redisCpu();
  c.ws.terminate();
  server.close();
  for (const ws of wss.clients) ws.terminate();
  await new Promise((r) => wss.close(r));
  const perMsg = (us: number) => Number((us / MESSAGES).toFixed(2));
  return {
    store: name,
    resumeMedianMs: Number(median(resumeMs).toFixed(3)),
    resumeP99Ms: Number(p99(resumeMs).toFixed(3)),
    inboundUsPerMsgWall: perMsg(inMs * 1000),
    inboundUsPerMsgNodeCpu: perMsg(cpu1.user + cpu1.system),
    inboundUsPerMsgRedisCpu: perMsg(redis1 - redis0),
    outboundUsPerMsgWall: perMsg(outMs * 1000),
    outboundUsPerMsgNodeCpu: perMsg(cpu2.user + cpu2.system - cpu1.user - cpu1.system),
    outboundUsPerMsgRedisCpu: perMsg(redis2 - redis1),
  };
}

const redis = await startRedis();
const redisClient = createClient({ url: redis.url, disableOfflineQueue: true });
redisClient.on('error', () => {});
await redisClient.connect();
const redisCpu = async () => {
  const info = await redisClient.info('cpu');
  const field = (name: string) => Number(/^(?:used_cpu_)?(\w+):([\d.]+)/m.test(info) ? new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0 : 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
};
try {
  const rows = [await measure('memory', undefined, async () => 0), await measure('redis', redisSessionStore({ client: redisClient, prefix: 'bench:' }), redisCpu)];
  if (process.argv.includes('--json')) console.log(JSON.stringify({ date: new Date().toISOString(), resumes: RESUMES, held: HELD, messages: MESSAGES, rows }));
  else console.table(rows);
} finally {
  await redisClient.close();
  redis.child.kill('SIGKILL');
  rmSync(redis.dir, { recursive: true, force: true });
}
