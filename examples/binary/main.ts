/**
 * Binary messages: the API reference's DataView position updates, on socketchart.
 *
 * `binaryType: 'arraybuffer'` (kept across reconnects) makes frames arrive as ArrayBuffers; a small codec
 * (protocol.ts) turns them into typed objects, so `on('position', p => p.x)` works as for JSON, and a malformed
 * frame becomes an `invalid-message` event instead of a RangeError in a handler.
 *
 * Run: npx tsx examples/binary/main.ts
 */
import { fileURLToPath } from 'node:url';
import { createConnection } from '../../src/node.js'; // in an app: 'socketchart/node'
import { router } from '../../src/plugins/router.js'; // in an app: 'socketchart/router'
import { metrics } from '../../src/plugins/metrics.js'; // in an app: 'socketchart/metrics'
import { type GameMessage, gameCodec } from './protocol.js';
import { startBinaryServer } from './server.js';

/** The scripted scenario: positions out and back, a greeting packet per connection, a drop mid-game. */
export async function run(log: (line: string) => void = console.log) {
  const server = await startBinaryServer();
  const conn = createConnection<GameMessage, GameMessage>(server.url, {
    binaryType: 'arraybuffer',
    codec: gameCodec,
    router: router(), // conn.on(type, handler)
    metrics: metrics(), // conn.metrics.bytesOut
    backoff: { initialDelay: 100 },
  });
  const positions: Array<[number, number]> = [];
  const packets: number[][] = [];
  conn.on('position', (p) => {
    positions.push([p.x, p.y]);
    log(`  position (${p.x}, ${p.y})`);
  });
  conn.on('packet', (p) => {
    packets.push([...p.bytes]);
    log(`  packet [${[...p.bytes].map((b) => b.toString(16)).join(' ')}] (${p.bytes.length} bytes)`);
  });
  const received = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (positions.length < count) return;
        conn.off('position', check);
        resolve();
      };
      conn.on('position', check);
    });

  log('moving: the server answers with authoritative positions (clamped to 0..100)');
  for (const [x, y] of [[1.5, 2.25], [50, 75.5], [150, -3]] as const) conn.send({ type: 'position', x, y });
  await received(3);

  log('the server drops the connection; a move made while reconnecting is queued');
  const lost = new Promise((resolve) => conn.addEventListener('close', resolve, { once: true }));
  server.dropAll();
  await lost;
  conn.send({ type: 'position', x: 10.25, y: 20.5 });
  log(`  queued ${conn.metrics.queueBytes} bytes while ${conn.state}`);
  await received(4);

  conn.close();
  await server.close();
  return { positions, packets, binaryType: conn.binaryType, bytesOut: conn.metrics.bytesOut };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
