/**
 * Rate-limited sender: the API reference's `RateLimitedWebSocket`, on socketchart.
 *
 * The hand-rolled class refuses (drops) every message over its limit: a burst of 30 keystrokes loses 20 of them.
 * `flow.rateLimit` is a token bucket in front of the socket: up to `burst` messages go at once, then `perSecond`
 * on average; the excess waits in the outbound queue (bounded by `queue`) and goes out in order as tokens come.
 * The queue outlives the socket, so a drop in the middle loses nothing that was still waiting. What was already
 * written when the server dropped the connection is reported as 'unconfirmed' (the server never confirmed it; here
 * it did arrive).
 *
 * Run: npx tsx examples/rate-limited/main.ts
 */
import { fileURLToPath } from 'node:url';
import { createConnection } from '../../src/node.js'; // in an app: 'socketchart/node'
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server

export const LIMIT = { perSecond: 20, burst: 5 };

/** The scripted scenario: 30 messages at once through a 20/s limit, with a server drop after the 10th. */
export async function run(log: (line: string) => void = console.log) {
  const arrivals: Array<{ text: string; at: number }> = [];
  let start = 0;
  let allArrived = () => {};
  const server = await createTestServer({
    onMessage(socket, data) {
      arrivals.push({ text: String(data), at: Date.now() - start });
      if (arrivals.length === 10) {
        log('  (the server drops the connection after the 10th message)');
        socket.terminate();
      }
      if (arrivals.length === 30) allArrived();
    },
  });
  const conn = createConnection(server.url(), { flow: { rateLimit: LIMIT }, backoff: { initialDelay: 50 } });
  const drops: string[] = [];
  const unconfirmed: string[] = [];
  conn.addEventListener('drop', (e) => (e.reason === 'unconfirmed' ? unconfirmed : drops).push(String(e.data)));
  await conn.opened();

  log(`sending 30 messages at once through a limit of ${LIMIT.perSecond}/s (burst ${LIMIT.burst})`);
  start = Date.now();
  for (let i = 1; i <= 30; i++) conn.send(`msg ${i}`);
  log(`  send() returned at once; ${conn.metrics.queueLength} messages wait for tokens`);
  await new Promise<void>((resolve) => (allArrived = resolve));
  const elapsed = arrivals[29]!.at;

  const perTenth = new Map<number, number>();
  for (const { at } of arrivals) perTenth.set(Math.floor(at / 100), (perTenth.get(Math.floor(at / 100)) ?? 0) + 1);
  log(`  arrivals per 100 ms: ${[...perTenth].map(([t, n]) => `${t * 100}ms:${n}`).join(' ')}`);
  log(`  all 30 arrived in order after ${elapsed} ms (${conn.metrics.reconnects} reconnect, ${drops.length} dropped)`);
  log(`  ${unconfirmed.length} written before the drop were reported unconfirmed (no pong had confirmed them; they arrived)`);

  conn.close();
  await server.close();
  return { received: arrivals.map((a) => a.text), elapsed, drops, unconfirmed, reconnects: conn.metrics.reconnects };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
