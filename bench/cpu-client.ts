/**
 * CPU child: one client of one kind, kept open for the whole benchmark. The parent asks it for runs over IPC
 * (alternating with the other kind's child), and it answers with the process CPU time (user + system) the run took.
 *
 *   node bench/.build/cpu-client.bundle.js <ws|socketchart> <url> <warmupMessages>   (bundled by run.ts; or --import tsx on the .ts)
 *
 * A run is a sliding window: `window` messages are put in flight, and every echo that comes back sends the next one
 * until `messages` have been echoed. `window: 1` is strict ping-pong.
 */
import WebSocket from 'ws';
import { createConnection } from '../src/node.js';
import { type ClientKind, type CpuCommand, PAYLOAD, errorMessage, send as reply } from './common.js';

const [kindArg, url, warmupArg] = process.argv.slice(2);
const kind = kindArg as ClientKind;
if ((kind !== 'ws' && kind !== 'socketchart') || !url) throw new Error('usage: cpu-client.ts <ws|socketchart> <url> <warmup>');
const warmupMessages = Number(warmupArg ?? 20_000);

/** Set per run: what to do with one echoed message. */
let onEcho: (data: unknown) => void = () => {};
let sendPayload: (data: string) => void;
let closeClient: () => Promise<void>;

async function open(): Promise<void> {
  if (kind === 'ws') {
    // Same options as socketchart's node transport (it turns permessage-deflate off; the server has it off anyway).
    const ws = new WebSocket(url as string, { perMessageDeflate: false });
    // What a WebSocket user gets: text as a string, binary as a Buffer.
    ws.on('message', (data: Buffer, isBinary: boolean) => onEcho(isBinary ? data : data.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    sendPayload = (data) => ws.send(data);
    closeClient = () =>
      new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
      });
  } else {
    const connection = createConnection<string>(url as string);
    connection.onmessage = (event) => onEcho(event.data);
    await connection.opened({ timeout: 10_000 });
    sendPayload = (data) => connection.send(data);
    closeClient = () =>
      new Promise<void>((resolve) => {
        connection.addEventListener('close', (event) => {
          if (event.closedBy) resolve();
        });
        connection.close(1000);
      });
  }
}

/** Echo `messages` messages with `window` in flight; resolves with the CPU time spent. */
function run(messages: number, window: number): Promise<{ userUs: number; systemUs: number; wallMs: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let received = 0;
    const wallStart = performance.now();
    const cpuStart = process.cpuUsage();
    onEcho = (data) => {
      if ((data as string).length !== 64) {
        reject(new Error(`bad echo: ${String(data)}`));
        return;
      }
      received++;
      if (received === messages) {
        const cpu = process.cpuUsage(cpuStart);
        const wallMs = performance.now() - wallStart;
        onEcho = () => {};
        resolve({ userUs: cpu.user, systemUs: cpu.system, wallMs });
      } else if (sent < messages) {
        sent++;
        sendPayload(PAYLOAD);
      }
    };
    const initial = Math.min(window, messages);
    for (let i = 0; i < initial; i++) {
      sent++;
      sendPayload(PAYLOAD);
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
      closeClient().then(() => {
        reply({ type: 'stopped' });
        process.disconnect?.();
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
