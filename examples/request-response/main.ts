/**
 * Request/response: the API reference's `AsyncWebSocket`, on socketchart.
 *
 * `AsyncWebSocket.request()` sends, then resolves with whatever message arrives next: two requests at once get
 * each other's answers, and a lost connection leaves the promise hanging forever. `conn.request()` puts an `id`
 * on the message and resolves with the reply carrying that `id`; it rejects after `timeout` ms; and a request in
 * flight when the connection drops is sent again after the reconnect (`requests.onReconnect: 'resend'`).
 *
 * Run: npx tsx examples/request-response/main.ts
 */
import { fileURLToPath } from 'node:url';
import { createConnection, isSocketchartError, jsonCodec } from '../../src/node.js'; // in an app: 'socketchart/node'
import { requests } from '../../src/plugins/requests.js'; // in an app: 'socketchart/requests'
import { startApiServer } from './server.js';

export type Request =
  | { type: 'getUser'; userId: number }
  | { type: 'search'; query: string }
  | { type: 'generateReport' }
  | { type: 'getBalance'; account: string };
export type Reply = { id: string; type: 'result'; result: unknown };

/** The scripted scenario: a request, two concurrent ones answered out of order, a timeout, and a reconnect. */
export async function run(log: (line: string) => void = console.log) {
  const server = await startApiServer();
  const conn = createConnection<Reply, Request>(server.url, {
    codec: jsonCodec(),
    requests: requests({ timeout: 2_000 }), // the default for every request; each may pass its own
    backoff: { initialDelay: 100 },
  });
  await conn.opened({ timeout: 2_000 });

  const user = await conn.request({ type: 'getUser', userId: 1 });
  log(`getUser -> ${JSON.stringify(user.result)}`);

  // The slow search is answered after the fast getUser: each promise still gets its own reply.
  const [search, other] = await Promise.all([
    conn.request({ type: 'search', query: 'statecharts' }),
    conn.request({ type: 'getUser', userId: 2 }),
  ]);
  log(`search -> ${JSON.stringify(search.result)}, getUser -> ${JSON.stringify(other.result)}`);

  let timeoutCode = '';
  try {
    await conn.request({ type: 'generateReport' }, { timeout: 200 });
  } catch (error) {
    timeoutCode = isSocketchartError(error) ? error.code : String(error);
    log(`generateReport -> rejected: ${timeoutCode}`);
  }

  log('getBalance: the server crashes the connection before answering...');
  conn.addEventListener('close', (e) => log(`  close ${e.code} (reconnecting)`), { once: true });
  conn.addEventListener('open', () => log('  open again: the request is sent again'), { once: true });
  const balance = await conn.request({ type: 'getBalance', account: 'acme' });
  log(`getBalance -> ${JSON.stringify(balance.result)}`);

  conn.close();
  await server.close();
  log(`the server received: ${server.received.join(', ')}`);
  return {
    results: [user, search, other, balance].map((r) => r.result),
    timeoutCode,
    received: server.received,
    reconnects: conn.metrics.reconnects,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
