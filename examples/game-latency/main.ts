/**
 * Game: the API reference's `GameWebSocket`, on socketchart.
 *
 * The hand-rolled class sends a `ping` every 5 s with `setInterval` and computes `Date.now() - pong.timestamp`.
 * Here that loop is the chart's heartbeat (`mode: 'message'`): it measures `conn.rtt`, keeps pongs out of the
 * game's message handlers, and, when no pong (or any message) comes back in time, replaces the dead connection,
 * after which the join is sent again (`onEveryOpen`).
 *
 * Run: npx tsx examples/game-latency/main.ts
 */
import { fileURLToPath } from 'node:url';
import { createConnection, jsonCodec } from '../../src/node.js'; // in an app: 'socketchart/node'
import { router } from '../../src/plugins/router.js'; // in an app: 'socketchart/router'
import { metrics } from '../../src/plugins/metrics.js'; // in an app: 'socketchart/metrics'
import { startGameServer } from './server.js';

type Position = { x: number; y: number };
export type GameOut =
  | { type: 'join'; playerId: string }
  | { type: 'move'; playerId: string; x: number; y: number; timestamp: number }
  | { type: 'ping'; timestamp: number };
export type GameIn =
  | { type: 'game_state'; positions: Record<string, Position> }
  | { type: 'player_move'; playerId: string; x: number; y: number; timestamp: number }
  | { type: 'pong'; timestamp: number };

export function createGameClient(url: string, playerId: string) {
  const conn = createConnection<GameIn, GameOut>(url, {
    codec: jsonCodec(),
    router: router(), // conn.on / conn.once by message type
    metrics: metrics(), // message counts in conn.metrics
    backoff: { initialDelay: 100 },
    // A probe every 100 ms; no answer within 300 ms means the connection is dead. (Games use ~1-5 s.)
    heartbeat: { mode: 'message', interval: 100, timeout: 300, ping: () => JSON.stringify({ type: 'ping', timestamp: Date.now() }) },
  });
  const positions = new Map<string, Position>();
  conn.onEveryOpen(() => conn.send({ type: 'join', playerId }));
  conn.on('game_state', (m) => Object.entries(m.positions).forEach(([id, p]) => positions.set(id, p)));
  conn.on('player_move', (m) => positions.set(m.playerId, { x: m.x, y: m.y }));
  return {
    conn,
    positions,
    sendMove: (x: number, y: number) => conn.send({ type: 'move', playerId, x, y, timestamp: Date.now() }),
    /** What a HUD shows: the heartbeat's last round trip. */
    latency: () => conn.rtt,
  };
}

/** The scripted scenario: two players, moves, latency readings, and a hung server detected by the heartbeat. */
export async function run(log: (line: string) => void = console.log) {
  const server = await startGameServer(25);
  const p1 = createGameClient(server.url, 'p1');
  const p2 = createGameClient(server.url, 'p2');
  // Joined once each has its game_state.
  await Promise.all([p1, p2].map(({ conn }) => new Promise((resolve) => conn.once('game_state', resolve))));

  log('p1 moves three times; p2 sees the moves');
  const moves: Array<[number, number]> = [[1, 2], [3, 5], [8, 13]];
  for (const [x, y] of moves) p1.sendMove(x, y);
  await until(() => p2.positions.get('p1')?.x === 8);
  log(`  p2 sees p1 at ${JSON.stringify(p2.positions.get('p1'))}`);

  await until(() => p1.latency() !== null && p2.latency() !== null);
  const rtt = { p1: p1.latency() as number, p2: p2.latency() as number };
  log(`  latency (server lag 25 ms): p1 ${rtt.p1} ms, p2 ${rtt.p2} ms`);
  // Metrics describe the current socket: read them before the freeze replaces it (a new socket starts with no RTT).
  const p1Metrics = p1.conn.metrics;

  log("the server hangs on p1's socket (still open, answers nothing)");
  const detected = new Promise<string>((resolve) => p1.conn.addEventListener('close', (e) => resolve(e.reason), { once: true }));
  server.freeze('p1');
  const reason = await detected;
  log(`  p1's heartbeat: "${reason}"; now ${p1.conn.state}`);
  await new Promise((resolve) => p1.conn.once('game_state', resolve));
  log(`  p1 is back (${p1.conn.metrics.reconnects} reconnect) and rejoined`);
  p1.sendMove(21, 34);
  await until(() => p2.positions.get('p1')?.x === 21);
  log(`  p2 sees p1 at ${JSON.stringify(p2.positions.get('p1'))}`);

  p1.conn.close();
  p2.conn.close();
  await server.close();
  return { rtt, reason, reconnects: p1.conn.metrics.reconnects, p1SeenByP2: p2.positions.get('p1'), p1Metrics };
}

/** Polls `condition` every frame (~16 ms), as a game loop reads state. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 16));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
