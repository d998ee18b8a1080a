/**
 * Scenario child: connections of one kind, with each library's defaults, for the figures that are about failures
 * rather than speed. Bundled by run.ts; one mode per process:
 *
 *   reconnect <kind> <url> <connections>
 *       Opens the connections and says `ready`. The parent has the server drop them all at once and sends
 *       `measure` with the time of the drop; the reply gives, per connection, the ms until its next open.
 *   blackhole <kind> <targetPort> <connections> <capMs> <settleMs>
 *       Opens the connections through a relay (relay.ts) in this process, waits `settleMs` after the last open,
 *       turns the relay into a blackhole, and reports per connection the ms until the client noticed (its socket
 *       closed / socket.io `disconnect`), or null if it had not after `capMs`. Then exits.
 *   kill <kind> <url> <messages> <rate>
 *       One connection. On `go`, sends messages `m0`..`m<n-1>` at about `rate` per ms, then says `sent`. The
 *       server counts what arrives; `drops` and `stop` report the messages the client said it could not deliver.
 *
 * Times are on the shared wall clock (`wallNow`), so the server's drop and this process's opens compare.
 */
import { type BenchClient, openClient } from './clients.js';
import { type ClientKind, type KillKind, type ScenarioCommand, errorMessage, send as reply, sleep, urlFor, wallNow } from './common.js';
import { createBlackholeRelay } from './relay.js';

const [mode, kindArg, ...rest] = process.argv.slice(2);
const kind = kindArg as ClientKind | KillKind;

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(2);
  }
  return true;
}

/** `count` connections that record the wall-clock time of every open and every drop they see. */
function openMany(url: string, count: number) {
  const opens: number[][] = [];
  const downs: number[][] = [];
  let drops = 0;
  const dropReasons: Record<string, number> = {};
  /** Indices `i` of the kill scenario's `m<i>` messages reported dropped (compared with the server's arrivals). */
  const droppedIds: number[] = [];
  const clients: BenchClient[] = [];
  for (let i = 0; i < count; i++) {
    const myOpens: number[] = [];
    const myDowns: number[] = [];
    opens.push(myOpens);
    downs.push(myDowns);
    clients.push(
      openClient(kind, url, {
        onOpen: () => void myOpens.push(wallNow()),
        onDown: () => void myDowns.push(wallNow()),
        onDrop: (reason, data) => {
          drops++;
          const text = String(data);
          if (text[0] === 'm') droppedIds.push(Number(text.slice(1)));
          dropReasons[reason] = (dropReasons[reason] ?? 0) + 1;
        },
      }),
    );
  }
  return {
    clients,
    opens,
    downs,
    drops: () => drops,
    dropReasons,
    droppedIds,
    allOpen: () => clients.every((client, i) => (opens[i] as number[]).length > 0 && client.upgraded()),
  };
}

function firstAfter(times: number[], at: number): number | null {
  const t = times.find((time) => time > at);
  return t === undefined ? null : t - at;
}

async function finish(set: { clients: BenchClient[]; drops: () => number; dropReasons: Record<string, number>; droppedIds: number[] }): Promise<void> {
  const state = set.clients[0]?.describe() ?? '';
  await Promise.all(set.clients.map((client) => client.close(1_000)));
  reply({ type: 'stopped', drops: set.drops(), dropReasons: set.dropReasons, droppedIds: set.droppedIds, state });
  if (process.connected) process.disconnect?.();
  // Whatever a library keeps running after close (timers, half-closed sockets through a blackhole) ends here.
  setTimeout(() => process.exit(0), 100);
}

async function reconnectMode(url: string, count: number): Promise<void> {
  const set = openMany(url, count);
  if (!(await until(set.allOpen, 30_000))) throw new Error(`${kind}: not all ${count} connections opened`);
  process.on('message', (command: ScenarioCommand) => {
    if (command.type === 'measure') {
      void until(() => set.opens.every((times) => firstAfter(times, command.at) !== null), command.timeoutMs).then(() =>
        reply({
          type: 'reconnected',
          reopenMs: set.opens.map((times) => firstAfter(times, command.at)),
          noticeMs: set.downs.map((times) => firstAfter(times, command.at)),
        }),
      );
    } else if (command.type === 'stop') {
      void finish(set);
    }
  });
  reply({ type: 'ready', connections: count });
}

async function blackholeMode(targetPort: number, count: number, capMs: number, settleMs: number): Promise<void> {
  const relay = await createBlackholeRelay(targetPort);
  const set = openMany(urlFor(kind, relay.port), count);
  if (!(await until(set.allOpen, 30_000))) throw new Error(`${kind}: not all ${count} connections opened`);
  reply({ type: 'ready', connections: count });
  await sleep(settleMs);
  relay.blackhole();
  const at = wallNow();
  await until(() => set.downs.every((times) => firstAfter(times, at) !== null), capMs);
  reply({ type: 'blackhole', connections: count, detectMs: set.downs.map((times) => firstAfter(times, at)), capMs });
  // Closing handshakes cannot complete through a blackhole: give them no time, then cut everything.
  for (const client of set.clients) void client.close(0);
  relay.close();
  if (process.connected) process.disconnect?.();
  setTimeout(() => process.exit(0), 100);
}

/** Calls `send(i)` for i = 0..n-1 at about `rate` per ms (in batches: timers have 1 ms granularity). */
function pace(n: number, rate: number, send: (i: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    let i = 0;
    const tick = () => {
      const due = Math.min(n, Math.floor((performance.now() - start) * rate) + 1);
      while (i < due) send(i++);
      if (i >= n) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
}

async function killMode(url: string, messages: number, rate: number): Promise<void> {
  const set = openMany(url, 1);
  if (!(await until(set.allOpen, 30_000))) throw new Error(`${kind}: did not open`);
  const client = set.clients[0] as BenchClient;
  process.on('message', (command: ScenarioCommand) => {
    if (command.type === 'go') {
      const start = performance.now();
      void pace(messages, rate, (i) => client.send(`m${i}`)).then(() =>
        reply({ type: 'sent', sent: messages, ms: performance.now() - start }),
      );
    } else if (command.type === 'drops') {
      reply({ type: 'drops', drops: set.drops(), droppedIds: set.droppedIds, opens: (set.opens[0] as number[]).length, state: client.describe() });
    } else if (command.type === 'stop') {
      void finish(set);
    }
  });
  reply({ type: 'ready', connections: 1 });
}

async function main(): Promise<void> {
  process.on('disconnect', () => setTimeout(() => process.exit(0), 100));
  switch (mode) {
    case 'reconnect':
      return reconnectMode(rest[0] as string, Number(rest[1]));
    case 'blackhole':
      return blackholeMode(Number(rest[0]), Number(rest[1]), Number(rest[2]), Number(rest[3]));
    case 'kill':
      return killMode(rest[0] as string, Number(rest[1]), Number(rest[2]));
    default:
      throw new Error('usage: scenario-client.ts reconnect|blackhole|kill <kind> ...');
  }
}

main().catch((error: unknown) => {
  reply({ type: 'error', message: errorMessage(error) });
  process.exitCode = 1;
  if (process.connected) process.disconnect?.();
  setTimeout(() => process.exit(1), 100);
});
