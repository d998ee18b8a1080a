/**
 * CPU child: one client of one kind, kept open for the whole benchmark. The parent asks it for runs over IPC
 * (alternating with the other kinds' children), and it answers with the process CPU time (user + system) the run
 * took, and for ping-pong runs the median and p99 of the per-message round trips.
 *
 *   node bench/.build/cpu-client.bundle.js <kind> <url> <warmupMessages>   (bundled by run.ts; or --import tsx on the .ts)
 *
 * A run is a sliding window: `window` messages are put in flight, and every echo that comes back sends the next one
 * until `messages` have been echoed. `window: 1` is strict ping-pong.
 */
import { type BenchClient, openClient } from './clients.js';
import { CLIENT_KINDS, type ClientKind, type CpuCommand, PAYLOAD, errorMessage, quantile, send as reply, sleep } from './common.js';

const [kindArg, url, warmupArg] = process.argv.slice(2);
const kind = kindArg as ClientKind;
if (!CLIENT_KINDS.includes(kind) || !url) throw new Error(`usage: cpu-client.ts <${CLIENT_KINDS.join('|')}> <url> <warmup>`);
const warmupMessages = Number(warmupArg ?? 20_000);

/** Set per run: what to do with one echoed message. */
let onEcho: (data: unknown) => void = () => {};
let client: BenchClient;

async function open(): Promise<void> {
  let opened = false;
  client = openClient(kind, url as string, {
    onOpen: () => void (opened = true),
    onMessage: (data) => onEcho(data),
  });
  const deadline = Date.now() + 10_000;
  // socket.io starts on HTTP long-polling (its default) and upgrades to WebSocket; measure the upgraded connection.
  while (!opened || !client.upgraded()) {
    if (Date.now() > deadline) throw new Error(`${kind}: not open within 10 s`);
    await sleep(5);
  }
}

interface RunResult {
  userUs: number;
  systemUs: number;
  wallMs: number;
  rttMedianUs?: number;
  rttP99Us?: number;
}

/** Echo `messages` messages with `window` in flight; resolves with the CPU time spent. */
function run(messages: number, window: number): Promise<RunResult> {
  // Ping-pong: every round trip is timed (two performance.now() calls per message, the same for every kind).
  const rtts = window === 1 ? new Float64Array(messages) : null;
  return new Promise((resolve, reject) => {
    let sent = 0;
    let received = 0;
    let sentAt = 0;
    const wallStart = performance.now();
    const cpuStart = process.cpuUsage();
    onEcho = (data) => {
      if (typeof data !== 'string' || data.length !== 64) {
        reject(new Error(`bad echo: ${String(data)}`));
        return;
      }
      if (rtts) rtts[received] = performance.now() - sentAt;
      received++;
      if (received === messages) {
        const cpu = process.cpuUsage(cpuStart);
        const wallMs = performance.now() - wallStart;
        onEcho = () => {};
        const result: RunResult = { userUs: cpu.user, systemUs: cpu.system, wallMs };
        if (rtts) {
          const list = Array.from(rtts);
          result.rttMedianUs = quantile(list, 0.5) * 1000;
          result.rttP99Us = quantile(list, 0.99) * 1000;
        }
        resolve(result);
      } else if (sent < messages) {
        sent++;
        if (rtts) sentAt = performance.now();
        client.send(PAYLOAD);
      }
    };
    const initial = Math.min(window, messages);
    if (rtts) sentAt = performance.now();
    for (let i = 0; i < initial; i++) {
      sent++;
      client.send(PAYLOAD);
    }
  });
}

async function main(): Promise<void> {
  await open();
  // Warm up both workloads so the measured runs see optimized code on both sides.
  await run(warmupMessages, 64);
  await run(Math.ceil(warmupMessages / 4), 1);
  process.on('message', (command: CpuCommand) => {
    if (command.type === 'run') {
      run(command.messages, command.window).then(
        (result) => reply({ type: 'result', messages: command.messages, window: command.window, ...result }),
        (error: unknown) => reply({ type: 'error', message: errorMessage(error) }),
      );
    } else if (command.type === 'stop') {
      void client.close(2_000).then(() => {
        reply({ type: 'stopped' });
        process.disconnect?.();
        // Some libraries keep timers (reconnect, heartbeat) for a while after close; nothing is left to do here.
        setTimeout(() => process.exit(0), 200).unref();
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'ready' });
}

main().catch((error: unknown) => {
  reply({ type: 'error', message: errorMessage(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
